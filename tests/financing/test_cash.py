"""The 13-week cash forecast: payables, debt service, credit taken, drivers (tornado)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from levelfield.errors import DataError
from levelfield.financing import (
    CreditOffer,
    cash_forecast,
    cash_tornado,
    read_payables,
    weekly_payments,
)
from levelfield.workspace import Workspace

FLAT = np.full(130, 10_000.0)


def test_payable_due_in_week_six_is_the_first_week_below_the_buffer() -> None:
    payables = np.zeros(13)
    payables[5] = 50_000.0
    c = cash_forecast(FLAT, 6_000.0, 60_000.0, variable_share=0.3, payables=payables, n_futures=300)
    # Net 10,000 * 0.7 - 6,000 = +1,000 a week: 66,000 before the payable, 16,000 after;
    # the buffer is two weeks of regular payments, 2 * (6,000 + 3,000) = 18,000.
    assert c.buffer == pytest.approx(18_000.0, rel=0.02)
    assert c.cash_low_week == 6
    assert c.lowest_week == 6
    assert c.cash_p50[5] == pytest.approx(16_000.0, rel=0.05)
    assert c.payments[5] == pytest.approx(9_000 + 50_000, rel=0.01)
    assert np.all(c.cash_p10 <= c.cash_p50) and np.all(c.cash_p50 <= c.cash_p90)


def test_debt_service_lowers_every_week_and_credit_taken_lifts_the_low() -> None:
    base = cash_forecast(FLAT, 9_000.0, 20_000.0, n_futures=300)
    with_debt = cash_forecast(
        FLAT, 9_000.0, 20_000.0, debt_service=np.full(13, 500.0), n_futures=300
    )
    assert with_debt.cash_p50[-1] == pytest.approx(base.cash_p50[-1] - 13 * 500, rel=0.01)
    payables = np.zeros(13)
    payables[2] = 40_000.0
    c = cash_forecast(FLAT, 9_000.0, 20_000.0, payables=payables, n_futures=300)
    assert c.cash_low_week == 3
    loan = CreditOffer("TL", "term_loan", 60_000.0, annual_rate=0.10, term_months=36)
    pay = weekly_payments(loan, c.receipts_paths)
    p10, week = c.with_credit(loan.amount_financed, pay)
    assert week is None and p10.min() > c.buffer


def test_weekly_payments_place_monthly_instalments_and_cap_remittances() -> None:
    loan = CreditOffer("TL", "term_loan", 12_000.0, annual_rate=0.0, term_months=12)
    pay = weekly_payments(loan, np.ones((1, 13)))
    # Month t is paid in the week holding day t * 52 / 12 weeks: weeks 5, 9 and 13.
    assert np.flatnonzero(pay[0]).tolist() == [4, 8, 12]
    assert pay.sum() == pytest.approx(3_000.0)
    mca = CreditOffer(
        "MCA", "merchant_cash_advance", 10_000.0, factor_rate=1.3, remittance_share=0.5
    )
    sales = np.full((4, 13), 2_000.0)
    rem = weekly_payments(mca, sales)
    assert rem.sum(axis=1) == pytest.approx(np.full(4, 13_000.0))
    assert rem[0, :13].tolist()[:3] == [1_000.0] * 3
    with pytest.raises(DataError):
        weekly_payments(mca, np.ones(13))


def test_tornado_swings_match_the_hand_computed_cash_low() -> None:
    c = cash_forecast(FLAT, 12_000.0, 100_000.0, variable_share=0.2, n_futures=300)
    t = cash_tornado(c, debt=100_000.0).set_index("driver")
    # Cash falls 4,000 a week (8,000 - 12,000), so the low is week 13.
    assert c.lowest_week == 13
    assert t.loc["operating costs", "swing"] == pytest.approx(2 * 0.1 * 12_000 * 13)
    assert t.loc["interest on existing debt", "swing"] == pytest.approx(2 * 0.02 * 100_000 / 4)
    share = t.loc["cost of goods and fees"]
    assert share["swing"] == pytest.approx(2 * 0.1 * 0.2 * c.receipts_p50.sum(), rel=1e-9)
    assert share["low_case"] < share["lowest_at_median"] < share["high_case"]
    assert "payables due" not in t.index  # none due: no swing, not listed
    assert list(t["swing"]) == sorted(t["swing"], reverse=True)


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(DataError, match="variable_share"):
        cash_forecast(FLAT, 1.0, 0.0, variable_share=1.5)
    with pytest.raises(DataError, match="payables"):
        cash_forecast(FLAT, 1.0, 0.0, payables=np.full(13, -1.0))
    with pytest.raises(DataError, match="weekly_costs"):
        cash_forecast(FLAT, float("nan"), 0.0)


def _profile(ws: Workspace, value: object) -> None:
    ws.con.execute("INSERT INTO business VALUES ('payables', ?, 0)", [json.dumps(value)])


def test_read_payables_places_due_dates_in_weeks(ws: Workspace) -> None:
    _profile(
        ws,
        [
            {"due": "2026-01-14", "amount": 5_000, "what": "VAT"},
            {"due": "2026-04-06", "amount": 1, "what": "after the horizon"},
            {"due": "2025-12-01", "amount": 2, "what": "already past"},
        ],
    )
    weeks, notes = read_payables(ws, dt.date(2026, 1, 5))
    assert weeks[1] == 5_000 and weeks.sum() == 5_000
    assert notes == ["VAT: 5,000 due 2026-01-14 (week 2)"]


@pytest.mark.parametrize(
    "value",
    [{"due": "2026-01-01"}, [{"due": "tomorrow", "amount": 1}], [{"due": "2026-01-01"}],
     [{"due": "2026-01-07", "amount": -3}]],
)  # fmt: skip
def test_read_payables_rejects_malformed_entries(ws: Workspace, value: object) -> None:
    _profile(ws, value)
    with pytest.raises(DataError, match="payables"):
        read_payables(ws, dt.date(2026, 1, 5))
