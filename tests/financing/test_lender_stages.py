"""The stages of ``lender_metrics`` tested alone (pure arithmetic on given numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from levelfield.financing._analysis import _coverage_rows, _margin_rows, _revenue_rows


def _by_metric(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["metric"]): r for r in rows}


def test_coverage_historical_and_pro_forma() -> None:
    rows = _by_metric(
        _coverage_rows(noi=30_000.0, existing_service=10_000.0, offer_annual_payments=5_000.0)
    )
    assert rows["dscr_historical"]["value"] == pytest.approx(3.0)
    assert rows["dscr_with_offer"]["value"] == pytest.approx(2.0)
    assert rows["dscr_with_offer"]["status"] == "passes"  # 2.0 >= 1.25
    tight = _by_metric(
        _coverage_rows(noi=10_000.0, existing_service=4_000.0, offer_annual_payments=6_000.0)
    )
    assert tight["dscr_with_offer"]["value"] == pytest.approx(1.0)
    assert tight["dscr_with_offer"]["status"] == "fails"


def test_coverage_without_debt_is_not_known() -> None:
    rows = _by_metric(_coverage_rows(noi=30_000.0, existing_service=0.0, offer_annual_payments=0.0))
    assert rows["dscr_historical"]["value"] is None
    assert rows["dscr_historical"]["status"] == "not known"
    assert "no debt service recorded" in str(rows["dscr_historical"]["label"])
    assert rows["dscr_with_offer"]["status"] == "not known"


def test_margin_and_runway() -> None:
    rows = _by_metric(
        _margin_rows(noi=-5_000.0, annual_sales=100_000.0, monthly_costs=4_000.0, cash=10_000)
    )
    assert rows["operating_margin"]["value"] == pytest.approx(-0.05)
    assert rows["operating_margin"]["status"] == "fails"
    assert rows["runway_months"]["value"] == pytest.approx(2.5)
    assert rows["runway_months"]["status"] == "fails"  # under three months
    none = _by_metric(_margin_rows(noi=1.0, annual_sales=0.0, monthly_costs=0.0, cash=None))
    assert none["operating_margin"]["value"] is None and none["runway_months"]["value"] is None


def test_revenue_trend_needs_two_years_and_volatility_of_four_week_sums() -> None:
    flat = np.full(104, 100.0)
    flat[52:] = 110.0  # +10 % on the year before
    rows = _by_metric(_revenue_rows(flat))
    assert rows["revenue_trend"]["value"] == pytest.approx(0.10)
    assert rows["revenue_volatility"]["value"] == pytest.approx(0.0)
    short = _by_metric(_revenue_rows(np.full(60, 100.0)))
    assert short["revenue_trend"]["value"] is None
    swing = np.tile([0.0, 0.0, 0.0, 0.0, 200.0, 200.0, 200.0, 200.0], 7)[:52]
    sums = np.add.reduceat(swing, np.arange(0, 52, 4))
    cv = _by_metric(_revenue_rows(swing))["revenue_volatility"]
    assert cv["value"] == pytest.approx(np.std(sums) / np.mean(sums))
    assert cv["status"] == "fails"
