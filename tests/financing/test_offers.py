"""Credit offers as cash flows and their APRs, against closed forms and numpy-financial."""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.errors import ConfigError, DataError
from levelfield.financing import (
    CreditOffer,
    apr,
    compare_offers,
    offer_cash_flows,
    sales_futures,
    slow_season_offset,
)


def test_term_loan_without_fees_has_its_nominal_rate_as_apr() -> None:
    offer = CreditOffer("TL", "term_loan", 20_000, annual_rate=0.11, term_months=24)
    flows = offer_cash_flows(offer)
    assert float(flows.apr()[0]) == pytest.approx(0.11, abs=1e-10)
    assert flows.payments[0, 0] == pytest.approx(-npf.pmt(0.11 / 12, 24, 20_000), rel=1e-12)


def test_term_loan_fees_raise_apr_as_numpy_financial_rate_says() -> None:
    offer = CreditOffer("TL", "term_loan", 20_000, annual_rate=0.11, term_months=24, fees=600)
    flows = offer_cash_flows(offer)
    pmt = -npf.pmt(0.11 / 12, 24, 20_000)
    expected = npf.rate(24, pmt, -(20_000 - 600), 0) * 12
    assert float(flows.apr()[0]) == pytest.approx(expected, rel=1e-9)
    assert float(flows.finance_charge()[0]) == pytest.approx(24 * pmt - 19_400, rel=1e-12)


def test_equipment_lease_matches_numpy_financial_rate_with_buyout() -> None:
    offer = CreditOffer(
        "L", "equipment_lease", 15_000, payment=480, term_months=36, fees=500, residual=1_000
    )
    expected = npf.rate(36, 480, -14_500, 1_000) * 12
    assert float(offer_cash_flows(offer).apr()[0]) == pytest.approx(expected, rel=1e-9)


def test_invoice_factoring_is_single_payment_simple_interest_over_the_term() -> None:
    # Appendix J (b)(5)(vii): one payment, the term is the unit-period, 365/days a year.
    offer = CreditOffer(
        "F", "invoice_factoring", 10_000, advance_rate=0.85, fee_per_30_days=0.03, days_to_pay=45
    )
    fee = 10_000 * 0.03 * 2  # two started 30-day periods
    assert float(offer_cash_flows(offer).apr()[0]) == pytest.approx(fee / 8_500 * 365 / 45)


def test_line_of_credit_draw_fee_costs_more_than_the_rate() -> None:
    base = CreditOffer("C", "line_of_credit", 30_000, annual_rate=0.13, usage_share=0.5)
    fee = CreditOffer(
        "C", "line_of_credit", 30_000, annual_rate=0.13, usage_share=0.5, draw_fee=0.02
    )
    assert float(offer_cash_flows(base).apr()[0]) == pytest.approx(0.13, abs=1e-10)
    assert float(offer_cash_flows(fee).apr()[0]) > 0.13


def test_merchant_cash_advance_on_steady_sales_is_the_explicit_schedule() -> None:
    # 10,000 advanced, 13,000 repaid at 10 % of 5,000 a week: 500 a week for 26 weeks.
    offer = CreditOffer("M", "merchant_cash_advance", 10_000, factor_rate=1.3, remittance_share=0.1)
    flows = offer_cash_flows(offer, np.full((1, 60), 5_000.0))
    assert flows.payments.sum() == pytest.approx(13_000)
    assert float(flows.weeks_to_repay()[0]) == 26
    assert float(flows.apr()[0]) == pytest.approx(float(apr(10_000, [500.0] * 26, 52)))
    assert flows.unpaid_at_horizon == 0.0


def test_merchant_cash_advance_not_repaid_by_the_horizon_is_flagged() -> None:
    offer = CreditOffer("M", "merchant_cash_advance", 10_000, factor_rate=1.3, remittance_share=0.1)
    flows = offer_cash_flows(offer, np.full((2, 10), 5_000.0))
    assert flows.unpaid_at_horizon == 1.0
    assert flows.payments.sum(axis=1) == pytest.approx([13_000, 13_000])


