"""The association's evidence pack: k-anonymous aggregates only, suppressions named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from levelfield import open_workspace
from levelfield.cli import app
from levelfield.cooperation import GROUP_TRUTH, GroupDemo
from levelfield.cooperation._evidence import (
    evidence_pack,
    member_evidence,
    render_evidence_html,
)
from levelfield.errors import ConfigError, InsufficientDataError


@pytest.fixture(scope="module")
def pack(group: GroupDemo):  # type: ignore[no-untyped-def]
    return evidence_pack(list(group.workspaces))


def _row(pack, metric: str, sector: str) -> pd.Series:  # type: ignore[no-untyped-def]
    t = pack.table
    return t.loc[(t["metric"] == metric) & (t["sector"] == sector)].iloc[0]


def test_k_is_10_with_more_than_a_handful_and_small_platforms_are_suppressed(pack) -> None:  # type: ignore[no-untyped-def]
    assert pack.k == 10 and pack.n_members == 12
    for platform, users in GROUP_TRUTH["platform_users"].items():
        assert len(users) < 10
        row = _row(pack, "evidence.fee_rate", platform)
        assert row["status"] == "suppressed" and pd.isna(row["n"]) and pd.isna(row["p50"])
    square = _row(pack, "evidence.fee_rate", "Square")  # every member's card payments
    assert square["status"] == "published" and square["n"] == 12
    assert square["p50"] == pytest.approx(0.026, abs=5e-4)  # the demo's card fee


def test_dependence_and_compliance_match_the_members_figures(pack, group: GroupDemo) -> None:  # type: ignore[no-untyped-def]
    members = []
    for p in group.workspaces:
        with open_workspace(p, create=False) as ws:
            members.append(member_evidence(ws))
    dependent = [
        m.largest_platform_share is not None and m.largest_platform_share >= 0.5 for m in members
    ]
    dep = _row(pack, "evidence.platform_dependent", "all members")
    assert dep["status"] == "published" and dep["mean"] == pytest.approx(sum(dependent) / 12)
    # members without a platform (bike shop, wine shop) do not depend on one
    no_platform = {"Wheel Easy Bikes", "Hilltop Wine"}
    assert not any(d for m, d in zip(members, dependent, strict=True) if m.name in no_platform)
    comp = _row(pack, "evidence.compliance_cost_per_employee", "all members")
    per_employee = sorted(m.compliance_per_employee for m in members if m.compliance_per_employee)
    assert comp["p50"] == pytest.approx(pd.Series(per_employee).median())
    assert comp["p50"] == pytest.approx(1150.0, rel=0.03)  # what the demo members book


def test_html_names_suppressions_and_shows_no_member(pack, group: GroupDemo) -> None:  # type: ignore[no-untyped-def]
    page = render_evidence_html(pack, "Main Street Association")
    assert "<script" not in page and "http" not in page.split("</style>")[0]
    for platform in ("Uber Eats", "Etsy", "Amazon"):
        assert f"fee rate, {platform}: fewer than k=10 members contribute" in page
    assert "9,083" in page  # Crain & Crain 2014, large firms
    for name in group.members:
        assert name not in page


def test_second_pack_after_one_member_left_is_not_republished(group: GroupDemo, pack) -> None:  # type: ignore[no-untyped-def]
    again = evidence_pack(list(group.workspaces[:11]), ledger=pack.ledger)
    row = _row(again, "evidence.compliance_cost_per_employee", "all members")
    assert row["status"] == "suppressed" and "differ from an earlier release" in row["reason"]
    same = evidence_pack(list(group.workspaces), ledger=pack.ledger)
    assert _row(same, "evidence.fee_rate", "Square")["status"] == "published"


def test_bad_k_and_too_few_members(group: GroupDemo) -> None:
    with pytest.raises(ConfigError, match="k >= 10"):
        evidence_pack(list(group.workspaces), k=5)
    with pytest.raises(ConfigError, match="at least 3"):
        evidence_pack(list(group.workspaces[:4]), k=2)
    with pytest.raises(InsufficientDataError, match="at least 3 members"):
        evidence_pack(list(group.workspaces[:2]))
    small = evidence_pack(list(group.workspaces[:4]))
    assert small.k == 3 and "for the members themselves" in render_evidence_html(small)


def test_cli_writes_the_pack_and_a_private_ledger(group_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack.html"
    res = CliRunner().invoke(app, ["cooperate", "evidence-pack", str(group_dir), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (group_dir / ".evidence_ledger.parquet").is_file()
    bad = CliRunner().invoke(app, ["cooperate", "evidence-pack", str(tmp_path), "-o", str(out)])
    assert bad.exit_code == 1 and "InsufficientDataError: " in bad.output
