"""Group tokens: keyed hashes of customers' e-mails under a key the group agrees on.

Privacy model (shown in ``levelfield cooperate partners --help`` and the docs):

- The group (an association, or a few owners) agrees on one **group key**
  (``levelfield cooperate group-key FILE``) and passes it between members privately. It is
  never a workspace's own pseudonym key: that key stays with its owner, and the command
  refuses a group key equal to it.
- Each member derives **tokens** ``sha256(k || sha256(k || "group:" || e-mail))`` from their
  own order exports (``levelfield cooperate tokens``; the rule itself is
  :func:`levelfield.workspace.group_token_sql`, which the demo fleet uses too). Only the
  tokens are stored, in the member's workspace (table ``group_tokens``, tagged with the
  group key's id); e-mails are read from the export file and never written anywhere.
- Matching (``levelfield cooperate partners``) counts common tokens per pair of members in
  SQL and prints, stores and returns **counts only**: how many customers two members share,
  never which.

Limits, stated plainly:

- Whoever runs the matching reads every member's tokens (not e-mails). Whoever also holds
  the group key can hash a guessed e-mail and test whether it is a member's customer: the
  key protects against outsiders, not against the group. Rotate it (a new key, tokens
  derived again) when a member leaves.
- Counts leak in small groups: with two or three members, or a pair whose customers mostly
  overlap, an owner can infer a lot about the other's customers from the numbers alone.
- E-mails are matched after trimming and lower-casing only: a customer who uses two
  addresses counts as two, so overlaps are lower bounds.

Why tokens are derived from the owner's exports, not at ingest: the workspace never holds
e-mails (ingest pseudonymizes them with the workspace's own key, and that one meaning of
a customer id stays untouched), so the tokens must come from the exports the owner already
has. Deriving them in a separate step keeps the group key out of every ordinary import,
lets a group rotate its key (members leave and join) without re-importing anything, and
lets an owner join a group without changing their workspace's history.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from levelfield.errors import ConfigError, DataError, WorkspaceError
from levelfield.ingest import GENERIC_FIELDS, normalize_column_name, read_header
from levelfield.workspace import GroupKey, Workspace, group_token_sql

__all__ = [
    "GroupKey",
    "TokenImport",
    "derive_tokens",
    "email_column",
    "new_group_key",
    "read_group_key",
    "write_group_key",
]

_HEADER = "levelfield group key v1"
_KEY = re.compile(r"[0-9a-f]{64}")
_EMAIL_NAMES = frozenset(
    {"email", "e-mail", "email (billing)", "customer email", "buyer email", "billing email"}
    | {normalize_column_name(a) for a in GENERIC_FIELDS["email"]}
)


def new_group_key() -> GroupKey:
    """A fresh 256-bit group key."""
    return GroupKey(secrets.token_hex(32))


def write_group_key(path: Path, key: GroupKey) -> Path:
    """Write ``key`` to ``path`` (owner-only permissions); never overwrites a file."""
    path = Path(path)
    if path.exists():
        raise ConfigError(f"{path} exists; a group key is never overwritten (choose another name)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".groupkey")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(f"{_HEADER}\n{key.secret}\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_group_key(path: Path) -> GroupKey:
    """Read a group key file written by :func:`write_group_key`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii").split()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such group key file; one member creates it with "
            "'levelfield cooperate group-key FILE' and shares it privately"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a group key file (binary content)") from None
    secret = lines[-1].strip().lower() if lines else ""
    if not _KEY.fullmatch(secret):
        raise ConfigError(
            f"{path}: not a group key file (expected 64 hex digits after '{_HEADER}')"
        )
    return GroupKey(secret)


