"""Open or create a levelfield workspace: one DuckDB file with the canonical tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from levelfield._version import __version__
from levelfield.errors import WorkspaceError
from levelfield.findings import Finding
from levelfield.workspace._files import CONFIG, check_file, connect, is_writable
from levelfield.workspace._fx import sync_reference_rates
from levelfield.workspace._keys import (
    KeyBackup,
    key_check,
    new_key,
    read_key_file,
    resolve_key_dir,
    write_key_file,
)
from levelfield.workspace._schema import DATA_TABLES, MIGRATIONS, SCHEMA_VERSION
from levelfield.workspace._settings import SettingsStore

__all__ = ["DEFAULT_WORKSPACE", "Workspace", "open_workspace"]

DEFAULT_WORKSPACE = Path("levelfield.duckdb")
_PSEUDONYM_PREFIX = "c_"
_PSEUDONYM_HEX = 20  # 80 bits: collisions need ~10^12 customers


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_json(value: object) -> str:
    """JSON text for run parameters and summaries (dates, NumPy scalars, sets allowed)."""
    return json.dumps(value, default=_json_default, sort_keys=True, allow_nan=False)


@dataclass(frozen=True)
class _KeyState:
    workspace_id: str
    path: Path
    check: str | None
    secret: str | None


class Workspace:
    """A levelfield workspace: canonical tables, import ledger and run history.

    Use :func:`open_workspace` to get one. The workspace owns one DuckDB connection;
    use :meth:`cursor` for a connection per thread or request. Its pseudonym key is
    kept outside the file (see :mod:`levelfield.workspace._keys`): ``key_path``.
    """

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        key: _KeyState,
        *,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self._con = con
        self._key = key
        self._register_functions(con)
        if read_only:
            self._shadow_run_history(con)

    @staticmethod
    def _shadow_run_history(con: duckdb.DuckDBPyConnection) -> None:
        # A read-only file can still be analysed and reported on: runs and findings go
        # to temporary tables of the main connection (they shadow the stored ones and
        # are gone at close), so nothing in the pipeline has to know.
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        }
        if "runs" not in tables:
            return
        con.execute("CREATE TEMP TABLE runs AS SELECT * FROM main.runs")
        if "findings" in tables:
            con.execute("CREATE TEMP TABLE findings AS SELECT * FROM main.findings")
        start = int(con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchall()[0][0])
        con.execute(f"CREATE TEMP SEQUENCE run_id_seq START {start}")

    @property
    def workspace_id(self) -> str:
        """The workspace's id (names its key file)."""
        return self._key.workspace_id

    @property
    def key_path(self) -> Path:
        """Where this workspace's pseudonym key file is expected."""
        return self._key.path

    @property
    def has_key(self) -> bool:
        """Whether the pseudonym key was found (imports of customers need it)."""
        return self._key.secret is not None

    # -- connection --------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The workspace's main DuckDB connection (with ``lf_pseudonym`` registered)."""
        return self._con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to the same database, for another thread or request."""
        cur = self._con.cursor()
        self._register_functions(cur)
        return cur

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing block on the main connection: commit on success, else roll back."""
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # -- pseudonyms --------------------------------------------------------------------
    def _missing_key_message(self) -> str:
        return (
            f"the pseudonym key for this workspace ({self.path}) is not at {self.key_path}; "
            f"restore it with 'levelfield key import BACKUP --workspace {self.path}' from "
            "the backup made by 'levelfield key export', or point LEVELFIELD_KEY_DIR "
            "(levelfield --key-dir) at the folder that holds it"
        )

    def require_key(self) -> str:
        """The pseudonym key.

        Raises
        ------
        WorkspaceError
            The key file is missing; the message says where it was expected and how to
            restore it.
        """
        if self._key.secret is None:
            raise WorkspaceError(self._missing_key_message())
        return self._key.secret

    def export_key(self) -> KeyBackup:
        """The key and workspace id, for ``levelfield key export``."""
        return KeyBackup(workspace_id=self.workspace_id, key=self.require_key())

    def restore_key(self, backup: KeyBackup) -> bool:
        """Put a backed-up key in place; ``False`` when the same key was already there.

        Raises
        ------
        WorkspaceError
            The backup belongs to another workspace or is not this workspace's key.
        """
        if backup.workspace_id != self.workspace_id:
            raise WorkspaceError(
                f"the backup is the key of workspace {backup.workspace_id}, not of {self.path} "
                f"(workspace {self.workspace_id})"
            )
        if self._key.check is not None and key_check(backup.key) != self._key.check:
            raise WorkspaceError(f"the backup's key does not match {self.path}")
        if self._key.secret == backup.key:
            return False
        write_key_file(self.key_path, backup.key)
        self._key = _KeyState(self.workspace_id, self.key_path, self._key.check, backup.key)
        self._register_functions(self._con)
        return True

    def _register_functions(self, con: duckdb.DuckDBPyConnection) -> None:
        # Double keyed hash sha256(k || sha256(k || x)) so that the outer value cannot be
        # length-extended; the secret is hex so it is safe to inline as a literal.
        blank = "x IS NULL OR trim(CAST(x AS VARCHAR)) = ''"
        k = self._key.secret
        if k is None:
            # Reading and analysing need no key; pseudonymizing fails with the fix.
            msg = self._missing_key_message().replace("'", "''")
            con.execute(
                "CREATE OR REPLACE TEMP MACRO lf_pseudonym(x) AS "
                f"CASE WHEN {blank} THEN NULL ELSE error('{msg}') END"
            )
            return
        con.execute(
            "CREATE OR REPLACE TEMP MACRO lf_pseudonym(x) AS "
            f"CASE WHEN {blank} THEN NULL ELSE "
            f"'{_PSEUDONYM_PREFIX}' || left(sha256('{k}' || sha256('{k}' || "
            f"lower(trim(CAST(x AS VARCHAR))))), {_PSEUDONYM_HEX}) END"
        )

    def register_pseudonym(self, con: duckdb.DuckDBPyConnection) -> None:
        """Define ``lf_pseudonym(x)`` on another connection (e.g. an in-memory one).

        The contacts export reads the owner's export files in a private in-memory
        database, so no clear value ever reaches the workspace file or its spill folder.

        Raises
        ------
        WorkspaceError
            The key file is missing.
        """
        self.require_key()
        self._register_functions(con)

    def pseudonymize(self, values: Sequence[str | None]) -> list[str | None]:
        """Keyed pseudonyms of identifiers, identical to SQL ``lf_pseudonym(x)``.

        Identifiers are trimmed of spaces and lower-cased first, so ``" Ann@X.com"`` and
        ``"ann@x.com"`` map to the same pseudonym. Blank and ``None`` stay ``None``.
        """
        out: list[str | None] = []
        k = self.require_key()
        for value in values:
            if value is None or not str(value).strip(" "):
                out.append(None)
                continue
            norm = str(value).strip(" ").lower()
            inner = hashlib.sha256((k + norm).encode()).hexdigest()
            outer = hashlib.sha256((k + inner).encode()).hexdigest()
            out.append(_PSEUDONYM_PREFIX + outer[:_PSEUDONYM_HEX])
        return out

    # -- ledger ------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """Hash of the import ledger: identifies exactly which data a run saw."""
        rows = self._con.execute(
            "SELECT import_id, kind, sha256, profile, rows_loaded FROM imports "
            "WHERE status = 'ok' ORDER BY import_id"
        ).fetchall()
        h = hashlib.sha256()
        for row in rows:
            h.update(("|".join(str(v) for v in row) + "\n").encode())
        return h.hexdigest()[:16]

    def counts(self) -> dict[str, int]:
        """Row count of each business data table."""
        return {
            t: int(self._con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
            for t in DATA_TABLES
        }

    @property
    def settings(self) -> SettingsStore:
        """The analysis settings of this workspace (``levelfield settings``)."""
        return SettingsStore(self._con)

    def record_run(
        self,
        analysis: str,
        params: Mapping[str, Any],
        summary: Mapping[str, Any],
        started_at: dt.datetime,
        *,
        settings: Mapping[str, Any] | None = None,
    ) -> int:
        """Append a row to ``runs`` and return its id.

        ``settings`` (``{setting key: value}`` the run depended on, from
        :meth:`SettingsStore.resolve`) is stored in the params as ``"settings"``; the
        pipeline compares it with the settings now to tell whether the run is current.
        """
        if settings is not None:
            params = {**params, "settings": dict(settings)}
        run_id = int(self._con.execute("SELECT nextval('run_id_seq')").fetchall()[0][0])
        self._con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                analysis,
                to_json(dict(params)),
                self.fingerprint(),
                __version__,
                started_at,
                _utcnow(),
                to_json(dict(summary)),
            ],
        )
        return run_id

    def latest_run(self, analysis: str) -> dict[str, Any] | None:
        """The newest run of ``analysis`` as a dict (``params``/``summary`` decoded)."""
        rows = self._con.execute(
            "SELECT run_id, analysis, params, data_fingerprint, version, started_at, "
            "finished_at, summary FROM runs WHERE analysis = ? ORDER BY run_id DESC LIMIT 1",
            [analysis],
        ).fetchall()
        if not rows:
            return None
        r = rows[0]
        return {
            "run_id": r[0],
            "analysis": r[1],
            "params": json.loads(r[2]),
            "data_fingerprint": r[3],
            "version": r[4],
            "started_at": r[5],
            "finished_at": r[6],
            "summary": json.loads(r[7]),
        }

    def record_findings(self, run_id: int, analysis: str, findings: Sequence[Finding]) -> None:
        """Store the findings of run ``run_id`` (read later by advice and the report)."""
        rows = [
            [
                run_id,
                analysis,
                f.metric,
                float(f.value),
                f.unit,
                f.text,
                f.severity,
                to_json(f.context),
            ]
            for f in findings
        ]
        if rows:
            self._con.executemany("INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def findings_run_id(self, analysis: str) -> int | None:
        """Id of the newest run of ``analysis`` that stored findings, else ``None``."""
        rows = self._con.execute(
            "SELECT max(run_id) FROM findings WHERE analysis = ?", [analysis]
        ).fetchall()
        return None if rows[0][0] is None else int(rows[0][0])

    def latest_findings(self, analysis: str) -> list[Finding] | None:
        """Findings of the newest run of ``analysis`` that stored any, else ``None``."""
        rows = self._con.execute(
            "SELECT metric, value, unit, text, severity, context FROM findings "
            "WHERE run_id = (SELECT max(run_id) FROM findings WHERE analysis = ?) "
            "ORDER BY rowid",
            [analysis],
        ).fetchall()
        if not rows:
            return None
        return [
            Finding(
                metric=r[0],
                value=float(r[1]),
                unit=r[2],
                text=r[3],
                severity=r[4],
                context=json.loads(r[5]),
            )
            for r in rows
        ]

    def get_business(self, key: str, default: Any = None) -> Any:
        """A value from the ``business`` profile table (JSON-decoded), or ``default``."""
        rows = self._con.execute("SELECT value FROM business WHERE key = ?", [key]).fetchall()
        return json.loads(rows[0][0]) if rows else default

    def currency(self) -> str:
        """The base currency: the profile's ``currency``, else the currency of most revenue."""
        rows = self._con.execute("SELECT currency FROM base_currency").fetchall()
        return str(rows[0][0])


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Bring the schema up to date; returns the version it had (0: a new workspace)."""
    has_meta = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchall()[0][0]
    version = 0
    if has_meta:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        version = int(rows[0][0]) if rows else 0
    else:
        n_tables = con.execute("SELECT count(*) FROM information_schema.tables").fetchall()[0][0]
        if n_tables:
            raise WorkspaceError(
                f"{path} is a DuckDB database but not a levelfield workspace "
                "(it has tables but no 'meta' table); choose another --workspace path"
            )
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"{path} has schema version {version}, newer than this levelfield "
            f"({__version__}, schema {SCHEMA_VERSION}); upgrade levelfield to open it"
        )
    if version == SCHEMA_VERSION:
        return version
    con.execute("BEGIN TRANSACTION")
    try:
        for migration in MIGRATIONS[version:]:
            for stmt in migration:
                con.execute(stmt)
        if version == 0:
            con.execute("INSERT INTO meta VALUES ('created_at', ?)", [_utcnow().isoformat()])
        else:
            sync_reference_rates(con)
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return version


def _has_meta(con: duckdb.DuckDBPyConnection) -> bool:
    n = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchall()[0][0]
    return bool(n)


def _meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT key, value FROM meta WHERE key IN ('secret', 'workspace_id', 'key_check')"
    ).fetchall()
    return {str(k): str(v) for k, v in rows}


def _load_key(
    con: duckdb.DuckDBPyConnection, path: Path, key_dir: Path, *, new: bool, writable: bool
) -> _KeyState:
    """Find the workspace's key; give a new workspace one; move an old one out of ``meta``.

    Workspaces written before the key moved out keep it in ``meta`` as ``secret``: on a
    writable open it is written to the key file first, and only then deleted from the
    workspace (a crash in between leaves both copies, never none).
    """
    meta = _meta(con)
    wid, legacy, check = meta.get("workspace_id"), meta.get("secret"), meta.get("key_check")
    if wid is None and legacy is None and not new:
        raise WorkspaceError(f"{path}: workspace has no pseudonymization key and no workspace id")
    if not writable:
        if wid is None:  # an old workspace opened read-only keeps its key in meta
            return _KeyState("", key_dir / "(not moved yet)", None, legacy)
        secret = legacy or read_key_file(key_dir / f"{wid}.key", path, check)
        return _KeyState(wid, key_dir / f"{wid}.key", check, secret)
    if wid is not None and legacy is None:
        file = key_dir / f"{wid}.key"
        return _KeyState(wid, file, check, read_key_file(file, path, check))
    wid = wid or uuid.uuid4().hex
    secret = legacy or new_key()
    file = key_dir / f"{wid}.key"
    write_key_file(file, secret)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('workspace_id', ?), ('key_check', ?)",
            [wid, key_check(secret)],
        )
        con.execute("DELETE FROM meta WHERE key = 'secret'")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    return _KeyState(wid, file, key_check(secret), secret)


def _rewrite(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyConnection:
    """Copy the database to a fresh file and put it in place of ``path``.

    A deleted row's bytes stay in the file's free blocks; after the key moved out of
    ``meta``, copying is the way to make sure the old file no longer holds the key.
    Returns a connection to the rewritten file.
    """
    tmp = path.with_name(path.name + ".rewrite")
    tmp.unlink(missing_ok=True)
    db = str(con.execute("SELECT current_database()").fetchall()[0][0])
    try:
        con.execute(f"ATTACH '{str(tmp).replace(chr(39), chr(39) * 2)}' AS lf_rewrite")
        con.execute(f'COPY FROM DATABASE "{db}" TO lf_rewrite')
        con.execute("DETACH lf_rewrite")
    except duckdb.Error:
        # The workspace is consistent without the copy (the key is deleted from meta);
        # only its old bytes may linger in a free block. Keep working with it.
        tmp.unlink(missing_ok=True)
        return con
    con.close()
    tmp.replace(path)
    return duckdb.connect(str(path), config=CONFIG)


def open_workspace(
    path: str | Path = DEFAULT_WORKSPACE,
    *,
    create: bool = True,
    read_only: bool = False,
    key_dir: str | Path | None = None,
    lock_timeout: float | None = None,
) -> Workspace:
    """Open the workspace at ``path``, creating and migrating it as needed.

    Parameters
    ----------
    path
        DuckDB file (``.duckdb``). Its parent folder is created when missing.
    create
        When false, a missing file is an error instead of a new workspace.
    read_only
        Open without write access (several readers may share the file).
    key_dir
        Folder of the pseudonym key files; default ``$LEVELFIELD_KEY_DIR``, else
        ``$XDG_CONFIG_HOME/levelfield/keys`` (``~/.config/levelfield/keys``).
    lock_timeout
        Seconds to wait while another process has the file open for writing; default
        ``$LEVELFIELD_LOCK_TIMEOUT``, else 60.

    Raises
    ------
    WorkspaceError
        The file is missing (with ``create=False``), is not a DuckDB database, is a
        database of something else, is truncated, is read-only (without
        ``read_only``), stays locked by another process, or was written by a newer
        levelfield.
    """
    p = Path(path)
    if not p.exists():
        if not create or read_only:
            raise WorkspaceError(
                f"no workspace at {p}; create one with 'levelfield init {p}' "
                "or pass --workspace PATH"
            )
        p.parent.mkdir(parents=True, exist_ok=True)
    elif p.is_dir():
        raise WorkspaceError(
            f"{p} is a folder; give the workspace file, e.g. {p}/levelfield.duckdb"
        )
    else:
        check_file(p)
        if not read_only and not is_writable(p):
            raise WorkspaceError(
                f"{p} is read-only (the file or its folder cannot be written); commands "
                "that only read it (status, analyze, report, export) still work. To change "
                f"it, make it writable (chmod u+w {p} and its folder)"
            )
    con = connect(p, read_only=read_only, timeout=lock_timeout)
    try:
        if read_only and not _has_meta(con):
            raise WorkspaceError(
                f"{p} is a DuckDB database but not a levelfield workspace "
                "(it has no 'meta' table); choose another --workspace path"
            )
        old_version = SCHEMA_VERSION if read_only else _migrate(con, p)
        meta = _meta(con)
        key = _load_key(
            con, p, resolve_key_dir(key_dir), new=old_version == 0, writable=not read_only
        )
        if "secret" in meta and not read_only:
            con = _rewrite(con, p)
        return Workspace(p, con, key, read_only=read_only)
    except BaseException:
        con.close()
        raise
