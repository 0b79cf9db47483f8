from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from levelfield import open_workspace
from levelfield.errors import WorkspaceError
from levelfield.workspace import DATA_TABLES, SCHEMA_VERSION


def test_new_workspace_has_canonical_tables_and_version(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.duckdb") as ws:
        names = {
            r[0]
            for r in ws.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        for t in (*DATA_TABLES, "imports", "rejects", "runs", "meta"):
            assert t in names
        v = ws.con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchall()[0][0]
        assert int(v) == SCHEMA_VERSION
        assert set(ws.counts()) == set(DATA_TABLES)


def test_reopen_keeps_secret_and_pseudonyms(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        first = ws.pseudonymize([" Ann@Example.com", None, "", "bob@x.org"])
    with open_workspace(p) as ws:
        again = ws.pseudonymize(["ann@example.com", None, "  ", "BOB@x.org"])
        sql = ws.con.execute(
            "SELECT lf_pseudonym(x) FROM (VALUES ('ann@example.com'), (NULL), ('Bob@X.org ')) t(x)"
        ).fetchall()
    assert first == again
    assert first[1] is None and first[2] is None
    assert first[0] is not None and "ann" not in first[0]
    assert [r[0] for r in sql] == [first[0], None, first[3]]


def test_pseudonyms_differ_between_workspaces(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.duckdb") as a, open_workspace(tmp_path / "b.duckdb") as b:
        assert a.pseudonymize(["ann@example.com"]) != b.pseudonymize(["ann@example.com"])


def test_cursor_has_pseudonym_macro(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.duckdb") as ws:
        cur = ws.cursor()
        assert cur.execute("SELECT lf_pseudonym('x')").fetchall()[0][0] == ws.pseudonymize(["x"])[0]


def test_fingerprint_changes_with_imports_and_runs_are_recorded(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.duckdb") as ws:
        f0 = ws.fingerprint()
        ws.con.execute(
            "INSERT INTO imports VALUES (1, 'orders', 'x.csv', 'abc', 'generic', 1, 1, 0, now(), now(), 'ok', NULL)"
        )
        f1 = ws.fingerprint()
        assert f0 != f1
        run_id = ws.record_run(
            "customers", {"k": 1}, {"n": 3, "d": dt.date(2024, 1, 1)}, dt.datetime(2024, 1, 1)
        )
        run = ws.latest_run("customers")
        assert run is not None
        assert run["run_id"] == run_id
        assert run["data_fingerprint"] == f1
        assert run["summary"] == {"n": 3, "d": "2024-01-01"}
        assert ws.latest_run("pricing") is None


def test_transaction_rolls_back(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.duckdb") as ws:
        with pytest.raises(RuntimeError), ws.transaction() as con:
            con.execute("INSERT INTO business VALUES ('name', '\"x\"', 1)")
            raise RuntimeError("boom")
        assert ws.counts()["business"] == 0


def test_missing_workspace_without_create(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="levelfield init"):
        open_workspace(tmp_path / "none.duckdb", create=False)


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "other.duckdb"
    con = duckdb.connect(str(p))
    con.execute("CREATE TABLE t (x INT)")
    con.close()
    with pytest.raises(WorkspaceError, match="not a levelfield workspace"):
        open_workspace(p)


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "junk.duckdb"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WorkspaceError, match="is not a levelfield workspace"):
        open_workspace(p)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_workspace(p) as ws:
        ws.con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(WorkspaceError, match="newer"):
        open_workspace(p)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="folder"):
        open_workspace(tmp_path)


def test_forward_migration_from_v1(tmp_path: Path) -> None:
    from levelfield.workspace._schema import MIGRATIONS

    p = tmp_path / "old.duckdb"
    con = duckdb.connect(str(p))
    for stmt in MIGRATIONS[0]:
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('secret', ?), ('schema_version', '1')", ["ab" * 32])
    con.execute("INSERT INTO business VALUES ('name', '\"Old Shop\"', 1)")
    con.close()
    with open_workspace(p) as ws:
        assert ws.get_business("name") == "Old Shop"
        assert ws.latest_findings("customers") is None
        v = ws.con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchall()[0][0]
        assert int(v) == SCHEMA_VERSION >= 2


def test_findings_round_trip(tmp_path: Path) -> None:
    from levelfield.findings import Finding

    with open_workspace(tmp_path / "a.duckdb") as ws:
        fs = [
            Finding(
                "exposure.platform_share_max",
                0.62,
                "share",
                "62 % via Amazon",
                "warning",
                {"channel": "amazon"},
            ),
            Finding("exposure.fee_drag", 0.08, "share", "fees take 8 %"),
        ]
        ws.record_findings(3, "exposure", fs)
        ws.record_findings(5, "exposure", fs[:1])
        got = ws.latest_findings("exposure")
        assert got == fs[:1]
        assert got is not None and got[0].context == {"channel": "amazon"}
