"""The CLI's own commands: init, status, --version, friendly errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield import __version__, cli, open_workspace
from levelfield.cli import app

runner = CliRunner()


def test_version_and_help() -> None:
    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0
    assert __version__ in out.output
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    for command in ("init", "import", "analyze", "advise", "report", "export", "serve", "demo"):
        assert command in out.output


def test_init_then_status_shows_counts_and_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wide console so the ledger's file names are not folded (test runners are narrow).
    monkeypatch.setattr(cli, "console", Console(width=200))
    ws_path = tmp_path / "shop.duckdb"
    out = runner.invoke(app, ["init", str(ws_path)])
    assert out.exit_code == 0, out.output
    with open_workspace(ws_path) as ws:
        ws.con.execute(
            "INSERT INTO imports VALUES (1, 'orders', 'orders_export.csv', 'x', 'shopify', 3, 3, 0, "
            "now(), now(), 'ok', NULL)"
        )
    out = runner.invoke(app, ["status", "-w", str(ws_path)])
    assert out.exit_code == 0, out.output
    assert "orders_export.csv" in out.output
    assert "data fingerprint" in out.output


def test_user_errors_print_type_and_message_without_traceback(tmp_path: Path) -> None:
    out = runner.invoke(app, ["status", "-w", str(tmp_path / "missing.duckdb")])
    assert out.exit_code == 1
    assert "WorkspaceError" in out.output
    assert "Traceback" not in out.output
    out = runner.invoke(app, ["analyze", "astrology", "-w", str(tmp_path / "x.duckdb")])
    assert out.exit_code == 1
    assert "ConfigError" in out.output
