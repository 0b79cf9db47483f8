"""The plan as JSON and Markdown: ``levelfield advise --format json|markdown``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from levelfield import open_workspace
from levelfield.advice import advise, plan_markdown, plan_to_dict
from levelfield.cli import app
from levelfield.findings import Finding

FINDINGS = [
    Finding("exposure.fee_drag", 0.2, "share", "fees take 20 % of gross margin", "watch", {}),
    Finding(
        "pricing.recommended_profit_gain",
        5000.0,
        "currency",
        "repricing adds USD 5,000",
        "info",
        {"low": 2000.0, "high": 8000.0},
    ),
    Finding("landscape.distinctiveness_percentile", 20.0, "index", "20th percentile", "warning"),
    Finding("customers.nps", 12.0, "index", "NPS 12", "watch"),
    Finding("exposure.customer_top1_share", 0.2, "share", "one buyer: 20 %", "warning"),
]


def test_plan_dict_and_markdown_hold_the_whole_plan(shop_file: Path) -> None:
    with open_workspace(shop_file) as ws:
        plan = advise(ws, findings={"all": FINDINGS})
    assert len(plan.actions) > 3  # some actions are below the headline
    d = plan_to_dict(plan)
    json.dumps(d, allow_nan=False)  # no NaN or infinity (the sales task never pays back)
    assert [a["rank"] for a in d["actions"]] == list(range(1, len(plan.actions) + 1))
    assert [a["headline"] for a in d["actions"]].count(True) == len(plan.headline_actions)
    for a, raw in zip(d["actions"], plan.actions, strict=True):
        assert a["assumptions"] == raw.impact.basis and a["assumptions"]
        assert a["success_probability"] == raw.success_probability
    assert {a["success_probability"] for a in d["actions"]} > {1.0}  # some are hypotheses
    assert [c["task"] for c in d["automation"]] == ["bookkeeping", "quotes | offers"]
    assert d["automation"][1]["payback_months"] is None
    assert len(d["scorecard"]) == len(plan.scorecard)
    assert {m["data"] for m in d["missing_data"]} >= {"suppliers with their countries"}

    md = plan_markdown(plan)
    assert md.index("## Actions worth doing this quarter") < md.index("## More actions, ranked")
    for a in plan.actions:
        assert f"{a.rank}. **{a.title}**" in md
        assert f"Assumptions: {a.impact.basis}" in md
        assert f"chance it works: {a.success_probability:.0%}" in md
    assert "| sales | quotes \\| offers |" in md  # a pipe in a cell does not split it
    assert "does not pay back" in md
    assert "## Balanced scorecard" in md and "| customer | Net Promoter Score |" in md
    assert "Suppliers with their countries (levelfield template suppliers" in md


# The CLI runs the real analyses on this small shop; their data warnings are not the point.
@pytest.mark.filterwarnings("ignore::levelfield.errors.LevelfieldWarning")
def test_cli_advise_formats(shop_file: Path) -> None:
    path = shop_file
    runner = CliRunner()
    out = runner.invoke(app, ["advise", "-w", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    assert d["currency"] == "USD"
    assert [c["task"] for c in d["automation"]] == ["bookkeeping", "quotes | offers"]
    md = runner.invoke(app, ["advise", "-w", str(path), "--format", "markdown"])
    assert md.exit_code == 0 and md.stdout.startswith("# Plan\n")
    bad = runner.invoke(app, ["advise", "-w", str(path), "--format", "pdf"])
    assert bad.exit_code == 1
    assert "ConfigError: --format must be text, markdown or json, not 'pdf'" in bad.output
