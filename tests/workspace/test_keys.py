"""Issue 16 item 13: the pseudonym key lives outside the workspace file."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from levelfield import open_workspace
from levelfield.cli import app
from levelfield.errors import WorkspaceError
from levelfield.ingest import import_file
from levelfield.workspace import default_key_dir, parse_key_backup
from levelfield.workspace._schema import MIGRATIONS

runner = CliRunner()
LEGACY_KEY = "5e" * 32


def _legacy_pseudonym(key: str, value: str) -> str:
    inner = hashlib.sha256((key + value).encode()).hexdigest()
    return "c_" + hashlib.sha256((key + inner).encode()).hexdigest()[:20]


def _legacy_workspace(path: Path) -> Path:
    """A workspace as levelfield wrote it before the key moved out (schema 2, key in meta)."""
    con = duckdb.connect(str(path))
    for migration in MIGRATIONS[:2]:
        for stmt in migration:
            con.execute(stmt)
    con.execute(
        "INSERT INTO meta VALUES ('secret', ?), ('schema_version', '2'), ('created_at', 'x')",
        [LEGACY_KEY],
    )
    con.execute(
        "INSERT INTO orders (order_id, customer_id, ordered_at, channel, currency, gross, "
        "status, import_id) VALUES ('o1', ?, TIMESTAMP '2024-01-01', 'web', 'USD', 5, 'paid', 1)",
        [_legacy_pseudonym(LEGACY_KEY, "ann@example.com")],
    )
    for _ in range(3):
        con.execute("SELECT nextval('import_id_seq')").fetchall()
    con.close()
    return path


def test_new_workspace_file_does_not_contain_its_key(tmp_path: Path, key_dir: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        key = ws.export_key().key
        assert ws.key_path == key_dir / f"{ws.workspace_id}.key"
        assert ws.con.execute("SELECT count(*) FROM meta WHERE key = 'secret'").fetchall() == [(0,)]
    assert key.encode() not in p.read_bytes()
    assert ws.key_path.read_text().strip() == key
    assert stat.S_IMODE(ws.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ws.key_path.parent.stat().st_mode) & 0o077 == 0


def test_old_workspace_key_is_moved_out_and_pseudonyms_are_kept(tmp_path: Path) -> None:
    p = _legacy_workspace(tmp_path / "old.duckdb")
    assert LEGACY_KEY.encode() in p.read_bytes()
    with open_workspace(p) as ws:
        assert ws.has_key
        assert ws.key_path.read_text().strip() == LEGACY_KEY
        assert ws.con.execute("SELECT count(*) FROM meta WHERE key = 'secret'").fetchall() == [(0,)]
        stored = ws.con.execute("SELECT customer_id FROM orders").fetchall()[0][0]
        assert ws.pseudonymize(["Ann@Example.com "]) == [stored]
        # the rewrite kept the sequences where they were
        assert ws.con.execute("SELECT nextval('import_id_seq')").fetchall() == [(4,)]
    assert LEGACY_KEY.encode() not in p.read_bytes()
    with open_workspace(p) as ws:  # a second open finds the key file
        assert ws.pseudonymize(["ann@example.com"]) == [stored]


def test_old_workspace_opened_read_only_still_works(tmp_path: Path) -> None:
    p = _legacy_workspace(tmp_path / "old.duckdb")
    with open_workspace(p, read_only=True) as ws:
        assert ws.pseudonymize(["ann@example.com"]) == [
            _legacy_pseudonym(LEGACY_KEY, "ann@example.com")
        ]


def test_missing_key_reads_but_refuses_to_pseudonymize(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        key_file = ws.key_path
    key_file.unlink()
    with open_workspace(p) as ws:
        assert not ws.has_key
        assert ws.counts()["orders"] == 0  # reading needs no key
        with pytest.raises(WorkspaceError, match=r"pseudonym key for this workspace .* is not at"):
            ws.pseudonymize(["x"])
        with pytest.raises(duckdb.Error, match="levelfield key import"):
            ws.con.execute("SELECT lf_pseudonym('x')").fetchall()
        orders = tmp_path / "o.csv"
        orders.write_text("order_id,ordered_at,email,total\n1,2024-01-01,a@b.c,3\n")
        with pytest.raises(WorkspaceError, match=str(key_file)):
            import_file(ws, "orders", orders)


def test_cli_missing_key_message(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        ws.key_path.unlink()
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,ordered_at,email,total\n1,2024-01-01,a@b.c,3\n")
    res = runner.invoke(app, ["import", "orders", str(orders), "-w", str(p)])
    assert res.exit_code == 1
    assert "WorkspaceError" in res.output
    assert "levelfield key import" in res.output


def test_key_export_and_import_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        before = ws.pseudonymize(["ann@example.com"])
        key_file = ws.key_path
    backup = tmp_path / "backup.key"
    res = runner.invoke(app, ["key", "export", str(backup), "-w", str(p)])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    again = runner.invoke(app, ["key", "export", str(backup), "-w", str(p)])
    assert again.exit_code == 1 and "exists" in again.output
    key_file.unlink()
    res = runner.invoke(app, ["key", "path", "-w", str(p)])
    assert "MISSING" in res.output
    res = runner.invoke(app, ["key", "import", str(backup), "-w", str(p)])
    assert res.exit_code == 0, res.output
    assert "Key restored" in res.output
    with open_workspace(p) as ws:
        assert ws.pseudonymize(["ann@example.com"]) == before
    res = runner.invoke(app, ["key", "import", str(backup), "-w", str(p)])
    assert "already in place" in res.output


def test_backup_of_another_workspace_is_refused(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.duckdb") as a, open_workspace(tmp_path / "b.duckdb") as b:
        with pytest.raises(WorkspaceError, match="not of"):
            b.restore_key(a.export_key())
        forged = parse_key_backup(
            a.export_key().text().replace(a.workspace_id, b.workspace_id), "x"
        )
        with pytest.raises(WorkspaceError, match="does not match"):
            b.restore_key(forged)
    with pytest.raises(WorkspaceError, match="not a levelfield key backup"):
        parse_key_backup("key: 12\n", "notes.txt")


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        key_file = ws.key_path
    key_file.chmod(0o644)
    with pytest.raises(WorkspaceError, match="chmod 600"):
        open_workspace(p)


def test_wrong_key_in_key_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        key_file = ws.key_path
    key_file.write_text("ab" * 32 + "\n")
    with pytest.raises(WorkspaceError, match="does not belong to"):
        open_workspace(p)


def test_key_dir_argument_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_workspace(tmp_path / "a.duckdb", key_dir=tmp_path / "mine") as ws:
        assert ws.key_path.parent == tmp_path / "mine"
    monkeypatch.delenv("LEVELFIELD_KEY_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_key_dir() == tmp_path / "cfg" / "levelfield" / "keys"
    with open_workspace(tmp_path / "b.duckdb") as ws:
        assert ws.key_path.parent == tmp_path / "cfg" / "levelfield" / "keys"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_key_dir() == tmp_path / "home" / ".config" / "levelfield" / "keys"


def test_cli_key_dir_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVELFIELD_KEY_DIR", str(tmp_path / "env"))
    p = tmp_path / "a.duckdb"
    res = runner.invoke(app, ["--key-dir", str(tmp_path / "cli"), "init", str(p)])
    assert res.exit_code == 0, res.output
    assert len(os.listdir(tmp_path / "cli")) == 1
    assert not (tmp_path / "env").exists()
