"""Issue 16 item 12: foreign, truncated, locked and read-only workspace files."""

from __future__ import annotations

import os
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from levelfield import open_workspace
from levelfield.cli import app
from levelfield.errors import ConfigError, WorkspaceError
from levelfield.workspace import _files

runner = CliRunner()


def _text(res: Result) -> str:
    """The CLI's output with Rich's line folding undone."""
    return " ".join(res.output.split())


_HOLD = (
    "import duckdb, sys, time\n"
    "c = duckdb.connect(sys.argv[1])\n"
    "print('ready', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "c.close()\n"
)


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that has the workspace open for writing for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline().strip()
    proc.stdout.close()
    assert ready == "ready"
    return proc


def _workspace_with_data(path: Path) -> Path:
    with open_workspace(path) as ws:
        ws.con.execute(
            "INSERT INTO imports VALUES (1, 'orders', 'o.csv', 'x', 'generic', 1, 1, 0, now(), "
            "now(), 'ok', NULL)"
        )
        ws.con.execute(
            "INSERT INTO orders (order_id, customer_id, ordered_at, channel, currency, gross, "
            "status, import_id) SELECT 'o' || i, 'c' || (i % 50), TIMESTAMP '2024-01-01' + "
            "INTERVAL (i) HOUR, 'web', 'USD', 10 + i % 7, 'paid', 1 FROM range(20000) t(i)"
        )
    return path


def test_sqlite_file_is_not_a_workspace_and_no_extension_is_fetched(tmp_path: Path) -> None:
    p = tmp_path / "shop.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(
        WorkspaceError, match=r"is not a levelfield workspace \(it is an SQLite"
    ) as e:
        open_workspace(p)
    assert "xtension" not in str(e.value)
    res = runner.invoke(app, ["status", "-w", str(p)])
    assert res.exit_code == 1
    assert "is not a levelfield workspace" in _text(res)
    assert "bug" not in _text(res)


def test_text_file_is_not_a_workspace(tmp_path: Path) -> None:
    p = tmp_path / "notes.duckdb"
    p.write_text("order_id,total\n1,2\n" * 1000)
    with pytest.raises(WorkspaceError, match="not a DuckDB database"):
        open_workspace(p)


