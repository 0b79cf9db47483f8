"""The demo fleet's group tokens and own competitor rows (what partner matching reads)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from levelfield.cooperation import derive_tokens
from levelfield.cooperation._fleet_partners import fleet_partners
from levelfield.cooperation._partners import MIN_SHARED
from levelfield.demo import CHANNELS, _fleet, _fleet_cooperation, demo_fleet
from levelfield.demo._fleet import fleet_customer_emails
from levelfield.demo._fleet_cooperation import OFFERS, POSITION_TYPES, demo_group_key
from levelfield.errors import ConfigError
from levelfield.workspace import open_workspace

N, SEED, CHUNK = 30, 1, 15  # two chunks: the pools span them


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("coop_fleet")
    demo_fleet(N, d, seed=SEED, chunk=CHUNK)
    return d


def _pair_counts(tokens: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """Tokens in common per pair of businesses (``ids`` order; diagonal: own tokens)."""
    code = pd.Index(ids).get_indexer(tokens["business_id"])
    tok = pd.factorize(tokens["token"])[0]
    inc = np.zeros((len(ids), tok.max() + 1))
    inc[code, tok] = 1.0
    return inc @ inc.T


def test_the_fleet_holds_group_tokens_and_an_own_competitor_row_per_business(fleet: Path) -> None:
    biz = pd.read_parquet(fleet / "businesses.parquet").set_index("business_id")
    tokens = pd.read_parquet(fleet / "group_tokens")
    assert list(tokens.columns) == ["business_id", "group_id", "token"]
    assert set(tokens["group_id"]) == {demo_group_key(SEED).group_id}
    assert tokens["token"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert not tokens.duplicated(["business_id", "token"]).any()
    customers = pd.read_parquet(fleet / "orders").groupby("business_id")["customer_id"].nunique()
    held = tokens.groupby("business_id").size().reindex(customers.index, fill_value=0)
    # web orders always give an e-mail, shop orders often, marketplace orders never
    assert (held <= customers).all() and 0.4 < held.sum() / customers.sum() < 0.95
    comp = pd.read_parquet(fleet / "competitors")
    assert sorted(comp["business_id"]) == sorted(biz.index) and comp["is_self"].all()
    assert {json.dumps(POSITION_TYPES)} == set(comp["attribute_types"])
    attrs = pd.DataFrame([json.loads(a) for a in comp["attributes"]], index=comp["business_id"])
    assert list(attrs.columns) == list(POSITION_TYPES)
    assert (attrs["format"] == biz["sector"].reindex(attrs.index)).all()
    assert (attrs["area"] == biz["region"].reindex(attrs.index)).all()
    assert set(attrs["price_tier"]) == {"budget", "mid", "premium"}
    for sector, offer in zip(attrs["format"], attrs["offer"], strict=True):
        assert offer and set(offer.split(";")) <= set(OFFERS[sector][0] + OFFERS[sector][1])
    assert set(";".join(attrs["channels"]).split(";")) <= set(CHANNELS)
    assert attrs["rating"].astype(float).between(3.5, 5.0).all()


def test_tokens_are_what_each_business_derives_with_cooperate_tokens(
    fleet: Path, tmp_path: Path
) -> None:
    """Oracle: the member's own path (an export with e-mails, derive_tokens) gives the
    fleet's tokens, business by business."""
    emails = fleet_customer_emails(N, SEED, chunk=CHUNK)
    typed = emails["email"] != emails["email"].str.strip().str.lower()
    assert typed.any()  # capitals and spaces occur, so the normalisation is exercised
    tokens = pd.read_parquet(fleet / "group_tokens")
    key = demo_group_key(SEED)
    for bid in emails.loc[typed, "business_id"].unique()[:3]:
        export = tmp_path / f"{bid}.csv"
        emails.loc[emails["business_id"] == bid, ["email"]].to_csv(export, index=False)
        with open_workspace(tmp_path / f"{bid}.duckdb") as ws:
            derive_tokens(ws, key, [export])
            derived = {r[0] for r in ws.con.execute("SELECT token FROM group_tokens").fetchall()}
        assert derived == set(tokens.loc[tokens["business_id"] == bid, "token"])
    # a person is one customer of a business: one e-mail, one pseudonym
    norm = emails.assign(email=emails["email"].str.strip().str.lower())
    assert not norm.duplicated().any()


