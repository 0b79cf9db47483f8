"""The demo buying group: the analysis recovers what was planted."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield.cli import app
from levelfield.cooperation import DEMO_TRUTH, buying_group, demo_group
from levelfield.cooperation import _cli as coop_cli


def test_demo_group_recovers_planted_tiers_own_deal_and_leaving_subgroup() -> None:
    result = buying_group(*demo_group())
    tiers = dict(zip(result.items["item"], result.items["tier"], strict=True))
    assert tiers == DEMO_TRUTH["tiers"]
    member, item = DEMO_TRUTH["own_deal"]
    assert any(n.startswith(f"{member} pays") and item in n for n in result.notes)
    leaving = result.summary()["leave_under_proportional"]
    assert DEMO_TRUTH["in_leaving_subgroup"] in leaving
    assert DEMO_TRUTH["not_in_leaving_subgroup"] not in leaving
    assert result.core["nucleolus"] is not None and result.core["nucleolus"].in_core
    for rule in ("proportional", "shapley", "nucleolus"):
        assert result.members[rule].sum() == pytest.approx(result.total_saving)


def test_cli_demo_then_buying_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coop_cli, "console", Console(width=200))
    runner = CliRunner()
    out = runner.invoke(app, ["cooperate", "demo", str(tmp_path / "group")])
    assert out.exit_code == 0, out.output
    out = runner.invoke(
        app,
        [
            "cooperate",
            "buying-group",
            "--purchases",
            str(tmp_path / "group" / "purchases.csv"),
            "--price-breaks",
            str(tmp_path / "group" / "price_breaks.csv"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "Together you reach tier 3 for espresso beans 1 kg" in out.output
    assert "Suggested split: nucleolus" in out.output
    assert "Proportional split: " in out.output and "reason to leave" in out.output
