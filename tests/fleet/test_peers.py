"""Peer benchmarks: k-anonymity, coarsening, consent and the differencing rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.errors import ConfigError, DataError
from levelfield.fleet import peer_benchmarks

METRIC = "exposure.customer_hhi"


def _fleet(sizes: dict[tuple[str, str, str], int], seed: int = 0, consent: float = 1.0):
    rng = np.random.default_rng(seed)
    rows = [(f"{s[:3]}-{r}-{z}-{i}", s, r, z) for (s, r, z), n in sizes.items() for i in range(n)]
    biz = pd.DataFrame(rows, columns=["business_id", "sector", "region", "size_band"])
    biz["consent"] = rng.random(len(biz)) < consent
    findings = pd.DataFrame(
        {
            "business_id": biz["business_id"],
            "metric": METRIC,
            "value": rng.uniform(500, 9000, len(biz)),
            "unit": "index",
            "error": None,
        }
    )
    return findings, biz


def test_fine_group_of_k_is_published_with_exact_percentiles() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 10})
    table = peer_benchmarks(findings, biz, k=10).table
    assert table["status"].tolist() == ["published"]
    row = table.iloc[0]
    assert row["n"] == 10
    expected = np.percentile(findings["value"], [10, 25, 50, 75, 90])
    np.testing.assert_allclose(row[["p10", "p25", "p50", "p75", "p90"]].astype(float), expected)


def test_small_groups_are_coarsened_then_suppressed_and_say_so() -> None:
    sizes = {
        ("coffee", "north", "micro"): 12,  # published as is
        ("coffee", "south", "micro"): 6,  # with the east ones: sector x size band
        ("coffee", "east", "micro"): 5,
        ("coffee", "west", "small"): 4,  # alone in its size band: dropped to sector
        ("coffee", "west", "medium"): 7,
        ("bakery", "north", "micro"): 3,  # nothing to pool with: suppressed
    }
    findings, biz = _fleet(sizes)
    t = peer_benchmarks(findings, biz, k=10).table.set_index(["sector", "region", "size_band"])
    assert t.loc[("coffee", "north", "micro"), "status"] == "published"
    pooled = t.loc[("coffee", "pooled", "micro")]
    assert (pooled["status"], pooled["n"]) == ("coarsened", 11)
    assert "region dropped" in pooled["level"]
    sector = t.loc[("coffee", "pooled", "pooled")]
    assert (sector["status"], sector["n"]) == ("coarsened", 11)
    bakery = t.loc[("bakery", "north", "micro")]
    assert bakery["status"] == "suppressed"
    assert np.isnan(bakery["n"]) and np.isnan(bakery["p50"])
    assert "fewer than k=10" in bakery["reason"]


def test_businesses_without_consent_never_count() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 14}, consent=1.0)
    biz.loc[biz.index[:5], "consent"] = False
    t = peer_benchmarks(findings, biz, k=10).table
    assert t["status"].tolist() == ["suppressed"]  # 9 consenting < k
    biz.loc[biz.index[:4], "consent"] = True
    t = peer_benchmarks(findings, biz, k=10).table
    assert t["n"].tolist() == [13]


@settings(max_examples=30)
@given(
    sizes=st.lists(st.integers(0, 25), min_size=8, max_size=8),
    k=st.integers(2, 12),
    seed=st.integers(0, 10),
)
def test_every_published_group_has_k_consenting_members(
    sizes: list[int], k: int, seed: int
) -> None:
    cells = [
        (s, r, z)
        for s in ("coffee", "bakery")
        for r in ("north", "south")
        for z in ("micro", "small")
    ]
    findings, biz = _fleet(dict(zip(cells, sizes, strict=True)), seed=seed, consent=0.8)
    release = peer_benchmarks(findings, biz, k=k)
    pub = release.published
    assert (pub["n"] >= k).all()
    consenting = set(biz.loc[biz["consent"], "business_id"])
    members = [m for ms in release.ledger["members"] for m in ms]
    assert set(members) <= consenting
    assert len(members) == len(set(members))  # groups of one release are disjoint
    assert pub["n"].sum() == len(members)


def test_removing_one_business_suppresses_its_group_in_the_next_release() -> None:
    sizes = {("coffee", "north", "micro"): 12, ("coffee", "south", "micro"): 15}
    findings, biz = _fleet(sizes)
    first = peer_benchmarks(findings, biz, k=10)
    assert (first.table["status"] == "published").sum() == 2
    gone = biz.loc[biz["region"] == "north", "business_id"].iloc[0]
    second = peer_benchmarks(
        findings.loc[findings["business_id"] != gone], biz, k=10, ledger=first.ledger
    )
    t = second.table.set_index("region")
    assert t.loc["north", "status"] == "suppressed"
    assert np.isnan(t.loc["north", "p50"]) and np.isnan(t.loc["north", "n"])
    assert "differ from an earlier release's group by 1" in t.loc["north", "reason"]
    # the untouched group is republished unchanged
    assert t.loc["south", "status"] == "published"
    south_before = first.table.set_index("region").loc["south", "p50"]
    assert t.loc["south", "p50"] == south_before
    # after k changes the group may be published again: the difference spans k businesses
    gone_k = biz.loc[biz["region"] == "south", "business_id"].iloc[:10]
    more = pd.concat(
        [
            findings,
            findings.loc[biz["region"] == "south"].assign(
                business_id=lambda d: d["business_id"] + "-new"
            ),
        ]
    )
    biz_more = pd.concat(
        [
            biz,
            biz.loc[biz["region"] == "south"].assign(
                business_id=lambda d: d["business_id"] + "-new"
            ),
        ]
    )
    third = peer_benchmarks(
        more.loc[~more["business_id"].isin(gone_k)], biz_more, k=10, ledger=second.ledger
    )
    assert third.table.set_index("region").loc["south", "status"] == "published"


def test_same_release_again_is_identical() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 12})
    first = peer_benchmarks(findings, biz, k=10)
    again = peer_benchmarks(findings, biz, k=10, ledger=first.ledger)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert len(again.ledger) == len(first.ledger)


def test_bad_inputs() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 3})
    with pytest.raises(ConfigError, match="k must be"):
        peer_benchmarks(findings, biz, k=1)
    with pytest.raises(DataError, match="consent"):
        peer_benchmarks(findings, biz.drop(columns=["consent"]))
    errors = findings.assign(value=np.nan, error="InsufficientDataError: x")
    assert peer_benchmarks(errors, biz).table.empty


def test_public_names_are_importable() -> None:
    import levelfield.fleet as fleet

    assert sorted(fleet.__all__) == sorted(n for n in fleet.__all__ if hasattr(fleet, n))


def test_epsilon_release_is_noised_clipped_and_states_its_budget() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 30, ("coffee", "south", "micro"): 25})
    share = findings.assign(metric="exposure.platform_share_max", value=findings["value"] / 9000)
    both = pd.concat([findings, share], ignore_index=True)
    exact = peer_benchmarks(both, biz, k=10).table
    noisy = peer_benchmarks(both, biz, k=10, epsilon=2.0, secret=b"s" * 32)
    t = noisy.table
    assert (t["status"] == "published").sum() == 4
    stats = ["p10", "p25", "p50", "p75", "p90"]
    assert not np.allclose(t[stats].to_numpy(float), exact[stats].to_numpy(float))
    sh = t.loc[t["metric"] == "exposure.platform_share_max", stats].to_numpy(float)
    assert ((sh >= 0) & (sh <= 1)).all() and (np.diff(sh, axis=1) >= 0).all()
    p = noisy.privacy
    assert p["epsilon_total"] == 2.0 and p["epsilon_per_metric"] == pytest.approx(1.0)
    assert p["epsilon_per_statistic"] == pytest.approx(1.0 / 6)
    assert "sequential" in p["statement"] and "share [0, 1]" in p["statement"]
    np.testing.assert_allclose(t["epsilon"].to_numpy(float), 1.0)
    # the same members and secret give the same noise: a repeat cannot be averaged away
    again = peer_benchmarks(both, biz, k=10, epsilon=2.0, secret=b"s" * 32).table
    pd.testing.assert_frame_equal(t, again)


def test_epsilon_release_after_removing_one_business_is_suppressed_or_noised() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 12})
    first = peer_benchmarks(findings, biz, k=10, epsilon=1.0, secret=b"k" * 32)
    gone = biz["business_id"].iloc[0]
    rest = findings.loc[findings["business_id"] != gone]
    # with the ledger: suppressed
    second = peer_benchmarks(rest, biz, k=10, ledger=first.ledger, epsilon=1.0, secret=b"k" * 32)
    assert second.table["status"].tolist() == ["suppressed"]
    # without it (a careless operator): still noised, so the two releases' difference is
    # not the removed business's value
    careless = peer_benchmarks(rest, biz, k=10, epsilon=1.0, secret=b"k" * 32).table
    exact = peer_benchmarks(rest, biz, k=10).table
    assert careless["status"].tolist() == ["published"]
    assert careless["p50"].iloc[0] != pytest.approx(exact["p50"].iloc[0], rel=1e-3)
    assert first.table["p50"].iloc[0] != pytest.approx(careless["p50"].iloc[0], rel=1e-3)


def test_bad_epsilon() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 10})
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="epsilon"):
            peer_benchmarks(findings, biz, epsilon=bad)


def test_compliance_cost_total_is_published_only_with_its_group() -> None:
    sizes = {("coffee", "north", "micro"): 12, ("bakery", "north", "micro"): 4}
    findings, biz = _fleet(sizes)
    cost = findings.assign(metric="exposure.compliance_cost", value=findings["value"] * 10)
    both = pd.concat([findings, cost], ignore_index=True)
    t = peer_benchmarks(both, biz, k=10).table.set_index(["metric", "sector"])
    coffee = biz.loc[biz["sector"] == "coffee", "business_id"]
    expected = cost.loc[cost["business_id"].isin(coffee), "value"].sum()
    assert t.loc[("exposure.compliance_cost", "coffee"), "total"] == pytest.approx(expected)
    assert t.loc[("exposure.compliance_cost", "coffee"), "unit"] == "currency"
    # no total for a metric whose sum means nothing, none for a suppressed group
    assert np.isnan(t.loc[(METRIC, "coffee"), "total"])
    assert np.isnan(t.loc[("exposure.compliance_cost", "bakery"), "total"])
    # removing one member: the group and its total are suppressed, not republished
    first = peer_benchmarks(cost, biz, k=10)
    rest = cost.loc[cost["business_id"] != coffee.iloc[0]]
    again = peer_benchmarks(rest, biz, k=10, ledger=first.ledger).table
    row = again.loc[again["sector"] == "coffee"].iloc[0]
    assert row["status"] == "suppressed" and np.isnan(row["total"])


def test_epsilon_release_noises_the_total_within_its_budget() -> None:
    findings, biz = _fleet({("coffee", "north", "micro"): 30})
    cost = findings.assign(metric="exposure.compliance_cost", value=findings["value"] * 10)
    exact = peer_benchmarks(cost, biz, k=10).table["total"].iloc[0]
    noisy = peer_benchmarks(cost, biz, k=10, epsilon=50.0, secret=b"t" * 32)
    total = noisy.table["total"].iloc[0]
    assert total != exact and 0 <= total <= 1_000_000.0 * noisy.table["n"].iloc[0]
    p = noisy.privacy
    assert p["total_metrics"] == ["exposure.compliance_cost"]
    assert p["epsilon_per_statistic_with_total"] == pytest.approx(50.0 / 7)
    assert "currency [0, 1e+06]" in p["statement"]
