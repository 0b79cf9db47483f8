"""Partner and co-opetition matching on the demo group: the planted pairs are recovered."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield import open_workspace
from levelfield.cli import app
from levelfield.cooperation import (
    GROUP_TRUTH,
    GroupDemo,
    derive_tokens,
    find_workspaces,
    match_partners,
    new_group_key,
    read_group_key,
    write_group_key,
)
from levelfield.cooperation import _cli as coop_cli
from levelfield.cooperation._partners import MIN_SHARED, _classify
from levelfield.errors import ConfigError, DataError, InsufficientDataError


@pytest.fixture(scope="module")
def result(group: GroupDemo):  # type: ignore[no-untyped-def]
    return match_partners(list(group.workspaces), read_group_key(group.group_key))


def test_planted_complementary_pairs_are_each_others_top_partner(result) -> None:  # type: ignore[no-untyped-def]
    for a, b in GROUP_TRUTH["complementary"]:
        assert result.top_partners(a)["partner"].iloc[0] == b
        assert result.top_partners(b)["partner"].iloc[0] == a


def test_overlap_counts_equal_the_planted_share_exactly(result, group: GroupDemo) -> None:  # type: ignore[no-untyped-def]
    # Recount from the export files themselves (the e-mails the simulation wrote).
    emails = {
        m: set(
            duckdb.sql(
                f"SELECT DISTINCT email FROM read_csv('{p.parent / 'exports' / 'orders.csv'}')"
            ).fetchnumpy()["email"]
        )
        for m, p in zip(group.members, group.workspaces, strict=True)
    }
    pairs = result.pairs.set_index(["member", "partner"])
    for (a, b), share in GROUP_TRUTH["overlap_share"].items():
        row = pairs.loc[(a, b)]
        assert row["shared_customers"] == len(emails[a] & emails[b])
        assert row["customers_with_token"] == len(emails[a])
        # planted share plus what chance adds in a town of 20,000 (a few %)
        assert share <= row["overlap_share"] <= share + 0.04
    # Unplanted pairs only share what chance gives (a town of 20,000 people).
    weak = result.pairs.loc[result.pairs["kind"] == "weak", "overlap_share"]
    assert weak.max() < 0.05


def test_reasons_and_suggestion_are_in_words(result) -> None:  # type: ignore[no-untyped-def]
    top = result.top_partners("Bean There Cafe").iloc[0]
    assert "% of your customers also buy from Corner Bakery" in top["reasons"]
    assert "sells what you don't: bread, pastries vs coffee, tea" in top["reasons"]
    assert "you share supplier PackRight" in top["reasons"]
    assert "same region (north)" in top["reasons"]
    assert f"to the {top['shared_customers']:,} customers you already share" in top["suggestion"]
    assert 0 < top["low"] < top["high"]


def test_rivals_are_flagged_for_non_competing_activities_only(result) -> None:  # type: ignore[no-untyped-def]
    a, b = GROUP_TRUTH["rivals"]
    rivals = result.pairs.loc[result.pairs["kind"] == "rival"]
    assert sorted(map(tuple, rivals[["member", "partner"]].to_numpy())) == sorted([(a, b), (b, a)])
    row = result.rivals(a).iloc[0]
    assert row["position_distance"] < 0.12 and row["product_similarity"] == 1.0
    assert "joint purchasing (you both buy from Mill & Co, PackRight)" in row["reasons"]
    assert "Do not bundle" in row["reasons"]
    assert b not in set(result.top_partners(a)["partner"])  # never a bundle partner


def test_positions_use_landscape_gower_distance(result) -> None:  # type: ignore[no-untyped-def]
    d = result.pairs.set_index(["member", "partner"])["position_distance"]
    assert d[("Bean There Cafe", "Corner Bakery")] == pytest.approx(
        d[("Corner Bakery", "Bean There Cafe")]
    )
    assert 0.12 <= d[("Bean There Cafe", "Corner Bakery")] <= 0.6
    assert np.isfinite(result.pairs["position_distance"]).all()


def test_no_email_or_token_is_stored_outside_group_tokens(group: GroupDemo, result) -> None:  # type: ignore[no-untyped-def]
    from levelfield.cooperation import record_partners

    record_partners(result, {"test": True})
    with open_workspace(group.workspaces[0], create=False) as ws:
        dump = json.dumps(
            ws.con.execute(
                "SELECT summary FROM runs WHERE analysis = 'cooperation_partners'"
            ).fetchall()
        ) + json.dumps(ws.con.execute("SELECT text, context FROM findings").fetchall())
        tokens = {r[0] for r in ws.con.execute("SELECT token FROM group_tokens").fetchall()}
    assert "@" not in dump
    assert not any(t in dump for t in tokens)


def test_group_key_is_never_the_workspace_key(tmp_path: Path, group: GroupDemo) -> None:
    from levelfield.cooperation import GroupKey

    with open_workspace(tmp_path / "w.duckdb") as ws:
        own = GroupKey(ws.require_key())
        with pytest.raises(ConfigError, match="own pseudonym key"):
            derive_tokens(ws, own, [group.workspaces[0].parent / "exports" / "orders.csv"])


def test_tokens_depend_on_the_group_key(tmp_path: Path, group: GroupDemo) -> None:
    export = group.workspaces[0].parent / "exports" / "orders.csv"
    k1, k2 = new_group_key(), new_group_key()
    with open_workspace(tmp_path / "w.duckdb") as ws:
        a = derive_tokens(ws, k1, [export])
        b = derive_tokens(ws, k2, [export])
        again = derive_tokens(ws, k1, [export])
        t1 = {
            r[0]
            for r in ws.con.execute(
                "SELECT token FROM group_tokens WHERE group_id = ?", [k1.group_id]
            ).fetchall()
        }
        t2 = {
            r[0]
            for r in ws.con.execute(
                "SELECT token FROM group_tokens WHERE group_id = ?", [k2.group_id]
            ).fetchall()
        }
    assert a.emails == b.emails == 420 and again.tokens == 420  # re-deriving adds nothing
    assert not t1 & t2


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such group key file"):
        read_group_key(tmp_path / "missing.key")
    (tmp_path / "bad.key").write_text("hello")
    with pytest.raises(ConfigError, match="not a group key file"):
        read_group_key(tmp_path / "bad.key")
    key = new_group_key()
    write_group_key(tmp_path / "g.key", key)
    assert read_group_key(tmp_path / "g.key") == key
    assert (tmp_path / "g.key").stat().st_mode & 0o077 == 0
    with pytest.raises(ConfigError, match="never overwritten"):
        write_group_key(tmp_path / "g.key", key)
    (tmp_path / "no_email.csv").write_text("order_id,total\n1,2\n")
    with open_workspace(tmp_path / "w.duckdb") as ws:
        with pytest.raises(DataError, match="no e-mail column"):
            derive_tokens(ws, key, [tmp_path / "no_email.csv"])
        with pytest.raises(ConfigError, match="at least one order export"):
            derive_tokens(ws, key, [])
    with pytest.raises(InsufficientDataError, match="at least 2 members"):
        find_workspaces(tmp_path)


def test_cli_partners_prints_reasons_privacy_and_advice(
    group_dir: Path, group: GroupDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coop_cli, "console", Console(width=400))
    out = CliRunner().invoke(
        app,
        ["cooperate", "partners", str(group_dir), "--group-key", str(group.group_key), "--advise"],
    )
    assert out.exit_code == 0, out.output
    assert "also buy from Corner Bakery" in out.output
    assert "Co-opetition: Rise & Shine Bakery is a rival" in out.output
    assert "Privacy:" in out.output
    assert "Partner with Corner Bakery: a bundle and a shared mailing" in out.output
    assert "Cooperate with your rival Rise & Shine Bakery where you do not compete" in out.output
    helptext = CliRunner().invoke(app, ["cooperate", "partners", "--help"], env={"COLUMNS": "300"})
    assert "can test a guessed e-mail" in helptext.output
    bad = CliRunner().invoke(
        app, ["cooperate", "partners", str(group_dir), "--group-key", str(group_dir / "nope")]
    )
    assert bad.exit_code == 1 and "ConfigError: " in bad.output


def test_one_or_two_customers_in_common_are_no_reason_to_partner() -> None:
    """A 25 % overlap that is 1 customer of 4 is chance: the pair is weak, not a partner;
    3 of 12 (the same share) is a complement."""
    pairs = pd.DataFrame(
        {
            "rival": [False, False, False],
            "overlap_share": [0.25, 0.25, 0.25],
            "shared_customers": [1, MIN_SHARED - 1, MIN_SHARED],
            "product_similarity": [0.0, 0.0, 0.0],
        }
    )
    assert _classify(pairs).tolist() == ["weak", "weak", "complement"]
