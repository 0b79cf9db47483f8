"""Cooperation advice from the CLI: the playbook's rules fire from stored group results."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield import open_workspace
from levelfield.cli import app
from levelfield.cooperation import BUYING_RUN, GroupDemo, buying_group, demo_group
from levelfield.cooperation import _cli as coop_cli
from levelfield.pipeline import group_findings


def test_buying_group_stores_each_share_and_advises(
    group: GroupDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coop_cli, "console", Console(width=400))
    args = ["cooperate", "buying-group", "--purchases", str(group.purchases)]
    args += ["--price-breaks", str(group.price_breaks), "--workspaces", str(group.directory)]
    out = CliRunner().invoke(app, [*args, "--advise"])
    assert out.exit_code == 0, out.output
    # six of the twelve members are in the purchases file
    assert "Stored each member's share in 6 workspace(s)" in out.output
    expected = buying_group(*demo_group())
    row = expected.members.set_index("member").loc["Little Roastery"]
    with open_workspace(group.workspaces[4], create=False) as ws:  # Little Roastery
        found = group_findings(ws)[BUYING_RUN][0]
        run = ws.latest_run(BUYING_RUN)
    assert found.metric == "cooperation.buying_group_saving"
    assert found.value == pytest.approx(row["nucleolus"])  # Shapley leaves the core here
    assert found.context["low"] <= found.value <= found.context["high"]
    assert run is not None and run["summary"]["member"] == "Little Roastery"
    assert json.dumps(run["summary"])  # JSON-ready
    assert "Advice for Little Roastery" in out.output
    assert "Buy with the group: it saves you USD" in out.output
    nobody = CliRunner().invoke(app, [*args[:6], "--advise"])
    assert nobody.exit_code == 1 and "ConfigError: --advise needs --workspaces" in nobody.output


@pytest.mark.slow
# The demo members are small and partial (no opening cash, few costs): the analyses warn
# about what they assume, which pytest would turn into errors; the advice is the subject.
@pytest.mark.filterwarnings("ignore::levelfield.errors.LevelfieldWarning")
def test_levelfield_advise_reads_the_group_results(group: GroupDemo) -> None:
    ws_path = group.workspaces[0]  # Bean There Cafe
    CliRunner().invoke(
        app,
        ["cooperate", "partners", str(group.directory), "--group-key", str(group.group_key)],
    )
    out = CliRunner().invoke(app, ["advise", "-w", str(ws_path), "--format", "json"])
    assert out.exit_code == 0, out.output
    plan = json.loads(out.output)
    rules = {a["rule"] for a in plan["actions"]}
    assert "partner_bundle" in rules
