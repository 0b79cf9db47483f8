"""``levelfield set`` / ``levelfield settings`` and ``--debug``."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield import _settings_cli, cli, open_workspace
from levelfield.cli import app

runner = CliRunner()


def _text(out: object) -> str:
    return " ".join(str(getattr(out, "output", "")).split())


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "console", Console(width=250))


def test_set_list_reset_and_history(tmp_path: Path, wide: None) -> None:
    w = str(tmp_path / "shop.duckdb")
    assert runner.invoke(app, ["init", w]).exit_code == 0
    out = runner.invoke(app, ["set", "pricing.max_step", "5%", "-w", w])
    assert out.exit_code == 0, out.output
    assert "pricing.max_step = 0.05 share of price" in _text(out)
    out = runner.invoke(app, ["settings", "pricing.max", "-w", w])
    assert out.exit_code == 0, out.output
    text = _text(out)
    assert "pricing.max_step │ 0.05 │ share of price │ user" in text
    assert "customers.model" not in text  # the prefix filters
    out = runner.invoke(app, ["settings", "-w", w])
    for key in ("customers.model", "scenarios.scenario_file", "advice.buy_together.low_share"):
        assert key in _text(out)
    out = runner.invoke(app, ["settings", "--reset", "pricing.max_step", "-w", w])
    assert out.exit_code == 0 and "reset: 0.1 (from default)" in _text(out)
    out = runner.invoke(app, ["settings", "--history", "-w", w])
    assert "pricing.max_step │ 0.05 │ (reset)" in _text(out)
    assert "cli:" in _text(out)


def test_a_bad_value_or_key_says_what_is_allowed_without_traceback(tmp_path: Path) -> None:
    w = str(tmp_path / "shop.duckdb")
    runner.invoke(app, ["init", w])
    out = runner.invoke(app, ["set", "customers.horizon_months", "0", "-w", w])
    assert out.exit_code == 1
    assert (
        "ConfigError: setting customers.horizon_months: '0' is not allowed; give a whole "
        "number with 1 <= x <= 120" in _text(out)
    )
    out = runner.invoke(app, ["set", "customer.model", "bgnbd", "-w", w])
    assert out.exit_code == 1 and "did you mean customers.model" in _text(out)
    assert "Traceback" not in out.output and ".py" not in out.output
    with open_workspace(w) as ws:
        assert ws.settings.ledger() == []


def test_debug_shows_the_traceback_of_a_bug_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.delenv("LEVELFIELD_DEBUG", raising=False)
    monkeypatch.setattr(cli, "_open", broken)
    out = runner.invoke(app, ["status", "-w", str(tmp_path / "x.duckdb")])
    assert out.exit_code == 2
    assert "InternalError: RuntimeError: boom" in _text(out) and "--debug" in _text(out)
    assert "Traceback" not in out.output
    out = runner.invoke(app, ["--debug", "status", "-w", str(tmp_path / "x.duckdb")])
    assert out.exit_code == 2
    assert "Traceback" in out.output and "RuntimeError: boom" in out.output
    monkeypatch.delenv("LEVELFIELD_DEBUG", raising=False)
    assert _settings_cli.__doc__