def test_every_connection_has_extension_autoloading_off(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.duckdb") as ws:
        for con in (ws.con, ws.cursor()):
            got = con.execute(
                "SELECT current_setting('autoinstall_known_extensions'), "
                "current_setting('autoload_known_extensions')"
            ).fetchall()
            assert got == [(False, False)]


@pytest.mark.parametrize("keep", [0.99, 0.6, 0.3, 0.05])
def test_truncated_workspace_is_named_damaged(tmp_path: Path, keep: float) -> None:
    p = _workspace_with_data(tmp_path / "a.duckdb")
    size = p.stat().st_size
    with p.open("r+b") as f:
        f.truncate(int(size * keep))
    with pytest.raises(WorkspaceError, match="damaged levelfield workspace"):
        open_workspace(p)
    res = runner.invoke(app, ["status", "-w", str(p)])
    assert res.exit_code == 1
    assert "WorkspaceError" in _text(res) and "bug" not in _text(res)


def test_second_writer_waits_for_the_lock(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    open_workspace(p).close()
    holder = _hold_lock(p, 1.5)
    try:
        t0 = time.monotonic()
        with open_workspace(p, lock_timeout=60) as ws:
            waited = time.monotonic() - t0
            assert ws.counts()["orders"] == 0
    finally:
        holder.wait(timeout=30)
    assert waited > 0.5


def test_lock_wait_times_out_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "a.duckdb"
    open_workspace(p).close()
    holder = _hold_lock(p, 20)
    try:
        with pytest.raises(WorkspaceError, match=r"in use by another levelfield process.*0\.3 s"):
            open_workspace(p, lock_timeout=0.3)
        monkeypatch.setenv("LEVELFIELD_LOCK_TIMEOUT", "0.2")
        orders = tmp_path / "o.csv"
        orders.write_text("order_id,ordered_at,total\n1,2024-01-01,3\n")
        res = runner.invoke(app, ["import", "orders", str(orders), "-w", str(p)])
        assert res.exit_code == 1
        assert "LEVELFIELD_LOCK_TIMEOUT" in _text(res)
    finally:
        holder.kill()
        holder.wait()


def test_cli_import_waits_for_a_concurrent_import(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    open_workspace(p).close()
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,ordered_at,total\n1,2024-01-01,3\n2,2024-01-02,4\n")
    holder = _hold_lock(p, 1.5)
    try:
        res = runner.invoke(app, ["import", "orders", str(orders), "-w", str(p)])
    finally:
        holder.wait(timeout=30)
    assert res.exit_code == 0, res.output
    assert "2 loaded" in _text(res)


def test_lock_timeout_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVELFIELD_LOCK_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="LEVELFIELD_LOCK_TIMEOUT='soon'"):
        _files.lock_timeout()
    with pytest.raises(ConfigError, match="0 seconds or more"):
        _files.lock_timeout(-1)
    monkeypatch.delenv("LEVELFIELD_LOCK_TIMEOUT")
    assert _files.lock_timeout() == 60.0


def test_read_only_workspace_can_be_read_and_reported(tmp_path: Path) -> None:
    p = _workspace_with_data(tmp_path / "a.duckdb")
    with open_workspace(p) as ws:
        runs_before = ws.con.execute("SELECT count(*) FROM runs").fetchall()[0][0]
    with open_workspace(p, read_only=True) as ws:
        assert ws.read_only
        run_id = ws.record_run(
            "customers", {}, {"n": 1}, ws.con.execute("SELECT now()::TIMESTAMP").fetchall()[0][0]
        )
        latest = ws.latest_run("customers")
        assert latest is not None and latest["run_id"] == run_id
    with open_workspace(p) as ws:  # nothing was written to the file
        assert ws.con.execute("SELECT count(*) FROM runs").fetchall()[0][0] == runs_before


@pytest.fixture
def read_only_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace in a folder nobody may write (file 0444, folder 0555)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    p = _workspace_with_data(folder / "shop.duckdb")
    p.chmod(0o444)
    folder.chmod(0o555)
    if os.geteuid() == 0:
        # root ignores permission bits; answer os.access as any other user would.
        real = os.access

        def access(path: object, mode: int, **kw: object) -> bool:
            if Path(str(path)).resolve().is_relative_to(folder.resolve()) and mode & os.W_OK:
                return False
            return real(path, mode, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(_files.os, "access", access)
    yield p
    folder.chmod(0o755)
    p.chmod(0o644)


# The synthetic orders are not meant to fit a customer model well; this is about the file.
@pytest.mark.filterwarnings("ignore::levelfield.errors.LevelfieldWarning")
def test_status_and_report_read_a_read_only_workspace(read_only_file: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["status", "-w", str(read_only_file)])
    assert res.exit_code == 0, res.output
    assert "20,000" in _text(res)
    assert "read-only" in _text(res)
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", "-w", str(read_only_file), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 10_000
    with pytest.raises(WorkspaceError, match=r"is read-only .*chmod u\+w"):
        open_workspace(read_only_file)


def test_file_duckdb_shortened_at_a_block_boundary_is_healthy(tmp_path: Path) -> None:
    """DuckDB drops free trailing blocks on checkpoint but keeps the header's block count."""
    from levelfield.provenance import ProvenanceLog, lot_entry

    p = tmp_path / "a.duckdb"
    shrank = False
    for i in range(6):
        with open_workspace(p) as ws:
            ProvenanceLog(ws).add([lot_entry(f"G{i}", "x", 1, "kg", "2025-01-01")])
        header = p.read_bytes()[: 3 * 4096]
        blocks = max(
            (struct.unpack_from("<6Q", header, off) for off in (4096, 8192)), key=lambda h: h[1]
        )
        shrank |= p.stat().st_size < 3 * 4096 + blocks[4] * blocks[5]
        with open_workspace(p) as ws:
            assert ws.con.execute("SELECT count(*) FROM provenance_entries").fetchall()[0][0] > i
    assert shrank  # the case this test is about did occur
