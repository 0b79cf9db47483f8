"""The group-token rule shared by ``cooperate tokens`` and the demo fleet."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from levelfield.errors import ConfigError
from levelfield.workspace import GroupKey, group_token_sql, group_tokens

KEY = GroupKey("0123456789abcdef" * 4)


def _documented(secret: str, email: str) -> str:
    """sha256(k || sha256(k || "group:" || e-mail)) over hex digests, first 32 digits."""
    inner = hashlib.sha256((secret + "group:" + email).encode()).hexdigest()
    return hashlib.sha256((secret + inner).encode()).hexdigest()[:32]


def test_tokens_follow_the_documented_formula_after_trim_and_lower_case() -> None:
    got = group_tokens([" Anna.Berg@Example.org ", "anna.berg@example.org", "ben@x.net"], KEY)
    want = _documented(KEY.secret, "anna.berg@example.org")
    assert got.to_pylist() == [want, want, _documented(KEY.secret, "ben@x.net")]


def test_the_sql_expression_and_the_array_function_agree() -> None:
    sql = group_token_sql(KEY, "'Clara@Example.com'")
    assert duckdb.sql(f"SELECT {sql}").fetchall()[0][0] == _documented(
        KEY.secret, "clara@example.com"
    )


def test_values_that_are_not_e_mails_have_no_token() -> None:
    assert (
        group_tokens([None, "", "  ", "no-at-sign", "@x.org", "anna@"], KEY).to_pylist()
        == [None] * 6
    )
    assert len(group_tokens([], KEY)) == 0


def test_another_key_gives_other_tokens_and_another_id() -> None:
    other = GroupKey("f" * 64)
    assert group_tokens(["a@b.org"], other)[0] != group_tokens(["a@b.org"], KEY)[0]
    assert other.group_id != KEY.group_id
    want = hashlib.sha256(b"levelfield group key id\0" + KEY.secret.encode()).hexdigest()[:16]
    assert KEY.group_id == want


@pytest.mark.parametrize("secret", ["abc", "0" * 63, "A" * 64, "g" * 64, "0" * 64 + "'", 7])
def test_a_group_key_is_64_lower_case_hex_digits(secret: object) -> None:
    with pytest.raises(ConfigError, match="64 lower-case hex digits"):
        GroupKey(secret)  # type: ignore[arg-type]
