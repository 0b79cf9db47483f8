"""SQL expression builders for parsing exported text in DuckDB, set-based.

Every builder takes a SQL expression that yields ``VARCHAR`` (already trimmed, blank as
NULL) and returns SQL text. Nothing here touches a connection; the importers compose
these fragments into ``CREATE TEMP TABLE ... AS SELECT`` statements so that parsing,
validation and rejection are computed by DuckDB over the whole file at once.
"""

from __future__ import annotations

__all__ = [
    "MONEY_LIMIT",
    "bool_sql",
    "ident",
    "lit",
    "money_reason_sql",
    "money_sql",
    "number_sql",
]

#: Amounts at or above this (in absolute value) are rejected as implausible.
MONEY_LIMIT = 1_000_000_000_000  # one trillion: above any SMB's order or cost line

# Currency symbols, ISO codes and the spaces/apostrophes used as thousands separators.
_CURRENCY_CODES = (
    "usd|eur|gbp|cad|aud|nzd|chf|sek|nok|dkk|jpy|inr|pln|czk|huf|mxn|brl|zar|sgd|hkd|cny|krw"
)
_STRIP_RE = r"[\s\x{00a0}\x{202f}'’$€£¥₹₩]|(?i:" + _CURRENCY_CODES + ")"
_US_RE = r"[-+]?(\d{1,3}(,\d{3})+(\.\d*)?|\d+(\.\d*)?|\.\d+)"
_EU_RE = r"[-+]?(\d{1,3}(\.\d{3})+(,\d*)?|\d+(,\d*)?|,\d+)"
_SCI_RE = r"[-+]?\d+(\.\d+)?[eE][-+]?\d+"


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _money_text(x: str) -> str:
    # "(33.62)" -> "-33.62", "-$9.00" -> "-9.00", "9.00-" -> "-9.00", "€ 1.149,00" -> "1.149,00"
    s = f"regexp_replace({x}, {lit(_STRIP_RE)}, '', 'g')"
    s = f"regexp_replace({s}, '^\\((.*)\\)$', '-\\1')"
    return f"regexp_replace({s}, '^([0-9.,]*[0-9])-$', '-\\1')"


def _money_plain(x: str, decimal_comma: bool) -> str:
    """Normalized text (``-1234.5``) when ``x`` is a well-formed number, else NULL."""
    t = _money_text(x)
    if decimal_comma:
        plain = f"replace(replace({t}, '.', ''), ',', '.')"
        pattern = _EU_RE
    else:
        plain = f"replace({t}, ',', '')"
        pattern = _US_RE
    return (
        f"CASE WHEN regexp_full_match({t}, {lit(pattern)}) THEN {plain} "
        f"WHEN regexp_full_match({t}, {lit(_SCI_RE)}) THEN {t} END"
    )


def number_sql(x: str, decimal_comma: bool, sql_type: str = "DECIMAL(18,4)") -> str:
    """Parse ``x`` as a number of ``sql_type``; NULL when blank, malformed or implausible."""
    plain = _money_plain(x, decimal_comma)
    return (
        f"CASE WHEN abs(TRY_CAST({plain} AS DOUBLE)) < {MONEY_LIMIT} "
        f"THEN TRY_CAST(TRY_CAST({plain} AS DOUBLE) AS {sql_type}) END"
        if sql_type.upper() in ("DOUBLE", "INTEGER", "BIGINT")
        else f"CASE WHEN abs(TRY_CAST({plain} AS DOUBLE)) < {MONEY_LIMIT} "
        f"THEN TRY_CAST({plain} AS {sql_type}) END"
    )


def money_sql(x: str, decimal_comma: bool) -> str:
    """Parse money text to ``DECIMAL(18,4)`` (never through a float).

    Plain numbers (``-12.5``) take a direct cast; only values with symbols, separators
    or signs in other places go through the regular-expression path. The 1e12 limit is
    not applied here (see :func:`money_limit_ok`).
    """
    if decimal_comma:
        plain = (
            f"WHEN regexp_full_match({x}, '-?[0-9]*,?[0-9]*') "
            f"THEN TRY_CAST(replace({x}, ',', '.') AS DECIMAL(18,4))"
        )
    else:
        plain = (
            f"WHEN regexp_full_match({x}, '-?[0-9]*[.]?[0-9]*') THEN TRY_CAST({x} AS DECIMAL(18,4))"
        )
    slow = _money_plain(x, decimal_comma)
    return (
        f"(CASE WHEN {x} IS NULL THEN NULL {plain} "
        f"ELSE CASE WHEN abs(TRY_CAST({slow} AS DOUBLE)) < {MONEY_LIMIT} "
        f"THEN TRY_CAST({slow} AS DECIMAL(18,4)) END END)"
    )


def money_reason_sql(x: str, decimal_comma: bool) -> str:
    """SQL giving why ``x`` is not a valid number (NULL when it is valid or blank)."""
    plain = _money_plain(x, decimal_comma)
    t = _money_text(x)
    other = _US_RE if decimal_comma else _EU_RE
    hint = "drop --decimal-comma" if decimal_comma else "pass --decimal-comma"
    return (
        f"CASE WHEN {x} IS NULL THEN NULL "
        f"WHEN {plain} IS NULL AND regexp_full_match({t}, {lit(other)}) "
        f"THEN 'not a number; {hint}' "
        f"WHEN {plain} IS NULL THEN 'not a number' "
        f"WHEN NOT (abs(TRY_CAST({plain} AS DOUBLE)) < {MONEY_LIMIT}) "
        f"THEN 'implausibly large (1e12 or more)' END"
    )


def bool_sql(x: str) -> str:
    """Parse yes/no, true/false, 1/0, y/n, x (checked) to BOOLEAN; NULL when blank/unknown."""
    return (
        f"CASE WHEN lower({x}) IN ('yes','y','true','t','1','x','ja','oui','si','sí') THEN true "
        f"WHEN lower({x}) IN ('no','n','false','f','0','nein','non') THEN false END"
    )
