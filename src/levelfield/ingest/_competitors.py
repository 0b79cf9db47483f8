"""The competitor CSV: fixed columns plus free attribute columns and an optional type row.

See "Competitor CSV" in docs/contracts.md: ``name``, ``self``, ``description``,
``market_share``, ``snapshot_date``, ``source``; every other column is an attribute kept
as raw text in ``attributes`` (JSON object); a second row whose ``name`` is ``#type``
gives each attribute's type and is stored in ``attribute_types``. Types are parsed and
validated by :mod:`levelfield.landscape` at analysis time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from levelfield.errors import SchemaError
from levelfield.ingest._dates import plan_dates
from levelfield.ingest._sql import (
    bool_sql,
    lit,
    money_reason_sql,
    number_sql,
)

__all__ = ["FIXED", "PreparedCompetitors", "prepare_competitors"]

FIXED = ("name", "self", "description", "market_share", "snapshot_date", "source")
PV = "_lf_cpv"
BAD = "_lf_cbad"
TEMPLATE_HEADER = [*FIXED, "price_tier", "roast_styles", "organic", "rating", "channels"]
TEMPLATE_TYPES = [
    "#type",
    "-",
    "-",
    "-",
    "-",
    "-",
    "ordinal(budget<mid<premium)",
    "set",
    "flag",
    "numeric",
    "set",
]
TEMPLATE_ROWS = [
    [
        "Example Coffee Roasters",
        "yes",
        "Small-batch roaster selling online and to cafés",
        "0.04",
        "2024-06-01",
        "own assessment",
        "premium",
        "light;medium",
        "yes",
        "4.7",
        "online;wholesale",
    ],
]


@dataclass
class PreparedCompetitors:
    """Parsed competitor rows waiting in a temp table."""

    rows_in: int
    rows_rejected: int
    top_reasons: list[tuple[str, int]]
    examples: list[tuple[int | None, str | None, str | None, str]]
    notes: list[str]

    def write(self, con: duckdb.DuckDBPyConnection, import_id: int) -> int:
        con.execute("INSERT INTO rejects SELECT ?, _row, col, val, reason FROM " + BAD, [import_id])
        con.execute(
            "INSERT OR REPLACE INTO competitors (competitor_id, name, is_self, attributes, "
            "attribute_types, description, market_share, snapshot_date, source, import_id) "
            "SELECT competitor_id, name, is_self, attributes, attribute_types, description, "
            f"market_share, snapshot_date, source, ? FROM {PV} WHERE _keep",
            [import_id],
        )
        return self.rows_in - self.rows_rejected


def _competitor_columns(
    name: str, header: Sequence[str]
) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Fixed column -> index, and the (index, name) of every attribute column.

    Raises :class:`SchemaError` when there is no ``name`` column.
    """
    low = [h.strip().lower() for h in header]
    if "name" not in low:
        raise SchemaError(
            f"{name}: no 'name' column. Found: {', '.join(header)}. Expected: "
            f"{', '.join(FIXED)} plus one column per attribute; see "
            "'levelfield template competitors'"
        )
    idx = {h: low.index(h) for h in FIXED if h in low}
    attrs = [(i, h) for i, h in enumerate(header) if low[i] not in FIXED]
    return idx, attrs


def _attribute_types(
    con: duckdb.DuckDBPyConnection, raw: str, attrs: Sequence[tuple[int, str]], name_c: str
) -> dict[str, str | None] | None:
    """Attribute -> declared type from the optional ``#type`` row (None without one)."""
    type_rows = con.execute(
        f"SELECT {', '.join(f'c{i}' for i, _ in attrs) or 'NULL'} FROM {raw} "
        f"WHERE trim({name_c}) = '#type' LIMIT 1"
    ).fetchall()
    if not (type_rows and attrs):
        return None
    return {h: (t.strip() if t else None) for (_, h), t in zip(attrs, type_rows[0], strict=True)}


def _competitor_error_sql(
    c: Callable[[str], str], hdr: Mapping[str, str], share: str, snap: str, dc: bool
) -> str:
    """SQL struct (col, val, reason) of a competitor row's first failed check.

    ``c`` gives a fixed column's trimmed SQL; ``share`` and ``snap`` the parsed
    market share and snapshot date.
    """
    share_txt = f"regexp_replace({c('market_share')}, '%$', '')"
    checks = [
        (f"{c('name')} IS NULL", hdr["name"], "NULL", "'blank (name is required)'"),
        (
            f"({money_reason_sql(share_txt, dc)}) IS NOT NULL",
            hdr.get("market_share", "NULL"),
            c("market_share"),
            money_reason_sql(share_txt, dc),
        ),
        (
            f"{share} < 0 OR {share} > 1",
            hdr.get("market_share", "NULL"),
            c("market_share"),
            "'not a share between 0 and 1 (write 0.12 or 12%)'",
        ),
        (
            f"{c('self')} IS NOT NULL AND {bool_sql(c('self'))} IS NULL",
            hdr.get("self", "NULL"),
            c("self"),
            "'not yes/no'",
        ),
        (
            f"{c('snapshot_date')} IS NOT NULL AND {snap} IS NULL",
            hdr.get("snapshot_date", "NULL"),
            c("snapshot_date"),
            "'not a date; use YYYY-MM-DD'",
        ),
    ]
    return (
        "(CASE "
        + " ".join(
            f"WHEN {cond} THEN {{'col': {col}, 'val': CAST({val} AS VARCHAR), 'reason': {r}}}"
            for cond, col, val, r in checks
        )
        + " END)"
    )


