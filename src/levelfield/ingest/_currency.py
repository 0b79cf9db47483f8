"""Currency checks of an order file, before and after it is written (issue 25).

An order the accountant cannot book in the base currency must not slip into the
workspace: a currency code that is not ISO 4217, an amount whose symbol says another
currency than its row (``€12.00`` on a ``USD`` row), or an order with no exchange rate
to the base currency (a date before the ECB history, a currency the ECB does not
publish, and no rate of the owner's) stops the import with the file, row and column
and how to fix it. Each check is one SQL query over the whole file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import duckdb

from levelfield.errors import DataError, ParseError, UnknownReferenceError
from levelfield.ingest._sql import lit
from levelfield.workspace import iso_currencies, reference_currencies

__all__ = ["check_order_currencies", "check_order_rates", "symbol_currencies"]

_FIX_RATES = (
    "import your bank's rates for those dates first ('levelfield import fx_rates FILE'; "
    "'levelfield template fx_rates' shows the columns), or set the business currency "
    "('levelfield import business FILE', key currency); nothing was imported"
)


@functools.cache
def symbol_currencies() -> dict[str, frozenset[str]]:
    """Currency symbol -> the ISO codes it can stand for (CLDR names and symbols).

    ``$`` stands for every dollar and peso (and the real, ``R$``); ``£`` for every
    pound; ``¥`` for the yen and the yuan.
    """
    from babel.numbers import get_currency_name, get_currency_symbol

    words = {"$": ("dollar", "peso"), "£": ("pound",), "¥": ("yen", "yuan")}
    out: dict[str, frozenset[str]] = {}
    for sym in ("€", "£", "¥", "₹", "₩", "$"):
        codes = set()
        for code in iso_currencies():
            name = get_currency_name(code, locale="en").lower()
            if sym in get_currency_symbol(code, "en") or any(w in name for w in words.get(sym, ())):
                codes.add(code)
        out[sym] = frozenset(codes)
    return out


def _codes_sql() -> str:
    return "[" + ", ".join(lit(c) for c in sorted(iso_currencies())) + "]"


def _implied_sql(x: str) -> str:
    """SQL: the list of currencies the symbol or ISO code inside amount text ``x`` allows
    (NULL when the text names no currency)."""
    codes = _codes_sql()
    token = f"regexp_extract(upper({x}), '(^|[^A-Z])([A-Z]{{3}})([^A-Z]|$)', 2)"
    whens = " ".join(
        f"WHEN contains({x}, {lit(sym)}) THEN [{', '.join(lit(c) for c in sorted(cs))}]"
        for sym, cs in symbol_currencies().items()
    )
    return (
        f"(CASE WHEN {x} IS NULL THEN NULL {whens} "
        f"WHEN list_contains({codes}, {token}) THEN [{token}] END)"
    )


def check_order_currencies(
    con: duckdb.DuckDBPyConnection,
    *,
    staged: str,
    name: str,
    labels: Mapping[str, str],
    has: set[str],
    money_fields: tuple[str, ...],
    default_currency: str,
    default_origin: str,
) -> None:
    """Raise when a currency code is not ISO 4217 or an amount's symbol contradicts it.

    ``staged`` is the view of trimmed text fields with ``_row``; ``default_currency``
    is what rows without a currency column take, ``default_origin`` says where it came
    from (``--currency EUR``, ``the profile``, ...) for the message.
    """
    if default_currency not in iso_currencies():
        raise UnknownReferenceError(
            f'{name}: "{default_currency}" ({default_origin}) is not an ISO 4217 currency '
            "code; pass --currency with a three-letter code such as EUR or USD"
        )
    live = f"(SELECT * FROM {staged}" + (" WHERE skip IS NULL)" if "skip" in has else ")")
    codes = _codes_sql()
    for f in ("currency", "converted_currency"):
        if f not in has:
            continue
        row = con.execute(
            f"SELECT _row, {f}, count(*) OVER () FROM {live} WHERE {f} IS NOT NULL "
            f"AND NOT list_contains({codes}, upper({f})) ORDER BY _row LIMIT 1"
        ).fetchall()
        if row:
            r, val, n = row[0]
            raise UnknownReferenceError(
                f'{name} row {int(r):,}, column "{labels.get(f, f)}": "{val}" is not an ISO '
                f"4217 currency code ({int(n):,} row{'s' if n != 1 else ''} like this); "
                "write the three-letter code (EUR, USD, GBP, ...) in that column; "
                "nothing was imported"
            )
    cur_col = "currency" if "currency" in has else "NULL"
    row_cur = f"coalesce(upper({cur_col}), {lit(default_currency)})"
    allowed = (
        f"[{row_cur}, upper(converted_currency)]" if "converted_currency" in has else f"[{row_cur}]"
    )
    for f in (*money_fields, "currency_symbols"):
        if f not in has:
            continue
        implied = _implied_sql(f)
        row = con.execute(
            f"SELECT _row, {f}, {row_cur}, count(*) OVER () FROM {live} "
            f"WHERE {implied} IS NOT NULL AND NOT list_has_any({implied}, {allowed}) "
            "ORDER BY _row LIMIT 1"
        ).fetchall()
        if row:
            r, val, cur, n = row[0]
            where = (
                f'the row\'s currency (column "{labels.get("currency", "currency")}")'
                if "currency" in has
                else f"the file's currency ({default_origin})"
            )
            raise ParseError(
                f'{name} row {int(r):,}, column "{labels.get(f, f)}": "{val}" carries the '
                f"sign of another currency than {where}, {cur} "
                f"({int(n):,} row{'s' if n != 1 else ''} like this); correct the amount or "
                "the currency"
                + (" column" if "currency" in has else " with --currency")
                + "; nothing was imported"
            )


def check_order_rates(
    con: duckdb.DuckDBPyConnection,
    *,
    orders: str,
    import_id: int,
    base_before: str,
    name: str,
    labels: Mapping[str, str],
) -> None:
    """Raise when an order has no rate to the base currency after this import.

    Runs inside the import's transaction after the write, so the base currency is the
    one the workspace has with this file in it; raising rolls the import back. The
    orders of this import are checked, and all orders when this file changed the base
    currency (``base_before``). ``orders`` is the prepared order table with each order's
    first file row (``first_row``).
    """
    base = str(con.execute("SELECT currency FROM base_currency").fetchall()[0][0])
    scope = "" if base != base_before else "AND r.import_id = ? "
    row = con.execute(
        f"SELECT p.first_row, r.currency, CAST(r.ordered_at AS DATE), "
        f"count(*) OVER () FROM order_revenue r "
        f"LEFT JOIN {orders} p USING (order_id) WHERE r.fx_source = 'missing' {scope}"
        "ORDER BY p.first_row NULLS LAST, r.ordered_at LIMIT 1",
        [] if base != base_before else [import_id],
    ).fetchall()
    if not row:
        return
    r, cur, day, n = row[0]
    many = f"{int(n):,} order{'s' if n != 1 else ''} like this"
    if r is None:
        raise DataError(
            f"{name}: with this file the base currency becomes {base} (the currency of "
            f"most revenue; it was {base_before}), and {int(n):,} earlier orders in {cur} "
            f"have no exchange rate to {base} (from {day}); " + _FIX_RATES
        )
    unpublished = sorted({str(cur), base} - reference_currencies())
    if unpublished:
        raise DataError(
            f'{name} row {int(r):,}, column "{labels.get("currency", "currency")}": no '
            f"exchange rate from {cur} to the base currency {base} on {day} (the ECB "
            f"publishes no reference rate for {' or '.join(unpublished)}; {many}); " + _FIX_RATES
        )
    first = con.execute(
        "SELECT currency, min(day) FROM fx_reference_daily WHERE currency IN (?, ?) "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
        [str(cur), base],
    ).fetchall()
    since = f"{first[0][0]} from {first[0][1]}" if first else "this pair"
    raise DataError(
        f'{name} row {int(r):,}, column "{labels.get("ordered_at", "ordered_at")}": the '
        f"order of {day} in {cur} is outside the ECB rate history (rates for {since}) "
        f"and has no rate of yours to {base} ({many}); " + _FIX_RATES
    )