def test_businesses_of_one_region_share_more_customers_than_across_regions(fleet: Path) -> None:
    biz = pd.read_parquet(fleet / "businesses.parquet")
    shared = _pair_counts(pd.read_parquet(fleet / "group_tokens"), list(biz["business_id"]))
    region = biz["region"].to_numpy()
    off = ~np.eye(len(biz), dtype=bool)
    same = (region[:, None] == region[None, :]) & off
    across = (region[:, None] != region[None, :]) & off
    assert shared[same].mean() > 2.0
    assert shared[same].mean() > 10 * shared[across].mean()
    assert (shared[same] > 0).mean() > 0.5


def test_no_e_mail_is_written_anywhere_in_the_fleet(fleet: Path) -> None:
    checked = 0
    for path in sorted(fleet.rglob("*.parquet")):
        table = pq.read_table(path)
        for name, column in zip(table.column_names, table.columns, strict=True):
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                checked += 1
                assert not pc.any(pc.match_substring(column, "@")).as_py(), (path, name)
    assert checked > 20
    emails = fleet_customer_emails(N, SEED, chunk=CHUNK)["email"].str.strip().str.lower()
    locals_ = set(emails.str.split("@").str[0])
    for path in sorted(fleet.rglob("*.parquet")):  # not even an address's local part
        for column in pq.read_table(path).columns:
            if pa.types.is_string(column.type):
                assert not locals_ & set(column.to_pylist()), path


def test_partner_matching_finds_customers_in_common_and_rivals(fleet: Path) -> None:
    result = fleet_partners(fleet, top=3)
    assert result.overlap_known and result.group_id == demo_group_key(SEED).group_id
    pairs = result.pairs
    comp = pairs.loc[(pairs["kind"] == "complement") & (pairs["shared_customers"] > 0)]
    assert len(comp) >= 1
    assert comp["reasons"].str.contains("of your customers also buy from").all()
    assert comp["overlap_share"].between(0.05, 0.6).all()
    # never a partner on one or two customers in common ("25 % ... (1 of 4)")
    complements = pairs.loc[pairs["kind"] == "complement"]
    assert (complements["shared_customers"] >= MIN_SHARED).all()
    rivals = pairs.loc[pairs["kind"] == "rival"]
    assert result.summary()["rival_pairs"] >= 1
    biz = pd.read_parquet(fleet / "businesses.parquet").set_index("business_id")
    for col in ("sector", "region"):  # rivals: same sector, same region, close positions
        assert (
            biz[col].reindex(rivals["member_id"]).to_numpy()
            == biz[col].reindex(rivals["partner_id"]).to_numpy()
        ).all()
    assert (rivals["position_distance"] < 0.12).all()


def test_the_same_seed_gives_the_same_tokens_and_positions(fleet: Path, tmp_path: Path) -> None:
    demo_fleet(N, tmp_path / "again", seed=SEED, chunk=CHUNK)
    for name in ("group_tokens", "competitors"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(fleet / name), pd.read_parquet(tmp_path / "again" / name)
        )
    demo_fleet(N, tmp_path / "other", seed=SEED + 1, chunk=CHUNK)
    other = pd.read_parquet(tmp_path / "other" / "group_tokens")
    assert set(other["group_id"]) == {demo_group_key(SEED + 1).group_id}
    assert not set(other["token"]) & set(pd.read_parquet(fleet / "group_tokens")["token"])


def test_the_cooperation_stream_moves_no_draw_of_the_other_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """People, tokens and positions drawn from another stream leave every other
    generated table as it was."""

    def chunks() -> list[dict[str, pd.DataFrame]]:
        rng = np.random.default_rng(SEED)
        return list(_fleet._chunks(_fleet._businesses(N, rng), rng, SEED, CHUNK))

    before = chunks()
    monkeypatch.setattr(
        _fleet_cooperation, "cooperation_rng", lambda seed: np.random.default_rng([seed, 99])
    )
    after = chunks()
    assert not before[0]["group_tokens"].equals(after[0]["group_tokens"])
    for a, b in zip(before, after, strict=True):
        for name in ("orders", "order_lines", "suppliers", "catalog"):
            pd.testing.assert_frame_equal(a[name], b[name])


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_fleet_sizes_are_refused(n: object) -> None:
    with pytest.raises(ConfigError, match="fleet size"):
        fleet_customer_emails(n, SEED)  # type: ignore[arg-type]