def _competitor_select(
    con: duckdb.DuckDBPyConnection,
    *,
    name: str,
    header: Sequence[str],
    raw: str,
    idx: Mapping[str, int],
    attrs: Sequence[tuple[int, str]],
    types: Mapping[str, str | None] | None,
    decimal_comma: bool | None,
) -> str:
    """The SELECT list that parses one staged competitor row (id, name, self flag,
    attributes as JSON, market share, snapshot date, source, error struct)."""

    def c(field: str) -> str:
        return f"nullif(trim(c{idx[field]}), '')" if field in idx else "NULL"

    dc = bool(decimal_comma)
    share_txt = f"regexp_replace({c('market_share')}, '%$', '')"
    share = (
        f"(CASE WHEN {c('market_share')} LIKE '%\\%' ESCAPE '\\' THEN "
        f"{number_sql(share_txt, dc, 'DOUBLE')} / 100 ELSE "
        f"{number_sql(c('market_share'), dc, 'DOUBLE')} END)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _lf_dcol AS SELECT {c('snapshot_date')} AS d FROM {raw}"
    )
    plan = plan_dates(
        con, "_lf_dcol", "d", name=name, label="snapshot_date", dayfirst=None, date_format=None
    )
    snap = f"CAST({plan.sql(c('snapshot_date'))} AS DATE)"
    attr_json = (
        "json_object(" + ", ".join(f"{lit(h)}, nullif(trim(c{i}), '')" for i, h in attrs) + ")"
        if attrs
        else "json_object()"
    )
    types_sql = f"CAST({lit(json.dumps(types))} AS JSON)" if types else "NULL"
    hdr = {f: lit(header[i]) for f, i in idx.items()}
    err = _competitor_error_sql(c, hdr, share, snap, dc)
    slug = f"trim(regexp_replace(lower({c('name')}), '[^a-z0-9]+', '-', 'g'), '-')"
    return (
        f"_row, {slug} AS competitor_id, {c('name')} AS name, "
        f"coalesce({bool_sql(c('self'))}, false) AS is_self, {attr_json} AS attributes, "
        f"{types_sql} AS attribute_types, {c('description')} AS description, "
        f"{share} AS market_share, {snap} AS snapshot_date, {c('source')} AS source, "
        f"{err} AS err"
    )


def prepare_competitors(
    con: duckdb.DuckDBPyConnection,
    *,
    name: str,
    header: Sequence[str],
    raw: str,
    decimal_comma: bool | None,
) -> PreparedCompetitors:
    """Parse staged competitor rows (no workspace writes).

    Stages: find the columns (:func:`_competitor_columns`), read the ``#type`` row
    (:func:`_attribute_types`), parse each row (:func:`_competitor_select`), give firms
    that share a name their own ids (:func:`_separate_shared_names`), keep the last row
    per id, and count rejects.
    """
    idx, attrs = _competitor_columns(name, header)
    name_c = f"c{idx['name']}"
    types = _attribute_types(con, raw, attrs, name_c)
    not_type_row = f"coalesce(trim({name_c}), '') <> '#type'"
    rows_in = int(con.execute(f"SELECT count(*) FROM {raw} WHERE {not_type_row}").fetchall()[0][0])
    select = _competitor_select(
        con,
        name=name,
        header=header,
        raw=raw,
        idx=idx,
        attrs=attrs,
        types=types,
        decimal_comma=decimal_comma,
    )
    for t in (PV, BAD):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute("DROP TABLE IF EXISTS _lf_cpv0")
    con.execute(f"CREATE TEMP TABLE _lf_cpv0 AS SELECT {select} FROM {raw} WHERE {not_type_row}")
    name_notes = _separate_shared_names(con, [h for _, h in attrs])
    con.execute(
        f"CREATE TEMP TABLE {PV} AS SELECT *, err IS NULL AND row_number() OVER "
        "(PARTITION BY err IS NULL, competitor_id ORDER BY _row DESC) = 1 AS _keep "
        "FROM _lf_cpv0"
    )
    con.execute("DROP TABLE _lf_cpv0")
    con.execute(
        f"CREATE TEMP TABLE {BAD} AS SELECT _row, err.col AS col, err.val AS val, "
        f"err.reason AS reason FROM {PV} WHERE err IS NOT NULL"
    )
    n_bad = int(con.execute(f"SELECT count(*) FROM {BAD}").fetchall()[0][0])
    reasons = [
        (str(r), int(n))
        for r, n in con.execute(
            f"SELECT reason, count(*) n FROM {BAD} GROUP BY reason ORDER BY n DESC LIMIT 5"
        ).fetchall()
    ]
    examples = [
        (int(r) if r is not None else None, col, v, str(reason))
        for r, col, v, reason in con.execute(
            f"SELECT _row, col, val, reason FROM {BAD} ORDER BY _row LIMIT 3"
        ).fetchall()
    ]
    notes = [f"{len(attrs)} attribute columns", *name_notes]
    if types:
        notes.append("attribute types read from the #type row")
    n_self = int(con.execute(f"SELECT count(*) FROM {PV} WHERE _keep AND is_self").fetchall()[0][0])
    if n_self != 1:
        notes.append(
            f"{n_self} rows are marked self=yes; mark exactly one row (your business) "
            "so distinctiveness can be measured"
        )
    return PreparedCompetitors(rows_in, n_bad, reasons, examples, notes)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def split_shared_name(
    cid: str,
    name: str,
    rows: Sequence[int],
    values: Sequence[Mapping[str, object]],
    attrs: Sequence[str],
) -> tuple[list[tuple[str, str, int]], str | None, str | None]:
    """Tell apart the rows of one competitor name: (id, shown name, row) renames, a
    note when they are kept apart, a note when they are one firm listed twice.

    The first attribute (in ``attrs`` order) whose values are non-blank and differ on
    every row names them; rows equal in every attribute are merged (no rename); other
    rows are numbered.

    Examples
    --------
    >>> split_shared_name("blackrocks", "Blackrocks", [3, 9],
    ...                   [{"state": "MI"}, {"state": "MA"}], ["state"])[0]
    [('blackrocks-mi', 'Blackrocks (MI)', 3), ('blackrocks-ma', 'Blackrocks (MA)', 9)]
    """
    by = next(
        (
            a
            for a in attrs
            if all(_slug(str(v.get(a) or "")) for v in values)
            and len({_slug(str(v.get(a) or "")) for v in values}) == len(values)
        ),
        None,
    )
    if by is not None:
        renames = [
            (f"{cid}-{_slug(str(v[by]))}", f"{name} ({v[by]})", r)
            for v, r in zip(values, rows, strict=True)
        ]
        return renames, f"{name} ({by}: {' / '.join(str(v[by]) for v in values)})", None
    if all(v == values[0] for v in values):
        return [], None, f"rows {', '.join(str(r) for r in rows)} ({name})"
    renames = [(f"{cid}-{i + 1}", f"{name} ({i + 1})", r) for i, r in enumerate(rows)]
    return renames, f"{name} (rows {', '.join(str(r) for r in rows)}, numbered)", None


