"""MRR, MRR movements, net revenue retention and cohort churn on subscriptions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield import Workspace
from levelfield.customers import recurring_revenue, subscription_lifetimes
from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.ingest import import_file

STRIPE = Path(__file__).resolve().parents[1] / "data" / "subscriptions" / "stripe_subscriptions.csv"

# Hand-computed from tests/data/subscriptions/stripe_subscriptions.csv (month-end
# snapshots; June at the as-of date 2024-06-10 10:00): Ann 20 (+10 decaf from April),
# Ben 2 x 20 until 10 March, Cleo 240/year = 20, Dev 30 after the trial ending 15 March,
# Eve never paid (ended in trial), Fay 15 + 15 until 5 May, Gus 5/week = 5 x 52 / 12
# from May (past_due still pays), Hal incomplete_expired (never paid), Ida 20 from June.
GUS = 5 * 52 / 12
EXPECTED = pd.DataFrame(
    {
        "mrr": [90, 110, 100, 110, 95 + GUS, 115 + GUS],
        "customers": [3, 4, 4, 4, 5, 6],
        "new": [90, 20, 30, 0, GUS, 20],
        "expansion": [0, 0, 0, 10, 0, 0],
        "contraction": [0, 0, 0, 0, 15, 0],
        "churned": [0, 0, 40, 0, 0, 0],
        "nrr_month": [np.nan, 1.0, 70 / 110, 110 / 100, 95 / 110, 1.0],
    }
)


@pytest.fixture
def fixture_ws(ws: Workspace) -> Workspace:
    import_file(ws, "subscriptions", STRIPE)
    return ws


def test_mrr_movements_and_nrr_match_hand_computed_stripe_fixture(fixture_ws: Workspace) -> None:
    r = recurring_revenue(fixture_ws.con)
    assert r.as_of == dt.datetime(2024, 6, 10, 10, 0)
    m = r.monthly
    assert list(m["month"].dt.strftime("%Y-%m")) == [f"2024-0{i}" for i in range(1, 7)]
    for col in EXPECTED:
        np.testing.assert_allclose(m[col].to_numpy(float), EXPECTED[col], atol=1e-9, err_msg=col)
    assert list(m["partial"]) == [False] * 5 + [True]
    s = r.summary()
    assert s["month"] == "2024-05-01" and s["mrr"] == pytest.approx(95 + GUS)
    assert "interval_count" in s["formulas"]["monthly_price"]  # type: ignore[index]


def test_cohort_logo_and_revenue_churn_match_hand_computed(fixture_ws: Workspace) -> None:
    c = recurring_revenue(fixture_ws.con).cohorts
    jan = c[c["cohort"] == pd.Timestamp("2024-01-01")].set_index("age_months")
    assert list(jan["customers"]) == [3, 3, 2, 2, 2, 2]
    np.testing.assert_allclose(jan["logo_churn"], [0, 0, 1 / 3, 1 / 3, 1 / 3, 1 / 3])
    # Ann 20 + Ben 40 + Fay 30 = 90; without Ben 50; Ann's decaf +10; Fay drops 15.
    np.testing.assert_allclose(jan["mrr"], [90, 90, 50, 60, 45, 45])
    np.testing.assert_allclose(jan["revenue_churn"], 1 - np.array([90, 90, 50, 60, 45, 45]) / 90)
    assert set(c["cohort"].dt.strftime("%Y-%m")) == {
        "2024-01",
        "2024-02",
        "2024-03",
        "2024-05",
        "2024-06",
    }


def test_subscription_lifetimes_count_monthly_payments(fixture_ws: Workspace) -> None:
    life = subscription_lifetimes(fixture_ws.con).set_index("subscription_id")
    # Ben paid 10 Jan and 10 Feb and ended on 10 Mar: 2 paid periods, churned.
    assert tuple(life.loc["sub_1OaB02", ["periods", "churned"]]) == (2, 1)
    # Ann paid 5 Jan ... 5 Jun: 6 payments, 5 renewals, active.
    assert tuple(life.loc["sub_1OaA01", ["periods", "churned"]]) == (5, 0)
    # Dev's paid months start at the trial end (15 Mar): 15 Mar, 15 Apr, 15 May.
    assert tuple(life.loc["sub_1ObD04", ["periods", "churned"]]) == (2, 0)
    assert str(life.loc["sub_1ObD04", "cohort"])[:7] == "2024-03"
    # Yearly and weekly billing, and a subscription that ended in its trial, are left out.
    assert not {"sub_1ObC03", "sub_1OeG09", "sub_1OcE05", "sub_1OfH10"} & set(life.index)


_ROW = st.tuples(
    st.integers(0, 300),  # start day
    st.one_of(st.none(), st.integers(1, 300)),  # days until end
    st.sampled_from(["month", "year", "week"]),
    st.integers(1, 3),  # quantity
    st.integers(0, 3),  # customer
)


@settings(max_examples=30, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=25))
def test_mrr_bridge_identity_holds(rows: list[tuple[int, int | None, str, int, int]]) -> None:
    """MRR_m = MRR_m-1 + new + reactivation + expansion - contraction - churned."""
    base = dt.datetime(2024, 1, 1)
    df = pd.DataFrame(
        {
            "subscription_id": [f"s{i}" for i in range(len(rows))],
            "customer_id": [f"c{r[4]}" for r in rows],
            "status": ["active" if r[1] is None else "canceled" for r in rows],
            "started_at": [base + dt.timedelta(days=r[0]) for r in rows],
            "ended_at": [
                None if r[1] is None else base + dt.timedelta(days=r[0] + r[1]) for r in rows
            ],
            "canceled_at": [None] * len(rows),
            "current_period_start": [None] * len(rows),
            "current_period_end": [None] * len(rows),
            "trial_start": [None] * len(rows),
            "trial_end": [None] * len(rows),
            "quantity": [r[3] for r in rows],
            "amount": [12.0] * len(rows),
            "currency": ["EUR"] * len(rows),
            "interval": [r[2] for r in rows],
            "interval_count": [1] * len(rows),
        }
    )
    df["ended_at"] = pd.to_datetime(df["ended_at"])
    for c in (
        "canceled_at",
        "current_period_start",
        "current_period_end",
        "trial_start",
        "trial_end",
    ):
        df[c] = pd.to_datetime(df[c])
    con = duckdb.connect()
    con.register("subs_df", df)
    try:
        r = recurring_revenue(con, table="subs_df")
    except InsufficientDataError:
        return  # every subscription ended before a month's end: nothing to check
    m = r.monthly
    prev = m["mrr"].shift(1, fill_value=0.0)
    bridge = prev + m["new"] + m["reactivation"] + m["expansion"] - m["contraction"] - m["churned"]
    np.testing.assert_allclose(m["mrr"], bridge, atol=1e-6)
    assert (m[["new", "reactivation", "expansion", "contraction", "churned"]] >= -1e-9).all().all()


def test_no_paying_subscription_is_an_insufficient_data_error(ws: Workspace) -> None:
    with pytest.raises(InsufficientDataError, match="import subscriptions"):
        recurring_revenue(ws.con)


def test_as_of_must_be_a_datetime(fixture_ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="as_of"):
        recurring_revenue(fixture_ws.con, as_of="2024-06-01")  # type: ignore[arg-type]