@settings(max_examples=40, deadline=None)
@given(
    share=st.floats(0.02, 0.2),
    extra=st.floats(0.01, 0.2),
    factor=st.floats(1.05, 1.5),
    weekly=st.floats(1_000, 20_000),
)
def test_merchant_cash_advance_apr_rises_with_holdback(
    share: float, extra: float, factor: float, weekly: float
) -> None:
    sales = np.full((1, 400), weekly)
    slow = CreditOffer(
        "M", "merchant_cash_advance", 10_000, factor_rate=factor, remittance_share=share
    )
    fast = CreditOffer(
        "M",
        "merchant_cash_advance",
        10_000,
        factor_rate=factor,
        remittance_share=min(share + extra, 1.0),
    )
    if offer_cash_flows(slow, sales).unpaid_at_horizon:
        return
    assert (
        float(offer_cash_flows(fast, sales).apr()[0])
        >= float(offer_cash_flows(slow, sales).apr()[0]) - 1e-12
    )


def test_revenue_based_fee_is_repaid_on_top_of_the_advance() -> None:
    offer = CreditOffer("R", "revenue_based", 15_000, fees=1_800, remittance_share=0.1)
    flows = offer_cash_flows(offer, np.full((3, 200), 3_000.0))
    assert flows.amount_financed == 15_000
    assert flows.finance_charge() == pytest.approx([1_800] * 3)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "payday"}, ConfigError),
        ({"kind": "term_loan"}, DataError),  # no rate or term
        ({"kind": "merchant_cash_advance", "factor_rate": 1.3, "remittance_share": 1.5}, DataError),
        ({"kind": "merchant_cash_advance", "factor_rate": 0.9, "remittance_share": 0.1}, DataError),
        ({"kind": "term_loan", "annual_rate": 0.1, "term_months": 12, "fees": 20_000}, DataError),
        ({"kind": "term_loan", "annual_rate": 0.1, "term_months": 12, "amount": -5.0}, DataError),
        (
            {"kind": "term_loan", "annual_rate": 0.1, "term_months": 12, "amount": float("nan")},
            DataError,
        ),
    ],
)
def test_bad_offers_are_refused_with_a_named_reason(kwargs: dict[str, object], error: type) -> None:
    args: dict[str, object] = {"offer_id": "X", "amount": 10_000.0} | kwargs
    with pytest.raises(error, match="X"):
        CreditOffer(**args)  # type: ignore[arg-type]


def test_sales_linked_offer_needs_sales() -> None:
    offer = CreditOffer("M", "merchant_cash_advance", 1_000, factor_rate=1.2, remittance_share=0.1)
    with pytest.raises(DataError):
        offer_cash_flows(offer)
    with pytest.raises(DataError):
        offer_cash_flows(offer, np.full((1, 5), np.nan))


def _seasonal_history(weeks: int = 156) -> np.ndarray:
    t = np.arange(weeks)
    return 10_000 * (1 + 0.4 * np.sin(2 * np.pi * t / 52))


def test_slow_season_offset_finds_the_trough() -> None:
    hist = _seasonal_history()
    offset = slow_season_offset(hist)
    assert offset is not None
    start = hist.size - 52 + offset
    # The 13 weeks starting there are centred on the sine's minimum (week 39 of 52).
    assert abs(((start + 6) % 52) - 39) <= 1
    assert slow_season_offset(hist[:40]) is None


def test_sales_futures_keep_the_season_and_the_level() -> None:
    hist = _seasonal_history()
    fut = sales_futures(hist, 52, 4_000, seed=1)
    assert fut.shape == (4_000, 52)
    med = np.median(fut, axis=0)
    assert np.corrcoef(med, hist[-52:])[0, 1] > 0.95
    assert np.median(fut.sum(axis=1)) == pytest.approx(hist[-52:].sum(), rel=0.05)


def test_compare_offers_ranks_by_median_apr_and_bands_sales_linked_offers() -> None:
    hist = _seasonal_history()
    offers = [
        CreditOffer(
            "MCA", "merchant_cash_advance", 20_000, factor_rate=1.35, remittance_share=0.12
        ),
        CreditOffer("TL", "term_loan", 20_000, annual_rate=0.11, term_months=24, fees=400),
    ]
    table = compare_offers(offers, hist, n_futures=500, seed=0)
    assert table["offer_id"].tolist() == ["TL", "MCA"]
    mca = table.iloc[1]
    assert mca["apr_p05"] < mca["apr_median"] < mca["apr_p95"]
    tl = table.iloc[0]
    assert tl["apr_p05"] == pytest.approx(tl["apr_p95"])
    # A fixed payback repaid through the slowest weeks takes longer: a lower APR.
    assert mca["apr_slow"] < mca["apr_median"]