def email_column(header: tuple[str, ...], wanted: str | None, name: str) -> str:
    """The e-mail column of an export: ``wanted`` if given, else the one e-mail-named column."""
    if wanted is not None:
        if wanted not in header:
            raise DataError(
                f"{name}: no column {wanted!r}; the columns are {', '.join(header) or 'none'}"
            )
        return wanted
    hits = [h for h in header if normalize_column_name(h) in _EMAIL_NAMES]
    if not hits:
        raise DataError(
            f"{name}: no e-mail column found (looked for Email, Customer Email, ...); "
            "name it with --email-column"
        )
    if len(hits) > 1:
        raise DataError(
            f"{name}: several e-mail columns ({', '.join(hits)}); choose one with --email-column"
        )
    return hits[0]


def _own_key(ws: Workspace) -> str | None:
    try:
        return ws.require_key()
    except WorkspaceError:
        return None


def _read_sql(path: Path) -> str:
    literal = "'" + str(path).replace("'", "''") + "'"
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({literal})"
    return f"read_csv({literal}, all_varchar = true, header = true)"


@dataclass(frozen=True)
class TokenImport:
    """What :func:`derive_tokens` stored: rows read, tokens now held for the group."""

    group_id: str
    rows: int
    emails: int
    tokens: int
    column: str


def _hashed(con: duckdb.DuckDBPyConnection, path: Path, column: str, key: GroupKey) -> int:
    """Create temp table ``_lf_tok(token)`` from the export; return the rows read."""
    col = '"' + column.replace('"', '""') + '"'
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _lf_src AS SELECT {col} AS e FROM {_read_sql(path)}"
        )
    except duckdb.Error as exc:
        raise DataError(f"{path.name}: could not be read as CSV or Parquet ({exc})") from None
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _lf_tok AS SELECT DISTINCT token FROM "
        f"(SELECT {group_token_sql(key, 'e')} AS token FROM _lf_src) WHERE token IS NOT NULL"
    )
    return int(con.execute("SELECT count(*) FROM _lf_src").fetchall()[0][0])


def derive_tokens(
    ws: Workspace, key: GroupKey, exports: list[Path], *, email_col: str | None = None
) -> TokenImport:
    """Derive group tokens from order exports and store them in ``ws`` (tokens only).

    Parameters
    ----------
    ws
        The member's workspace (tokens go to its ``group_tokens`` table).
    key
        The group key (:func:`read_group_key`); refused when it is the workspace's own key.
    exports
        The owner's order exports (CSV or Parquet) with an e-mail column.
    email_col
        The e-mail column's name when it cannot be recognised.

    Returns
    -------
    TokenImport
        Rows read, distinct e-mails hashed, tokens stored for this group in total.
    """
    if not exports:
        raise ConfigError("name at least one order export to read e-mails from")
    if _own_key(ws) == key.secret:
        raise ConfigError(
            "the group key is this workspace's own pseudonym key; a group needs a key of "
            "its own ('levelfield cooperate group-key FILE'), never a member's secret"
        )
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE _lf_all (token VARCHAR)")
        rows, column = 0, ""
        for path in exports:
            column = email_column(read_header(path), email_col, Path(path).name)
            rows += _hashed(con, Path(path), column, key)
            con.execute("INSERT INTO _lf_all SELECT token FROM _lf_tok")
        tokens = con.sql("SELECT DISTINCT token FROM _lf_all").to_arrow_table()
    finally:
        con.close()
    if tokens.num_rows == 0:
        raise DataError(
            f"no e-mail address found in column {column!r} of "
            f"{', '.join(Path(p).name for p in exports)}"
        )
    wcon = ws.con
    wcon.register("_lf_new_tokens", tokens)
    try:
        wcon.execute("BEGIN TRANSACTION")
        wcon.execute(
            "INSERT INTO group_tokens SELECT ?, token FROM _lf_new_tokens ON CONFLICT DO NOTHING",
            [key.group_id],
        )
        wcon.execute("COMMIT")
    except BaseException:
        wcon.execute("ROLLBACK")
        raise
    finally:
        wcon.unregister("_lf_new_tokens")
    held = int(
        wcon.execute(
            "SELECT count(*) FROM group_tokens WHERE group_id = ?", [key.group_id]
        ).fetchall()[0][0]
    )
    return TokenImport(key.group_id, rows, tokens.num_rows, held, column)
