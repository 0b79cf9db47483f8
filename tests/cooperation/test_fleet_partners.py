"""Partner matching over a fleet Parquet dataset: planted complementary pair and rivals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield.cli import app
from levelfield.cooperation import _cli as coop_cli
from levelfield.cooperation._fleet_partners import fleet_partners
from levelfield.cooperation._partners import (
    MemberProfile,
    _pairs,
    gower_distances,
)
from levelfield.demo import demo_fleet
from levelfield.errors import ConfigError, DataError

runner = CliRunner()
CAFE, BOOKS = "b000022", "b000005"  # coffee and bookshop, both in the west (seed 1)
RIVALS = ("b000008", "b000024")  # two bike shops in the south
SHARE = 0.30
TYPES = {
    "format": "category",
    "price_tier": "ordinal(budget<mid<premium)",
    "offer": "set",
    "rating": "numeric",
}


def _plant(d: Path) -> pd.DataFrame:
    """Group tokens (one per customer; 30 % of the cafe's customers also buy books) and
    own competitor rows (the two bike shops nearly identical; everyone else has a
    speciality of its own, so no other pair is close), in place of the demo's own."""
    for name in ("group_tokens", "competitors"):
        shutil.rmtree(d / name)
    biz = pd.read_parquet(d / "businesses.parquet")
    orders = pd.read_parquet(d / "orders", columns=["business_id", "customer_id"])
    cust = orders.drop_duplicates().sort_values(["business_id", "customer_id"])
    tokens = cust.assign(token="t:" + cust["customer_id"], group_id="g1")
    cafe = tokens.loc[tokens["business_id"] == CAFE]
    shared = cafe.head(round(SHARE * len(cafe))).assign(business_id=BOOKS)
    tokens = pd.concat([tokens, shared], ignore_index=True)
    (d / "group_tokens").mkdir()
    tokens[["business_id", "group_id", "token"]].to_parquet(d / "group_tokens" / "part-0.parquet")
    rng = np.random.default_rng(7)
    tiers = np.array(["budget", "mid", "premium"])
    attrs = [
        {
            "format": s,
            "price_tier": str(tiers[i % 3]),
            "offer": f"{s};house speciality {i}",
            "rating": float(np.round(rng.uniform(3.0, 5.0), 2)),
        }
        for i, s in enumerate(biz["sector"])
    ]
    for b in RIVALS:
        attrs[int(biz.index[biz["business_id"] == b][0])] = {
            "format": "bike shop",
            "price_tier": "premium",
            "offer": "bike shop;repairs",
            "rating": 4.9 if b == RIVALS[0] else 4.88,
        }
    comp = pd.DataFrame(
        {
            "business_id": biz["business_id"],
            "is_self": True,
            "attributes": [json.dumps(a) for a in attrs],
            "attribute_types": json.dumps(TYPES),
        }
    )
    (d / "competitors").mkdir()
    comp.to_parquet(d / "competitors" / "part-0.parquet")
    return tokens


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    d = tmp_path_factory.mktemp("fleet")
    demo_fleet(30, d, seed=1)
    biz = pd.read_parquet(d / "businesses.parquet").set_index("business_id")
    assert biz.loc[CAFE, "sector"] == "coffee" and biz.loc[BOOKS, "sector"] == "bookshop"
    assert (biz.loc[list(RIVALS), "sector"] == "bike shop").all()
    return d, _plant(d)


def test_planted_complementary_pair_and_rivals_are_recovered(
    fleet: tuple[Path, pd.DataFrame],
) -> None:
    d, tokens = fleet
    result = fleet_partners(d, top=3)
    assert result.overlap_known and result.group_id == "g1"
    p = result.pairs
    cafe_top = p.loc[(p["member_id"] == CAFE) & (p["kind"] == "complement")]
    assert cafe_top.iloc[0]["partner_id"] == BOOKS
    n_cafe = int((tokens["business_id"] == CAFE).sum())
    assert cafe_top.iloc[0]["shared_customers"] == round(SHARE * n_cafe)
    assert cafe_top.iloc[0]["overlap_share"] == pytest.approx(round(SHARE * n_cafe) / n_cafe)
    assert (
        f"{round(SHARE * n_cafe) / n_cafe:.0%} of your customers also buy from"
        in (cafe_top.iloc[0]["reasons"])
    )
    assert "Offer a joint" in cafe_top.iloc[0]["suggestion"]
    # Only the planted pair shares customers: nobody else is a complement.
    assert set(p.loc[p["kind"] == "complement", "member_id"]) == {CAFE, BOOKS}
    rivals = p.loc[p["kind"] == "rival"]
    assert sorted(zip(rivals["member_id"], rivals["partner_id"], strict=True)) == [
        RIVALS,
        RIVALS[::-1],
    ]
    assert "is a rival" in rivals.iloc[0]["reasons"]
    assert "Cooperate only where you do not compete" in rivals.iloc[0]["activities"]
    assert result.summary()["rival_pairs"] == 1


def test_fleet_scores_equal_the_workspace_matcher_on_the_same_profiles(
    fleet: tuple[Path, pd.DataFrame],
) -> None:
    """Peer: the dense per-group matcher of cooperate partners (workspaces) gives the
    same score, overlap and rival flag for every pair the fleet kernel keeps."""
    d, tokens = fleet
    biz = pd.read_parquet(d / "businesses.parquet")
    comp = pd.read_parquet(d / "competitors")
    ids = list(biz["business_id"])
    sets = tokens.groupby("business_id")["token"].apply(set).reindex(ids)
    overlap = np.array([[len(sets[a] & sets[b]) for b in ids] for a in ids], dtype=np.int64)
    dist = gower_distances([json.loads(a) for a in comp["attributes"]], [TYPES] * len(comp))
    sups = pd.read_parquet(d / "suppliers").groupby("business_id")["name"].apply(frozenset)
    members = [
        MemberProfile(b, d, r, frozenset({s}), sups.get(b, frozenset()), 0, 0.0, "EUR", 0)
        for b, r, s in zip(ids, biz["region"], biz["sector"], strict=True)
    ]
    dense = _pairs(members, overlap, dist).set_index(["member", "partner"])
    got = fleet_partners(d, top=5).pairs.set_index(["member_id", "partner_id"])
    peer = dense.loc[got.index]
    assert np.allclose(got["score"].fillna(-1), peer["score"].fillna(-1))
    assert (got["kind"].eq("rival") == peer["rival"]).all()
    assert np.array_equal(got["shared_customers"].to_numpy(), peer["shared_customers"].to_numpy())
    # and the fleet's top partner of each member is the dense matcher's best complement
    best = dense.loc[~dense["rival"] & (dense["overlap_share"] >= 0.05)].sort_values(
        "score", ascending=False
    )
    assert got.xs(CAFE).iloc[0].name == best.xs(CAFE).index[0]


def test_without_tokens_or_positions_the_output_says_what_it_cannot_tell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_fleet(12, tmp_path, seed=2)
    for name in ("group_tokens", "competitors"):  # a fleet that has neither
        shutil.rmtree(tmp_path / name)
    result = fleet_partners(tmp_path, top=2)
    assert not result.overlap_known
    assert result.pairs["shared_customers"].isna().all()
    assert (result.pairs["kind"] == "complement").all()  # no positions: no rival flagged
    notes = " ".join(result.notes)
    assert "customers in common are not computed" in notes
    assert "pseudonymised per business" in notes and "rivals cannot be told apart" in notes
    assert (result.pairs["product_similarity"] < 1).all()
    monkeypatch.setattr(coop_cli, "console", Console(width=200))
    out_file = tmp_path / "pairs.csv"
    out = runner.invoke(
        app, ["cooperate", "partners", "--fleet", str(tmp_path), "-o", str(out_file)]
    )
    assert out.exit_code == 0, out.output
    assert "customers in common unknown" in out.output
    assert "Note: customers in common are not computed" in out.output
    assert len(pd.read_csv(out_file)) == len(fleet_partners(tmp_path, top=3).pairs)
    out = runner.invoke(app, ["cooperate", "partners"])
    assert out.exit_code == 1 and "ConfigError" in out.output and "--fleet" in out.output


def test_bad_fleets_are_named(tmp_path: Path, fleet: tuple[Path, pd.DataFrame]) -> None:
    with pytest.raises(DataError, match="businesses.parquet is missing"):
        fleet_partners(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        fleet_partners(tmp_path / "nope")
    with pytest.raises(DataError, match="no tokens for group"):
        fleet_partners(fleet[0], group_id="other")
    with pytest.raises(ConfigError, match="top must be 1 or more"):
        fleet_partners(fleet[0], top=0)
