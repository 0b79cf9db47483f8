"""The group-token rule: a group key, its public id, and the token of a customer's e-mail.

A token is ``sha256(k || sha256(k || "group:" || e-mail))`` (hex digests, the first 32
hex digits kept), the e-mail trimmed and lower-cased, under the group key ``k``. The
rule lives here, below every package that derives tokens, so a member's
``levelfield cooperate tokens`` (:func:`levelfield.cooperation.derive_tokens`) and the
demo fleet's tokens (:func:`levelfield.demo.demo_fleet`) are one computation, not two
that could drift apart. The privacy model is in :mod:`levelfield.cooperation._tokens`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from levelfield.errors import ConfigError

__all__ = ["GroupKey", "group_token_sql", "group_tokens"]

_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class GroupKey:
    """A group key (64 lower-case hex digits) and its public id (which tags its tokens)."""

    secret: str

    def __post_init__(self) -> None:
        # the secret is inlined into SQL (group_token_sql): hex digits only
        if not (isinstance(self.secret, str) and _KEY.fullmatch(self.secret)):
            raise ConfigError("a group key is 64 lower-case hex digits")

    @property
    def group_id(self) -> str:
        """Short public id of the key (a hash under another label; not usable as the key)."""
        return hashlib.sha256(b"levelfield group key id\0" + self.secret.encode()).hexdigest()[:16]


def group_token_sql(key: GroupKey, email: str) -> str:
    """DuckDB SQL: the group token of the SQL expression ``email`` under ``key``.

    The value is trimmed and lower-cased first; the token is NULL when it is NULL or not
    an e-mail address (no ``x@y``).
    """
    e = f"lower(trim(CAST({email} AS VARCHAR)))"
    k = key.secret  # hex only (checked by GroupKey): safe to inline
    return (
        f"CASE WHEN {e} LIKE '%_@_%' THEN "
        f"left(sha256('{k}' || sha256('{k}' || 'group:' || {e})), 32) END"
    )


def group_tokens(emails: Sequence[str | None] | pa.Array, key: GroupKey) -> pa.Array:
    """The group token of each e-mail (:func:`group_token_sql`), in order; null for a
    missing value or one that is not an e-mail address."""
    e = pa.array(emails, type=pa.string())
    table = pa.table({"i": np.arange(len(e), dtype=np.int64), "e": e})
    con = duckdb.connect()
    try:
        con.register("_lf_emails", table)
        got = con.sql(
            f"SELECT {group_token_sql(key, 'e')} AS token FROM _lf_emails ORDER BY i"
        ).to_arrow_table()
    finally:
        con.close()
    return got.column("token").combine_chunks()
