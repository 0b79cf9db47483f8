"""The demo's financing story: planted offers' APRs and the cash-low week are recovered.

The truths are computed here without the financing package: the term loan's APR from
its terms with numpy-financial, the cash advance's APR from the demo's own weekly sales
(plain SQL) repeated a year ahead at their year-on-year growth, and the week of the cash
low from the payable's due date (manifest).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy_financial as npf
import pytest
from typer.testing import CliRunner

from levelfield import financing, open_workspace
from levelfield.cli import app


@pytest.fixture(scope="module")
def story(demo_dir: Path) -> tuple[dict[str, Any], financing.FinancingResult, np.ndarray]:
    truth = json.loads((demo_dir / "manifest.json").read_text())["financing"]
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        res = financing.analyze(ws, n_futures=1_000)
        weekly = ws.con.execute(
            """SELECT sum(CAST(net_revenue_base AS DOUBLE)) FROM order_revenue
               WHERE ordered_at >= TIMESTAMP '2024-01-01' AND ordered_at < TIMESTAMP '2025-12-29'
               GROUP BY date_trunc('week', ordered_at) ORDER BY date_trunc('week', ordered_at)"""
        ).fetchall()
    return truth, res, np.array([w[0] for w in weekly])


def _offer(truth: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(o for o in truth["offers"] if o["kind"] == kind)


def test_term_loan_apr_matches_numpy_financial_on_the_planted_terms(story: Any) -> None:
    truth, res, _ = story
    loan = _offer(truth, "term_loan")
    n, r = loan["term_months"], loan["annual_rate"] / 12
    payment = loan["amount"] * r / (1 - (1 + r) ** -n)
    expected = 12 * npf.rate(n, -payment, loan["amount"] - loan["fees"], 0)
    row = res.offers.set_index("offer_id").loc[loan["offer_id"]]
    assert row["apr_median"] == pytest.approx(expected, rel=1e-6)
    assert row["apr_median"] > loan["annual_rate"]  # the fee withheld raises the APR


def test_cash_advance_apr_matches_the_demo_sales_a_year_ahead(story: Any) -> None:
    truth, res, weekly = story
    mca = _offer(truth, "merchant_cash_advance")
    assert weekly.size == 104
    growth = weekly[52:].sum() / weekly[:52].sum()
    sales = np.tile(weekly[52:] * growth, 2)
    total = mca["amount"] * mca["factor_rate"]
    paid = np.minimum(np.cumsum(sales * mca["remittance_share"] * mca["card_share"]), total)
    pay = np.diff(paid, prepend=0.0)
    pay = pay[: int(np.argmax(paid >= total - 1e-6)) + 1]
    expected = 52 * npf.irr(np.r_[-(mca["amount"] - mca["fees"]), pay])
    row = res.offers.set_index("offer_id").loc[mca["offer_id"]]
    assert row["apr_p05"] <= expected <= row["apr_p95"]
    assert row["apr_median"] == pytest.approx(expected, rel=0.10)
    assert abs(row["weeks_to_repay"] - pay.size) <= 4
    # Ranked by true cost: the term loan first, the advance far dearer.
    assert res.offers["offer_id"].tolist() == [
        _offer(truth, "term_loan")["offer_id"],
        mca["offer_id"],
    ]


def test_cash_low_week_is_the_planted_one_and_either_offer_covers_it(story: Any) -> None:
    truth, res, _ = story
    assert res.forecast_start == truth["forecast_start"]
    assert res.cash.cash_low_week == truth["cash_low_week"]
    assert res.cash.lowest_week == truth["cash_low_week"]
    week = truth["cash_low_week"]
    due = dt.date.fromisoformat(truth["payables"][0]["due"])
    assert dt.date.fromisoformat(res.week_starts()[week - 1]) <= due
    assert res.cash.payables[week - 1] == truth["payables"][0]["amount"]
    # Before the bill the balance stays above the buffer even in the P10 future.
    assert (res.cash.cash_p10[: week - 1] > res.cash.buffer).all()
    assert res.offers["cash_low_week_with"].isna().all()
    assert res.tornado["driver"].iloc[0] == "sales"
    f = next(f for f in res.findings() if f.metric == "financing.cash_low_week")
    assert f.value == week and f.context["week_starting"] == res.week_starts()[week - 1]


def test_slow_season_is_the_planted_january_to_march_dip(story: Any, demo_dir: Path) -> None:
    truth, res, _ = story
    assert truth["seasonal_dip"]["slowest_month"] == 2
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        hist = financing.weekly_sales(ws)
    offset = financing.slow_season_offset(hist.sales)
    assert offset is not None
    start = hist.last_week + dt.timedelta(days=7 * (offset + 1))
    mid = start + dt.timedelta(weeks=6)
    assert mid.month in truth["seasonal_dip"]["months"], start
    linked = next(f for f in res.findings() if f.metric == "financing.sales_linked_apr")
    assert linked.context["alt_offer_id"] == _offer(truth, "term_loan")["offer_id"]
    assert linked.context["saving"] > 0


def test_cli_analyze_financing_on_the_demo(demo_dir: Path) -> None:
    out = CliRunner().invoke(
        app, ["analyze", "financing", "--workspace", str(demo_dir / "levelfield.duckdb")]
    )
    assert out.exit_code == 0, out.output
    week = json.loads((demo_dir / "manifest.json").read_text())["financing"]["cash_low_week"]
    text = " ".join(out.output.replace("\u2502", " ").split())
    assert text.index("TL-BLUERIDGE") < text.index("MCA-QUICKFUND")
    assert "90 % band" in text and f"13-week cash: week {week} " in text


def test_cash_backtest_on_the_demo_beats_the_seasonal_naive_forecast(story: Any) -> None:
    """Issue 23 item 2: the 13-week backtest (forecast the last 13 weeks from the weeks
    before them) on the demo's planted sales, against the plainest honest forecast: the
    same weeks a year earlier, scaled by the year-on-year growth."""
    _truth, res, weekly = story
    actual = weekly[-13:]
    growth = weekly[-52:-13].sum() / weekly[-104:-65].sum()
    naive = weekly[-65:-52] * growth
    naive_mape = float(np.mean(np.abs(actual - naive) / actual))
    assert res.backtest_mape is not None
    assert res.backtest_mape < 0.15
    assert res.backtest_mape <= naive_mape + 0.02, (res.backtest_mape, naive_mape)
