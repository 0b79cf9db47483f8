"""Decide a date column's format(s) from the whole column, then parse it with strptime.

Every value is reduced to its *shape* (digits replaced by ``9``: ``"12/01/2010 8:26"``
-> ``"99/99/9999 9:99"``) in one cheap SQL pass, grouped with counts and day/month
evidence. Each distinct shape is matched in Python to one ``strptime`` format, checked
on the shape's example value; day/month order is decided once for the whole column
(values with a first part above 12 are day-first, a second part above 12 month-first).
Shapes are read from a sample of the first 50,000 values and then from every value the
sample's formats miss, so unusual rows anywhere in the file are covered. The parse is a
``coalesce`` of ``try_strptime`` calls, most frequent format first: a failing attempt
costs DuckDB microseconds per row, so the common case must succeed first time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from levelfield.errors import AmbiguousDateError
from levelfield.ingest._sql import lit

__all__ = ["DatePlan", "plan_dates", "shape_sql"]

_DIGITS = "'0123456789', '9999999999'"
_NUMERIC = re.compile(r"^(\d{1,4})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?!\d)(.*)$")
_TIME = re.compile(
    r"^(?P<sep>[ T]+)(?P<h>\d{1,2}):\d{2}(?P<sec>:\d{2}(?P<frac>[.,]\d+)?)?"
    r"(?P<sp>\s*)(?P<ampm>[AaPp][Mm])?(?P<tzsp>\s*)(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?$"
)
_TEXT_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%a, %d %b %Y",
    "%A, %B %d, %Y",
)


def shape_sql(x: str) -> str:
    """SQL giving the shape of ``x`` (digits as 9)."""
    return f"translate({x}, {_DIGITS})"


@dataclass(frozen=True)
class DatePlan:
    """Shape -> strptime format for one column, and the day/month order chosen."""

    formats: dict[str, str]
    order: str | None
    user_format: str | None = None

    def sql(self, x: str, shape: str = "", zone: str | None = None) -> str:
        """UTC ``TIMESTAMP`` of ``x`` (NULL when no format fits).

        Formats are tried most frequent first; DuckDB's ``coalesce`` stops at the
        first that parses, so the common case costs one ``try_strptime``.
        """
        if self.user_format is not None:
            return _one(x, self.user_format, zone)
        fmts = list(dict.fromkeys(self.formats.values()))
        if not fmts:
            return "CAST(NULL AS TIMESTAMP)"
        if len(fmts) == 1:
            return _one(x, fmts[0], zone)
        return "coalesce(" + ", ".join(_one(x, f, zone) for f in fmts) + ")"


def _one(x: str, fmt: str, zone: str | None) -> str:
    if "%z" in fmt:
        return f"CAST(timezone('UTC', try_strptime({x}, {lit(fmt)})) AS TIMESTAMP)"
    ts = f"CAST(try_strptime({x}, {lit(fmt)}) AS TIMESTAMP)"
    if zone is None:
        return ts
    return f"(CASE WHEN {zone} IS NULL THEN {ts} ELSE timezone('UTC', timezone({zone}, {ts})) END)"


def _time_format(rest: str) -> str | None:
    if not rest:
        return ""
    m = _TIME.match(rest)
    if m is None:
        return None
    fmt = m["sep"] + ("%I" if m["ampm"] else "%H") + ":%M"
    if m["sec"]:
        fmt += ":%S"
        if m["frac"]:
            fmt += m["frac"][0] + "%f"
    if m["ampm"]:
        fmt += m["sp"] + "%p"
    if m["tz"]:
        tz = m["tz"]
        space = m["tzsp"] if m["ampm"] else m["sp"] + m["tzsp"]
        fmt += space + ("%z" if tz[0] in "+-" else tz)
    return fmt


def _check(example: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(example, fmt)
    except ValueError:
        return False
    return True


def _formats_for(example: str) -> tuple[str | None, str | None, str | None]:
    """(iso_or_other format, day-first format, month-first format) for one value."""
    v = example.strip()
    if re.fullmatch(r"\d{8}", v):
        return "%Y%m%d", None, None
    m = _NUMERIC.match(v)
    if m is not None:
        a, sep, _b, y, rest = m.groups()
        tfmt = _time_format(rest)
        if tfmt is None:
            return None, None, None
        yfmt = "%Y" if len(y) == 4 else "%y"
        if len(a) == 4:
            fmt = f"%Y{sep}%m{sep}%d{tfmt}"
            return (fmt if _check(v, fmt) else None), None, None
        if len(y) == 2 and len(a) == 2 and int(a) > 31:
            return None, None, None
        # Both orders are kept whatever this example says: the column decides.
        return None, f"%d{sep}%m{sep}{yfmt}{tfmt}", f"%m{sep}%d{sep}{yfmt}{tfmt}"
    for base in _TEXT_FORMATS:
        head = v
        for fmt in (base, base + " %H:%M", base + " %H:%M:%S", base + " %I:%M %p"):
            if _check(head, fmt):
                return fmt, None, None
    return None, None, None


def _shapes(con: duckdb.DuckDBPyConnection, sample: str) -> list[tuple[str, str, int, int, int]]:
    """Distinct shapes of a sample with an example, count and day/month evidence."""
    p1 = "TRY_CAST(split_part(translate(v, '.-', '//'), '/', 1) AS INTEGER)"
    p2 = "TRY_CAST(split_part(translate(v, '.-', '//'), '/', 2) AS INTEGER)"
    rows = con.execute(
        f"SELECT {shape_sql('v')} AS s, any_value(v), count(*), "
        f"count(*) FILTER (WHERE {p1} > 12 AND {p2} <= 12), "
        f"count(*) FILTER (WHERE {p2} > 12 AND {p1} <= 12) "
        f"FROM ({sample}) GROUP BY s ORDER BY count(*) DESC, s LIMIT 2000"
    ).fetchall()
    return [(str(a), str(b), int(c), int(d), int(e)) for a, b, c, d, e in rows]


def plan_dates(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    *,
    name: str,
    label: str,
    dayfirst: bool | None,
    date_format: str | None,
    native_order: str | None = None,
) -> DatePlan:
    """Decide how to parse ``table.column`` from all its values.

    Raises
    ------
    AmbiguousDateError
        Every day/month value fits both orders and nothing else decides.
    """
    if date_format is not None:
        return DatePlan({}, None, user_format=date_format)
    rows = _shapes(con, f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL LIMIT 50000")
    fixed: dict[str, str] = {}
    dmy: dict[str, str] = {}
    mdy: dict[str, str] = {}
    n_dmy = n_mdy = n_slash = 0
    example = None
    for shape, ex, _n, e_dmy, e_mdy in rows:
        other, d, m = _formats_for(str(ex))
        if other is not None:
            fixed[str(shape)] = other
        elif d is not None or m is not None:
            n_slash += int(_n)
            example = example or str(ex)
            if d is not None:
                dmy[str(shape)] = d
                n_dmy += int(e_dmy)
            if m is not None:
                mdy[str(shape)] = m
                n_mdy += int(e_mdy)
    if not n_slash and not fixed:
        return DatePlan({}, None)
    if n_slash and not (n_dmy or n_mdy) and dayfirst is None:
        # The sample cannot decide: look at every value of the column.
        full = _shapes(con, f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL")
        for _shape, ex, _n, e_dmy, e_mdy in full:
            _, d, m = _formats_for(str(ex))
            if d is not None:
                n_dmy += int(e_dmy)
                n_mdy += int(e_mdy)
    if not n_slash:
        order = "dmy"  # irrelevant: no day/month values
    elif dayfirst is not None:
        order = "dmy" if dayfirst else "mdy"
    elif n_dmy or n_mdy:
        # The column decides; a minority in the other order is rejected row by row.
        order = "dmy" if n_dmy >= n_mdy else "mdy"
    elif native_order is not None:
        order = native_order
    elif dmy and not mdy:
        order = "dmy"
    elif mdy and not dmy:
        order = "mdy"
    else:
        raise AmbiguousDateError(
            f'{name} column "{label}": every one of its {n_slash:,} day/month dates (e.g. '
            f'"{example}") reads both as day-first (DD/MM) and as month-first (MM/DD), so '
            "the order cannot be decided from the file; pass --dayfirst or --monthfirst, "
            'or --date-format (e.g. --date-format "%d/%m/%Y")'
        )
    chosen = dmy if order == "dmy" else mdy
    ordered = {
        str(r[0]): fixed.get(str(r[0])) or chosen[str(r[0])]
        for r in rows
        if str(r[0]) in fixed or str(r[0]) in chosen
    }
    plan = DatePlan(ordered, order if n_slash else None)
    # Shapes beyond the sample: plan them from the rows the sample's formats miss.
    missed = _shapes(
        con,
        f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL "
        f"AND {plan.sql(column, '')} IS NULL LIMIT 50000",
    )
    extra: dict[str, str] = {}
    for shape, ex, _n, _d, _m in missed:
        other, d, m = _formats_for(str(ex))
        f = other or (d if order == "dmy" else m)
        if f is not None and str(shape) not in plan.formats:
            extra[str(shape)] = f
    return DatePlan({**plan.formats, **extra}, plan.order) if extra else plan
