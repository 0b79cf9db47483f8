"""Model family choice and its explanation; intervals on every per-customer value.

On the demo (coffee club subscriptions: sBG), UCI Online Retail (continuous time), the
Stripe subscriptions fixture (sBG) and a weekly farmers' market (BG/BB); per-cohort sBG
fits vectorized over cohorts reproduce Fader & Hardie (2007)'s two cohorts.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from levelfield import Workspace, open_workspace
from levelfield.customers import (
    ShiftedBetaGeometricModel,
    analyze,
    choose_family,
    fit_sbg_cohorts,
)
from levelfield.errors import DataError, InsufficientDataError
from levelfield.ingest import import_file

from .conftest import load_orders

HERE = Path(__file__).resolve().parent
STRIPE = HERE.parent / "data" / "subscriptions" / "stripe_subscriptions.csv"
ONLINE_RETAIL = HERE.parents[2] / "shared" / "data" / "online-retail" / "online_retail.parquet"
if not ONLINE_RETAIL.exists():
    ONLINE_RETAIL = Path("/work/shared/data/online-retail/online_retail.parquet")

# Fader & Hardie (2007), table 1 and their published estimates
REGULAR = ([1000, 631, 468, 382, 326, 289, 262, 241], (0.704, 1.182))
HIGH_END = ([1000, 869, 743, 653, 593, 551, 517, 491], (0.668, 3.806))


def _records(active: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lost = -np.diff(active)
    periods = np.r_[np.arange(1, len(active)), len(active) - 1.0]
    churned = np.r_[np.ones(len(active) - 1), 0.0]
    return periods, churned, np.r_[lost, active[-1]].astype(float)


def test_fit_sbg_cohorts_reproduces_fader_hardie_2007_both_cohorts() -> None:
    parts = [_records(REGULAR[0]), _records(HIGH_END[0])]
    periods = np.concatenate([p[0] for p in parts])
    churned = np.concatenate([p[1] for p in parts])
    weights = np.concatenate([p[2] for p in parts])
    cohort = np.repeat(["high end", "regular"][::-1], [len(p[0]) for p in parts])
    fits = fit_sbg_cohorts(periods, churned, cohort, weights).set_index("cohort")
    for name, (active, (alpha, beta)) in (("regular", REGULAR), ("high end", HIGH_END)):
        row = fits.loc[name]
        assert row["alpha"] == pytest.approx(alpha, abs=1e-3)
        assert row["beta"] == pytest.approx(beta, abs=1e-3)
        single = ShiftedBetaGeometricModel().fit_counts(active)
        assert row["alpha"] == pytest.approx(single.params_["alpha"], rel=1e-6)
        assert row["beta"] == pytest.approx(single.params_["beta"], rel=1e-6)
        assert row["alpha_se"] == pytest.approx(single.standard_errors_["alpha"], rel=1e-4)
        assert row["log_likelihood"] == pytest.approx(single.log_likelihood_, abs=1e-6)
        assert bool(row["converged"])


def test_fit_sbg_cohorts_matches_one_fit_per_cohort_on_many_cohorts() -> None:
    rng = np.random.default_rng(4)
    k, size = 40, 200
    theta = rng.beta(np.repeat(rng.uniform(0.5, 2, k), size), np.repeat(rng.uniform(2, 8, k), size))
    life = rng.geometric(theta)
    churned = (life <= 11).astype(float)
    periods = np.where(churned == 1, life, 11).astype(float)
    cohort = np.repeat(np.arange(k), size)
    fits = fit_sbg_cohorts(periods, churned, cohort)
    assert len(fits) == k
    for j in range(0, k, 7):
        row = fits.iloc[j]
        if row["boundary"]:
            continue
        sel = cohort == j
        m = ShiftedBetaGeometricModel().fit(periods[sel], churned[sel])
        assert row["log_likelihood"] == pytest.approx(m.log_likelihood_, abs=1e-6)
        assert row["alpha"] == pytest.approx(m.params_["alpha"], rel=1e-4)
    with pytest.raises(DataError):
        fit_sbg_cohorts(periods, churned, cohort[:-1])
    with pytest.raises(DataError):
        fit_sbg_cohorts(-periods, churned, cohort)


def test_demo_is_sbg_with_its_subscriptions_and_every_value_has_an_interval(
    demo_dir: Path,
) -> None:
    ws = open_workspace(demo_dir / "levelfield.duckdb")
    try:
        family = choose_family(ws)
        res = analyze(ws)
    finally:
        ws.close()
    assert family.family == "sbg"
    assert "subscriptions are imported" in family.reason and "cancel" in family.reason
    assert res.family is not None and res.family.family == "sbg"
    sub = res.subscriptions
    assert sub is not None
    lo, hi = sub.one_year_interval
    assert 0 < lo < sub.one_year_retention < hi < 1
    assert sub.new_subscriber_value_interval[0] < sub.new_subscriber_value
    said = "\n".join(res.headline())
    assert "Model family: sBG" in said and "still pay a year later" in said
    s = res.summary()
    assert s["model_family"] == "sbg" and s["subscriptions_one_year_retention"] == pytest.approx(
        sub.one_year_retention
    )
    # per cohort: one-year retention and DERL, each with its interval
    cf = sub.cohort_fits.dropna(subset=["derl"])
    assert len(cf) > 0
    assert (cf["derl_low"] <= cf["derl"]).all() and (cf["derl"] <= cf["derl_high"]).all()
    assert (cf["low"] <= cf["one_year_retention"]).all()
    # per customer: P(alive), expected purchases, CLV and next purchase date with bounds
    c = res.to_frame()
    for col in ("p_alive", "expected_purchases_90d", "clv"):
        ok = c[f"{col}_lower"].notna()
        assert ok.mean() > 0.99, col
        assert (c.loc[ok, f"{col}_lower"] <= c.loc[ok, col] + 1e-12).all(), col
        assert (c.loc[ok, col] <= c.loc[ok, f"{col}_upper"] + 1e-12).all(), col
    d = c.dropna(subset=["next_purchase_date", "next_purchase_date_lower"])
    assert len(d) > 0.5 * len(c)
    assert (d["next_purchase_date_lower"] <= d["next_purchase_date"]).all()
    assert (d["next_purchase_date"] <= d["next_purchase_date_upper"]).all()


def test_stripe_subscription_fixture_is_sbg(ws: Workspace) -> None:
    import_file(ws, "subscriptions", STRIPE)
    family = choose_family(ws)
    assert family.family == "sbg"
    assert family.evidence["subscriptions"] == 11
    assert "shifted-beta-geometric (sBG)" in family.reason
    assert "Orders outside" not in family.reason  # there are no orders
    with pytest.raises(InsufficientDataError, match="levelfield analyze subscriptions"):
        analyze(ws)


def _weekly_market(n: int, weeks: int, seed: int) -> pd.DataFrame:
    """A Saturday market: BG/BB customers (buy p ~ Beta(1.2, 0.8), leave theta ~ Beta(0.7, 3))."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2024, 1, 6, 9)  # a Saturday
    first = rng.integers(0, weeks // 2, n)
    p = rng.beta(1.2, 0.8, n)
    theta = rng.beta(0.7, 3.0, n)
    death = rng.geometric(theta)
    k = np.arange(weeks)[None, :]
    after = k - first[:, None]
    buys = (after == 0) | (
        (after > 0) & (after < death[:, None]) & (rng.random((n, weeks)) < p[:, None])
    )
    cust, week = np.nonzero(buys)
    minutes = rng.integers(0, 300, len(cust))
    return pd.DataFrame(
        {
            "order_id": [f"m{c}_{w}" for c, w in zip(cust, week, strict=True)],
            "customer_id": [f"c{c:05d}" for c in cust],
            "ordered_at": start
            + pd.to_timedelta(week * 7, unit="D")
            + pd.to_timedelta(minutes, unit="min"),
            "channel": "market",
            "gross": np.round(rng.gamma(4.0, 6.0, len(cust)), 2),
        }
    )


def test_weekly_market_is_bgbb_with_intervals(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "market.duckdb") as w:
        load_orders(w, _weekly_market(1500, 40, seed=3))
        family = choose_family(w)
        res = analyze(w)
    assert family.family == "bgbb"
    assert family.evidence["busiest_weekday"] == "Saturday"
    assert "Saturdays" in family.reason and "one purchase opportunity" in family.reason
    assert res.discrete_params is not None
    assert res.discrete_params["alpha"] / (
        res.discrete_params["alpha"] + res.discrete_params["beta"]
    ) == pytest.approx(0.6, abs=0.08)
    c = res.to_frame()
    ok = c["p_alive_weekly"].notna()
    assert ok.mean() > 0.9
    assert (c.loc[ok, "p_alive_weekly_lower"] <= c.loc[ok, "p_alive_weekly"] + 1e-12).all()
    assert (c.loc[ok, "expected_purchases_13w"] <= c.loc[ok, "expected_purchases_13w_upper"]).all()
    assert any("Weekly opportunities (BG/BB)" in line for line in res.headline())
    assert res.summary()["model_family"] == "bgbb"


@pytest.fixture(scope="module")
def uci(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    if not ONLINE_RETAIL.exists():
        pytest.skip("shared UCI Online Retail data not present")
    w = open_workspace(tmp_path_factory.mktemp("uci") / "uci.duckdb")
    import_file(w, "orders", ONLINE_RETAIL)
    yield w
    w.close()


@pytest.mark.slow
def test_uci_online_retail_is_continuous_time(uci: Workspace) -> None:
    family = choose_family(uci)
    assert family.family == "continuous"
    share = family.evidence["busiest_weekday_share"]
    assert share < 0.5 and f"{share:.0%}" in family.reason
    assert "holdout" in family.reason
    res = analyze(uci)
    assert res.family is not None and res.family.family == "continuous"
    assert res.summary()["model_family_reason"] == family.reason
    assert res.subscriptions is None and res.discrete_params is None
    assert math.isfinite(res.clv_total)
    assert os.fspath(ONLINE_RETAIL).endswith("online_retail.parquet")