def _separate_shared_names(con: duckdb.DuckDBPyConnection, attrs: Sequence[str]) -> list[str]:
    """Give firms that share a name their own ids; report rows that are true repeats.

    Competitors are keyed by their name. Real lists repeat names for different firms
    (two "Blackrocks Brewery", in MI and MA), so within a group of rows with the same
    name the first attribute whose values tell every row apart is added to the id
    (``blackrocks-brewery-ma``) and to the shown name (``Blackrocks Brewery (MA)``). Rows
    identical in every attribute are one firm listed twice: they are merged, and the note
    names the rows. Returns notes for the summary.
    """
    groups = con.execute(
        "SELECT competitor_id, any_value(name), list(_row ORDER BY _row), "
        "list(CAST(attributes AS VARCHAR) ORDER BY _row) FROM _lf_cpv0 "
        "WHERE err IS NULL AND competitor_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1 "
        "ORDER BY min(_row)"
    ).fetchall()
    if not groups:
        return []
    # Describing columns (city, state) before columns that are unique on every row
    # (row numbers, ids), which tell rows apart without saying how the firms differ.
    unique = (
        con.execute(
            "SELECT "
            + ", ".join(
                f"count(DISTINCT json_extract_string(attributes, {lit('$.' + json.dumps(a))})) "
                "= count(*)"
                for a in attrs
            )
            + " FROM _lf_cpv0 WHERE err IS NULL"
        ).fetchall()[0]
        if attrs
        else ()
    )
    attrs = [a for a, u in zip(attrs, unique, strict=True) if not u] + [
        a for a, u in zip(attrs, unique, strict=True) if u
    ]
    renames: list[tuple[str, str, int]] = []
    kept: list[str] = []
    merged: list[str] = []
    for cid, name, rows, attr_texts in groups:
        values = [json.loads(t) if t else {} for t in attr_texts]
        new, kept_note, merged_note = split_shared_name(cid, name, rows, values, attrs)
        renames += new
        kept += [kept_note] if kept_note else []
        merged += [merged_note] if merged_note else []
    if renames:
        con.executemany(
            # the shown name carries the telling value too, so that the landscape (which
            # shows firms by name) and the owner can tell the two apart
            "UPDATE _lf_cpv0 SET competitor_id = ?, name = ? WHERE _row = ?",
            [list(x) for x in renames],
        )
    notes = []
    if kept:
        notes.append(
            f"{len(kept)} names appear on more than one row and are kept as separate "
            f"competitors, told apart by another column: {'; '.join(kept)}. If two rows are "
            "the same firm entered twice, delete one and import again"
        )
    if merged:
        notes.append(
            "rows repeating a competitor in every column were merged (the last one kept): "
            + "; ".join(merged)
        )
    return notes
