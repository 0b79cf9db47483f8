"""APR kernel: Regulation Z Appendix J worked examples, numpy-financial IRR, properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.errors import ConfigError, DataError
from levelfield.financing import apr, apr_dated, apr_schedule


def _series(amount: float, count: int, t: int, f: float) -> list[tuple[float, float]]:
    return [(amount, t + k + f) for k in range(count)]


# 12 CFR Part 1026, Appendix J, paragraph (c) "Examples for the actuarial method",
# (c)(1)-(c)(6): (label, amount financed, [(payment, t + f unit-periods)], unit-periods
# per year, published APR in percent). Single advance at time 0 in every example.
APPENDIX_J_EXAMPLES = [
    ("c1-i monthly", 5000, _series(230, 24, 1, 0), 12, 9.69),
    ("c1-ii monthly long first period", 6000, _series(200, 36, 1, 19 / 30), 12, 11.82),
    ("c1-iii semimonthly short first", 5000, _series(219.17, 24, 0, 6 / 15), 24, 10.34),
    ("c1-iv quarterly long first", 10000, _series(385, 40, 1, 39 / 90), 4, 8.97),
    ("c1-v weekly long first", 500, _series(17.60, 30, 4, 4 / 7), 52, 14.96),
    ("c2-i odd first payment", 5000, [(250, 1.0), *_series(230, 23, 2, 0)], 12, 10.08),
    (
        "c2-ii four-weekly odd first payment",
        400,
        [(39.5, 1 + 5 / 28), *_series(38.31, 11, 2, 5 / 28)],
        13,
        28.50,
    ),
    ("c3-i odd final payment", 5000, [*_series(230, 23, 1, 0), (280, 24.0)], 12, 10.50),
    (
        "c3-ii biweekly odd final",
        200,
        [*_series(9.5, 19, 0, 8 / 14), (30, 19 + 8 / 14)],
        26,
        12.22,
    ),
    (
        "c4-i odd first and final",
        5000,
        [(250, 1.0), *_series(230, 22, 2, 0), (280, 24.0)],
        12,
        10.90,
    ),
    (
        "c4-ii bimonthly odd first and final",
        8000,
        [(449.36, 52 / 60), *_series(465, 18, 1, 52 / 60), (200, 19 + 52 / 60)],
        6,
        7.30,
    ),
    ("c5-i single payment 255 days", 1000, [(1080, 1.0)], 365 / 255, 11.45),
    ("c5-ii single payment 6 months", 1000, [(1044, 1.0)], 2, 8.80),
    ("c5-iii single payment 18 months", 1000, [(1135.19, 1.5)], 1, 8.76),
    ("c5-iv single payment 2 years", 1000, [(1240, 2.0)], 1, 11.36),
    (
        "c6-i skipped payments",
        2135,
        _series(100, 9, 0, 26 / 28)
        + _series(100, 6, 10, 12 / 28)
        + _series(100, 6, 16, 26 / 28)
        + _series(100, 3, 23, 12 / 28),
        13,
        12.00,
    ),
    (
        "c6-ii skipped plus single payments",
        7350,
        [
            *_series(1000, 3, 6, 12 / 30),
            (2000, 12 + 12 / 30),
            *_series(750, 3, 18, 12 / 30),
            (1000, 22 + 29 / 30),
        ],
        12,
        10.22,
    ),
]


@pytest.mark.parametrize(
    ("amount", "flows", "per_year", "published"),
    [case[1:] for case in APPENDIX_J_EXAMPLES],
    ids=[case[0] for case in APPENDIX_J_EXAMPLES],
)
def test_apr_matches_regulation_z_appendix_j_examples(
    amount: float, flows: list[tuple[float, float]], per_year: float, published: float
) -> None:
    payments = [p for p, _ in flows]
    times = [t for _, t in flows]
    got = float(apr_schedule(amount, payments, times, per_year)) * 100
    # Appendix J (b)(9)(ii): the APR "when rounded to 2 decimals, is correct".
    assert round(got, 2) == pytest.approx(published, abs=1e-9)


def test_apr_all_appendix_j_examples_in_one_batch() -> None:
    # The same examples solved together on one time grid (zeros where a schedule has
    # no payment) give the same APRs: the vectorized path is the scalar path.
    monthly = [c for c in APPENDIX_J_EXAMPLES if c[3] == 12 and all(t % 1 == 0 for _, t in c[2])]
    grid = np.arange(1, 25, dtype=float)
    pay = np.zeros((len(monthly), grid.size))
    for row, (_, _, flows, _, _) in enumerate(monthly):
        for p, t in flows:
            pay[row, int(t) - 1] += p
    got = apr_schedule([c[1] for c in monthly], pay, grid, 12) * 100
    assert np.round(got, 2).tolist() == [c[4] for c in monthly]


def test_apr_equal_periods_matches_numpy_financial_irr() -> None:
    rng = np.random.default_rng(7)
    amount = rng.uniform(1_000, 50_000, size=40)
    payments = rng.uniform(0.01, 0.2, size=(40, 18)) * amount[:, None]
    got = apr(amount, payments, 12)
    for k in range(40):
        irr = npf.irr(np.concatenate([[-amount[k]], payments[k]]))
        assert got[k] == pytest.approx(irr * 12, rel=1e-9, abs=1e-10)


def test_apr_vectorized_over_offers_and_futures() -> None:
    rng = np.random.default_rng(3)
    payments = rng.uniform(50, 150, size=(3, 5, 26))
    got = apr(np.array([[2000.0], [2100.0], [2200.0]]), payments, 52)
    assert got.shape == (3, 5)
    one = apr(2100.0, payments[1, 2], 52)
    assert float(got[1, 2]) == pytest.approx(float(one), rel=1e-12)
    # More money up front for the same payments means a lower rate.
    assert (got[0] > got[2]).all()


def test_apr_dated_monthly_matches_appendix_j_c1_i() -> None:
    # (c)(1)(i): advance 5,000; 24 monthly payments of 230, the first one month later.
    start = dt.date(1978, 1, 10)
    dates = [dt.date(1978 + (k // 12), k % 12 + 1, 10) for k in range(1, 25)]
    got = apr_dated(5000, [(d, 230.0) for d in dates], start=start)
    assert round(got * 100, 2) == 9.69


def test_apr_dated_single_payment_uses_term_as_unit_period() -> None:
    # (c)(5)(i): 1,000 repaid by 1,080 after 255 days -> 11.45 %.
    start = dt.date(1978, 1, 3)
    got = apr_dated(1000, [(start + dt.timedelta(days=255), 1080.0)], start=start)
    assert round(got * 100, 2) == 11.45


def test_apr_dated_long_first_period_uses_odd_days_over_30() -> None:
    # 6,000 repaid by 36 payments of 200, the first one month and 19 days after the
    # advance: (c)(1)(ii) publishes 11.82 %.
    start = dt.date(2024, 1, 1)
    dates = [dt.date(2024 + (k + 1) // 12, (k + 1) % 12 + 1, 20) for k in range(36)]
    got = apr_dated(6000, [(d, 200.0) for d in dates], start=start)
    assert round(got * 100, 2) == 11.82


def test_apr_below_zero_when_repaid_less_than_lent() -> None:
    assert float(apr(1000, [400, 400], 12)) < 0


@pytest.mark.parametrize(
    ("amount", "payments", "periods"),
    [
        (1000, [], 12),
        (1000, [np.nan, 10], 12),
        (1000, [-5, 600], 12),
        (0, [600, 600], 12),
        (-1, [600, 600], 12),
        (np.nan, [600], 12),
    ],
)
def test_apr_bad_input_raises_data_error(
    amount: float, payments: list[float], periods: int
) -> None:
    with pytest.raises(DataError):
        apr(amount, payments, periods)


def test_apr_bad_periods_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        apr(1000, [600, 600], 0)


def test_apr_dated_bad_input() -> None:
    start = dt.date(2024, 1, 1)
    with pytest.raises(DataError):
        apr_dated(1000, [], start=start)
    with pytest.raises(DataError):
        apr_dated(1000, [(dt.date(2023, 12, 1), 1100.0)], start=start)
    with pytest.raises(DataError):
        apr_dated(1000, [(dt.date(2024, 3, 1), 500.0), (dt.date(2024, 2, 1), 600.0)], start=start)
    with pytest.raises(ConfigError):
        apr_dated(
            1000,
            [(dt.date(2024, 2, 1), 500.0), (dt.date(2024, 3, 1), 600.0)],
            start=start,
            unit="year",
        )


@settings(max_examples=60, deadline=None)
@given(
    amount=st.floats(1_000, 100_000),
    n=st.integers(2, 60),
    markup=st.floats(0.01, 0.6),
    fee=st.floats(0.001, 0.2),
)
def test_apr_rises_with_fees(amount: float, n: int, markup: float, fee: float) -> None:
    # A fee withheld from the advance lowers the amount financed for the same payments.
    payments = np.full(n, amount * (1 + markup) / n)
    base = float(apr(amount, payments, 52))
    with_fee = float(apr(amount * (1 - fee), payments, 52))
    assert with_fee > base


@settings(max_examples=60, deadline=None)
@given(
    amount=st.floats(1_000, 100_000),
    n=st.integers(3, 60),
    factor=st.floats(1.01, 1.6),
    faster=st.integers(1, 30),
)
def test_apr_rises_with_repayment_speed(amount: float, n: int, factor: float, faster: int) -> None:
    # The same total repaid in fewer equal instalments (a higher holdback on the same
    # sales) is a dearer loan.
    quick = max(1, n - faster)
    slow = float(apr(amount, np.full(n, amount * factor / n), 52))
    fast = float(apr(amount, np.full(quick, amount * factor / quick), 52))
    assert fast > slow if quick < n else fast == pytest.approx(slow)


def test_financing_exports_apr() -> None:
    import levelfield.financing as fin

    assert {"apr", "apr_dated"} <= set(fin.__all__)
