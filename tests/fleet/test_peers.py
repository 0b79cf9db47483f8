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
