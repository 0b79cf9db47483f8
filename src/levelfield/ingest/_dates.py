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
from collections.abc import Sequence
from dataclasses import dataclass, field

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


@dataclass
class _ShapeFormats:
    """Formats per date shape of a sample, and the day/month evidence.

    ``fixed``: shapes with one reading (ISO, month names); ``dmy``/``mdy``: the
    day-first and month-first formats of day/month shapes; ``n_dmy``/``n_mdy``: values
    only one order can read; ``n_slash``: day/month values; ``example``: one of them.
    """

    fixed: dict[str, str] = field(default_factory=dict)
    dmy: dict[str, str] = field(default_factory=dict)
    mdy: dict[str, str] = field(default_factory=dict)
    n_dmy: int = 0
    n_mdy: int = 0
    n_slash: int = 0
    example: str | None = None


def _classify_shapes(rows: Sequence[tuple[str, str, int, int, int]]) -> _ShapeFormats:
    """Sort the shapes of :func:`_shapes` into fixed and day/month ones with evidence."""
    out = _ShapeFormats()
    for shape, ex, n, e_dmy, e_mdy in rows:
        other, d, m = _formats_for(ex)
        if other is not None:
            out.fixed[shape] = other
        elif d is not None or m is not None:
            out.n_slash += n
            out.example = out.example or ex
            if d is not None:
                out.dmy[shape] = d
                out.n_dmy += e_dmy
            if m is not None:
                out.mdy[shape] = m
                out.n_mdy += e_mdy
    return out


def choose_date_order(
    n_slash: int,
    n_dmy: int,
    n_mdy: int,
    *,
    dayfirst: bool | None,
    native_order: str | None,
    dmy_only: bool,
    mdy_only: bool,
) -> str | None:
    """``"dmy"`` or ``"mdy"`` for a column's day/month dates, None when undecidable.

    In order: no day/month values (irrelevant, ``"dmy"``); the user's
    ``--dayfirst``/``--monthfirst``; the values only one order reads (the majority
    wins; the minority is rejected row by row); the platform's own order; shapes that
    fit only one order.

    Examples
    --------
    >>> choose_date_order(10, 3, 1, dayfirst=None, native_order="mdy",
    ...                   dmy_only=False, mdy_only=False)
    'dmy'
    >>> choose_date_order(10, 0, 0, dayfirst=None, native_order=None,
    ...                   dmy_only=False, mdy_only=False) is None
    True
    """
    if not n_slash:
        return "dmy"
    if dayfirst is not None:
        return "dmy" if dayfirst else "mdy"
    if n_dmy or n_mdy:
        return "dmy" if n_dmy >= n_mdy else "mdy"
    if native_order is not None:
        return native_order
    if dmy_only:
        return "dmy"
    if mdy_only:
        return "mdy"
    return None


def _add_unsampled_shapes(
    con: duckdb.DuckDBPyConnection, table: str, column: str, plan: DatePlan, order: str
) -> DatePlan:
    """Shapes beyond the sample: plan them from the rows the sample's formats miss."""
    missed = _shapes(
        con,
        f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL "
        f"AND {plan.sql(column, '')} IS NULL LIMIT 50000",
    )
    extra: dict[str, str] = {}
    for shape, ex, _n, _d, _m in missed:
        other, d, m = _formats_for(ex)
        f = other or (d if order == "dmy" else m)
        if f is not None and shape not in plan.formats:
            extra[shape] = f
    return DatePlan({**plan.formats, **extra}, plan.order) if extra else plan


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

    Stages: the shapes of a 50,000-value sample (:func:`_classify_shapes`), all values
    when the sample cannot decide, the order (:func:`choose_date_order`), then shapes
    the sample missed (:func:`_add_unsampled_shapes`).

    Raises
    ------
    AmbiguousDateError
        Every day/month value fits both orders and nothing else decides.
    """
    if date_format is not None:
        return DatePlan({}, None, user_format=date_format)
    rows = _shapes(con, f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL LIMIT 50000")
    s = _classify_shapes(rows)
    if not s.n_slash and not s.fixed:
        return DatePlan({}, None)
    if s.n_slash and not (s.n_dmy or s.n_mdy) and dayfirst is None:
        # The sample cannot decide: look at every value of the column.
        full = _shapes(con, f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL")
        for _shape, ex, _n, e_dmy, e_mdy in full:
            _, d, _m = _formats_for(ex)
            if d is not None:
                s.n_dmy += e_dmy
                s.n_mdy += e_mdy
    order = choose_date_order(
        s.n_slash,
        s.n_dmy,
        s.n_mdy,
        dayfirst=dayfirst,
        native_order=native_order,
        dmy_only=bool(s.dmy) and not s.mdy,
        mdy_only=bool(s.mdy) and not s.dmy,
    )
    if order is None:
        raise AmbiguousDateError(
            f'{name} column "{label}": every one of its {s.n_slash:,} day/month dates (e.g. '
            f'"{s.example}") reads both as day-first (DD/MM) and as month-first (MM/DD), so '
            "the order cannot be decided from the file; pass --dayfirst or --monthfirst, "
            'or --date-format (e.g. --date-format "%d/%m/%Y")'
        )
    chosen = s.dmy if order == "dmy" else s.mdy
    ordered = {
        r[0]: s.fixed.get(r[0]) or chosen[r[0]] for r in rows if r[0] in s.fixed or r[0] in chosen
    }
    plan = DatePlan(ordered, order if s.n_slash else None)
    return _add_unsampled_shapes(con, table, column, plan, order)
