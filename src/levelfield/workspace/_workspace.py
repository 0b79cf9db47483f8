"""Open or create a levelfield workspace: one DuckDB file with the canonical tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from levelfield._version import __version__
from levelfield.errors import WorkspaceError
from levelfield.findings import Finding
from levelfield.workspace._schema import DATA_TABLES, MIGRATIONS, SCHEMA_VERSION

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


class Workspace:
    """A levelfield workspace: canonical tables, import ledger and run history.

    Use :func:`open_workspace` to get one. The workspace owns one DuckDB connection;
    use :meth:`cursor` for a connection per thread or request.
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self._con = con
        self._secret = self._load_secret()
        self._register_functions(con)

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
    def _load_secret(self) -> str:
        row = self._con.execute("SELECT value FROM meta WHERE key = 'secret'").fetchall()
        if not row:
            raise WorkspaceError(f"{self.path}: workspace has no pseudonymization secret")
        return str(row[0][0])

    def _register_functions(self, con: duckdb.DuckDBPyConnection) -> None:
        # Double keyed hash sha256(k || sha256(k || x)) so that the outer value cannot be
        # length-extended; the secret is hex so it is safe to inline as a literal.
        k = self._secret
        con.execute(
            "CREATE OR REPLACE TEMP MACRO lf_pseudonym(x) AS "
            "CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL ELSE "
            f"'{_PSEUDONYM_PREFIX}' || left(sha256('{k}' || sha256('{k}' || "
            f"lower(trim(CAST(x AS VARCHAR))))), {_PSEUDONYM_HEX}) END"
        )

    def pseudonymize(self, values: Sequence[str | None]) -> list[str | None]:
        """Keyed pseudonyms of identifiers, identical to SQL ``lf_pseudonym(x)``.

        Identifiers are trimmed of spaces and lower-cased first, so ``" Ann@X.com"`` and
        ``"ann@x.com"`` map to the same pseudonym. Blank and ``None`` stay ``None``.
        """
        out: list[str | None] = []
        k = self._secret
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

    def record_run(
        self,
        analysis: str,
        params: Mapping[str, Any],
        summary: Mapping[str, Any],
        started_at: dt.datetime,
    ) -> int:
        """Append a row to ``runs`` and return its id."""
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
        """The business's main currency: the profile's, else the most used in orders."""
        cur = self.get_business("currency")
        if cur:
            return str(cur)
        rows = self._con.execute(
            "SELECT currency FROM orders GROUP BY currency ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()
        return str(rows[0][0]) if rows else "USD"


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
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
        return
    con.execute("BEGIN TRANSACTION")
    try:
        for migration in MIGRATIONS[version:]:
            for stmt in migration:
                con.execute(stmt)
        if version == 0:
            con.execute(
                "INSERT INTO meta VALUES ('secret', ?), ('created_at', ?)",
                [secrets.token_hex(32), _utcnow().isoformat()],
            )
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def open_workspace(
    path: str | Path = DEFAULT_WORKSPACE, *, create: bool = True, read_only: bool = False
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

    Raises
    ------
    WorkspaceError
        The file is missing (with ``create=False``), is not a DuckDB database, is a
        database of something else, or was written by a newer levelfield.
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
    try:
        con = duckdb.connect(str(p), read_only=read_only)
    except duckdb.Error as exc:
        raise WorkspaceError(
            f"cannot open {p} as a workspace: {exc}. If another levelfield process is "
            "using it, wait for it to finish; if the file is not a levelfield workspace, "
            "choose another --workspace path"
        ) from exc
    try:
        if not read_only:
            _migrate(con, p)
        return Workspace(p, con)
    except BaseException:
        con.close()
        raise
