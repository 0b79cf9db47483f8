"""The demo group: built through ingest, deterministic by seed, bad arguments refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from levelfield import open_workspace
from levelfield.cli import app
from levelfield.cooperation import GroupDemo, build_demo_group
from levelfield.errors import ConfigError


def _digests(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("exports/*.csv"))
    }


def test_members_are_workspaces_built_through_ingest(group: GroupDemo) -> None:
    assert len(group.workspaces) == 12
    with open_workspace(group.workspaces[1], create=False) as ws:
        kinds = {
            r[0] for r in ws.con.execute("SELECT kind FROM imports WHERE status = 'ok'").fetchall()
        }
        emails = ws.con.execute(
            "SELECT count(*) FROM orders WHERE customer_id LIKE '%@%'"
        ).fetchall()[0][0]
    assert {
        "orders",
        "products",
        "suppliers",
        "channels",
        "competitors",
        "business",
        "costs",
    } <= kinds
    assert emails == 0  # pseudonymized at ingest like any import


@pytest.mark.slow
def test_same_seed_same_exports_other_seed_other_exports(tmp_path: Path) -> None:
    a = build_demo_group(tmp_path / "a", n=6, seed=1)
    b = build_demo_group(tmp_path / "b", n=6, seed=1)
    c = build_demo_group(tmp_path / "c", n=6, seed=2)
    assert _digests(a.directory) == _digests(b.directory)
    assert _digests(a.directory) != _digests(c.directory)


def test_bad_group_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="6 to 12 businesses"):
        build_demo_group(tmp_path / "g", n=5)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        build_demo_group(tmp_path / "full", n=6)
    assert (tmp_path / "full" / "x.txt").read_text() == "mine"
    out = CliRunner().invoke(app, ["cooperate", "demo", str(tmp_path / "g"), "--group", "13"])
    assert out.exit_code == 1 and "ConfigError: a demo group has 6 to 12" in out.output
