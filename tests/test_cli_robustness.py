"""Issue 16 item 12: Ctrl-C and unwritable outputs are not reported as bugs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import Result
from typer.testing import CliRunner

from levelfield import cli, open_workspace
from levelfield.cli import app

runner = CliRunner()


def _text(res: Result) -> str:
    return " ".join(res.output.split())


def _runs(path: Path) -> int:
    with open_workspace(path) as ws:
        return int(ws.con.execute("SELECT count(*) FROM runs").fetchall()[0][0])


def test_duckdb_interrupt_is_an_interruption_not_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C during a DuckDB query surfaces as duckdb.InterruptException, not KeyboardInterrupt.
    def interrupted(*args: object, **kwargs: object) -> None:
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(cli, "run_analysis", interrupted)
    w = tmp_path / "w.duckdb"
    open_workspace(w).close()
    res = runner.invoke(app, ["analyze", "customers", "-w", str(w)])
    assert res.exit_code == 130
    assert "Interrupted" in _text(res)
    assert "bug" not in _text(res)


def test_report_stops_on_interrupt_inside_an_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levelfield import pipeline

    def interrupted(*args: object, **kwargs: object) -> None:
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(pipeline, "run_analysis", interrupted)
    w = tmp_path / "w.duckdb"
    open_workspace(w).close()
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", "-w", str(w), "-o", str(out)])
    assert res.exit_code == 130, res.output
    assert not out.exists()


@pytest.mark.slow
def test_sigint_during_a_long_import_exits_130(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    duckdb.sql(
        "COPY (SELECT 'o' || i AS order_id, DATE '2024-01-01' + (i % 300)::INT AS ordered_at, "
        "'c' || (i % 9999) || '@x.org' AS email, (i % 97) + 0.5 AS total FROM range(3000000) t(i)) "
        f"TO '{big}' (HEADER)"
    )
    w = tmp_path / "w.duckdb"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from levelfield.cli import main; main()",
            "import",
            "orders",
            str(big),
            "-w",
            str(w),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        # A test worker (pytest-xdist) may run with SIGINT ignored, and a child inherits
        # that; a terminal's Ctrl-C reaches a command with the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not w.exists() and time.monotonic() < deadline:  # the CLI is loaded and importing
        time.sleep(0.05)
    time.sleep(1.0)
    assert proc.poll() is None, "the import finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, out, err[-2000:])
    assert "Interrupted" in err
    assert "bug" not in err
    with open_workspace(w) as ws:  # all or nothing
        assert ws.counts()["orders"] == 0


def test_unwritable_report_path_fails_before_any_analysis(tmp_path: Path) -> None:
    w = tmp_path / "w.duckdb"
    open_workspace(w).close()
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    before = _runs(w)
    res = runner.invoke(app, ["report", "-w", str(w), "-o", str(blocker / "report.html")])
    assert res.exit_code == 1
    assert "ConfigError: cannot write to" in _text(res)
    assert "Nothing was analysed" in _text(res)
    assert "bug" not in _text(res)
    assert _runs(w) == before
    res = runner.invoke(app, ["export", "-w", str(w), "-o", str(blocker / "tables")])
    assert res.exit_code == 1
    assert "cannot write to" in _text(res)
    assert _runs(w) == before
