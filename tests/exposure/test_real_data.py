"""Exposure on real data (issue 15): UCI Online Retail and a real Shopify export.

Both businesses sell only through their own online store and have no suppliers, costs
or channel table imported. Exposure must not call the own store a platform, must not
score missing data, must tell one own channel by choice from dependence on a platform,
and must read the compliance burden against the last 12 months of revenue.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from exposure_helpers import business, insert, order
from hypothesis import given, settings
from hypothesis import strategies as st

import levelfield.exposure as ex
from levelfield import Workspace, open_workspace
from levelfield.exposure._scorecard import MIN_MEASURED_SHARE, score_indicators
from levelfield.ingest import import_file

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ONLINE_RETAIL = SHARED / "online-retail" / "online_retail.parquet"
SHOPIFY = SHARED / "wild-exports" / "shopify_enavant_USD_orders_export_1.csv"


def _analyze(ws: Workspace) -> ex.ExposureResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ex.analyze(ws)


@pytest.fixture(scope="module")
def uci(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ex.ExposureResult]:
    ws = open_workspace(tmp_path_factory.mktemp("uci") / "uci.duckdb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_file(ws, "orders", ONLINE_RETAIL)
    yield _analyze(ws)
    ws.close()


@pytest.fixture(scope="module")
def shopify(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = open_workspace(tmp_path_factory.mktemp("shopify") / "shop.duckdb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_file(ws, "orders", SHOPIFY)
    business(ws, employees=4)
    yield ws
    ws.close()


def _by_metric(r: ex.ExposureResult) -> dict[str, object]:
    return {f.metric: f for f in r.findings()}


def _assert_own_store_only(r: ex.ExposureResult, channel: str) -> None:
    found = _by_metric(r)
    texts = " ".join(f.text for f in r.findings())
    assert r.metrics["data_ownership_share"] == 1.0
    assert r.metrics["platform_share_max"] == 0.0
    assert " 0.0% of revenue" not in texts
    assert "holds the customer relationship" not in texts
    assert "exposure.single_channel_by_choice" in found
    chan = found["exposure.channel_hhi"]
    assert chan.value == pytest.approx(10_000)  # type: ignore[attr-defined]
    assert chan.severity == "info"  # type: ignore[attr-defined]
    assert chan.context["by_choice"] == 1.0  # type: ignore[attr-defined]
    # The metric the advice reads for channel dependence is absent: nothing to spread.
    assert "exposure.channel_dependency_hhi" not in found
    row = r.channels.set_index("channel").loc[channel]
    assert bool(row["owns_customer"]) and row["owns_basis"] == "channel name"
    assert any(channel in n and "from its name" in n for n in r.notes)


def _assert_no_missing_scored(r: ex.ExposureResult) -> None:
    dims = r.dimensions.set_index("dimension")
    # No suppliers, costs or business profile: these cannot be scored, and say why.
    for d in ("systemic", "regulatory", "technological", "economic"):
        assert math.isnan(dims.loc[d, "score"]), d
        assert dims.loc[d, "fill_with"], d
    assert "suppliers" in dims.loc["systemic", "fill_with"]
    assert "systemic n/a" in r.headline()[0]
    assert "systemic" in r.summary()["scorecard_missing"]
    for row in r.dimensions.itertuples():
        if math.isfinite(row.score):
            assert row.measured >= MIN_MEASURED_SHARE * row.indicators


@pytest.mark.slow
def test_uci_online_retail_own_store_is_not_a_platform(uci: ex.ExposureResult) -> None:
    _assert_own_store_only(uci, "online")
    _assert_no_missing_scored(uci)
    sc = uci.scorecard.set_index("indicator")
    assert sc.loc["channel_dependency_hhi", "not_applicable"].startswith("one channel")
    assert math.isnan(sc.loc["channel_dependency_hhi", "score"])


def test_shopify_export_own_store_and_compliance_on_last_12_months(
    shopify: Workspace,
) -> None:
    r = _analyze(shopify)
    _assert_own_store_only(r, "shopify")
    # Independently: net revenue of the 365 days up to the last order, from the orders.
    last_year = shopify.con.execute(
        """SELECT CAST(sum(net_revenue) AS DOUBLE) FROM order_revenue
           WHERE ordered_at > (SELECT max(ordered_at) FROM order_revenue) - INTERVAL 365 DAY"""
    ).fetchall()[0][0]
    cost = float(r.burden["cost"].iloc[0])
    assert r.metrics["revenue_last_12m"] == pytest.approx(last_year)
    if cost <= last_year:
        assert r.metrics["compliance_cost_share"] == pytest.approx(cost / last_year)
    else:  # the export's sales are less than the estimated cost: no share is stated
        assert math.isnan(r.metrics["compliance_cost_share"])
        note = next(n for n in r.notes if "times the revenue" in n)
        assert f"{cost / last_year:.1f} times" in note and f"{last_year:,.0f}" in note
    # The history is 2.7 years of a shrinking shop: the average year is not the last one.
    assert r.metrics["years_of_history"] > 2
    assert abs(r.metrics["annual_revenue"] - last_year) > 0.1 * last_year


def test_channel_without_fee_profile_or_known_name_is_unknown(ws: Workspace) -> None:
    insert(ws, "orders", [order("o1", "kiosk7", 80.0), order("o2", "kiosk7", 20.0, day=2)])
    r = _analyze(ws)
    found = _by_metric(r)
    assert math.isnan(r.metrics["data_ownership_share"])
    assert math.isnan(r.metrics["platform_share_max"])
    assert r.metrics["ownership_unknown_share"] == 1.0
    assert "exposure.data_ownership_share" not in found
    assert "exposure.platform_share_max" not in found
    unknown = found["exposure.ownership_unknown_share"]
    assert "unknown" in unknown.text and "kiosk7" in unknown.text  # type: ignore[attr-defined]
    # Unknown ownership is not "one own channel by choice" either.
    assert "exposure.single_channel_by_choice" not in found
    assert "exposure.channel_dependency_hhi" in found


def test_single_platform_channel_is_dependence_not_choice(ws: Workspace) -> None:
    insert(ws, "orders", [order("o1", "etsy", 80.0), order("o2", "etsy", 20.0, day=2)])
    r = _analyze(ws)
    found = _by_metric(r)
    assert "exposure.single_channel_by_choice" not in found
    dep = found["exposure.channel_dependency_hhi"]
    assert dep.value == pytest.approx(10_000) and dep.severity == "warning"  # type: ignore[attr-defined]
    assert found["exposure.platform_share_max"].value == 1.0  # type: ignore[attr-defined]
    assert found["exposure.channel_hhi"].context["by_choice"] == 0.0  # type: ignore[attr-defined]


def test_short_history_annualizes_compliance_revenue_and_says_so(ws: Workspace) -> None:
    insert(
        ws, "orders", [order("o1", "shopify", 10_000.0), order("o2", "shopify", 10_000.0, day=31)]
    )
    business(ws, employees=2)
    r = _analyze(ws)
    assert "revenue_last_12m" not in r.metrics
    assert 0 < r.metrics["compliance_cost_share"] < 1
    assert r.metrics["compliance_cost_share"] == pytest.approx(
        float(r.burden["cost"].iloc[0]) / r.metrics["annual_revenue"]
    )
    assert any("annualized" in n for n in r.notes)


_NAMES = [i.name for i in ex.INDICATORS]


@settings(deadline=None)
@given(
    present=st.lists(st.sampled_from(_NAMES), unique=True),
    worst=st.booleans(),
)
def test_missing_indicators_never_score(present: list[str], worst: bool) -> None:
    """Whatever is missing, a dimension's score comes only from measured indicators, and
    a dimension with fewer than half of them measured is n/a (never 100)."""
    by_name = {i.name: i for i in ex.INDICATORS}
    values = {n: (by_name[n].bad if worst else by_name[n].good) for n in present}
    table, dims = score_indicators(values)
    for row in dims.itertuples():
        n_ind = sum(1 for i in ex.INDICATORS if i.dimension == row.dimension)
        n_meas = sum(1 for n in present if by_name[n].dimension == row.dimension)
        if n_meas < MIN_MEASURED_SHARE * n_ind:
            assert math.isnan(row.score)
            assert row.fill_with
        else:
            assert row.score == (0.0 if worst else 100.0)
    missing = table[~table["indicator"].isin(present)]
    assert missing["score"].isna().all()
    assert (missing["fill_with"] != "").all()


def test_not_applicable_indicator_is_neither_measured_nor_missing() -> None:
    values = {"customer_top1_share": 0.05, "supplier_hhi": 1000.0, "fee_drag": 0.05}
    table, dims = score_indicators(values, {"channel_dependency_hhi": "one own channel"})
    eco = dims.set_index("dimension").loc["economic"]
    assert eco["indicators"] == 4 and eco["measured"] == 3 and eco["score"] == 100.0
    row = table.set_index("indicator").loc["channel_dependency_hhi"]
    assert row["fill_with"] == "" and row["not_applicable"] == "one own channel"
    assert np.isnan(row["score"])
