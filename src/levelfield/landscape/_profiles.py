"""Competitor profiles: parse, type and validate the attributes of each firm.

Ingest stores every attribute as a raw string; this module turns them into typed,
encoded arrays that the distance kernels read. Types follow the competitor template's
type row (``docs/contracts.md``): ``numeric``, ``ordinal(a<b<c)``, ``category``, ``set``
(values joined with ``;``), ``flag`` (yes/no) and ``text``. A column without a type is
inferred from its values; a column that cannot be inferred is an error whose message
shows the type row to add.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from levelfield.errors import (
    DataError,
    DataQualityWarning,
    InsufficientDataError,
    ParseError,
    SchemaError,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "FIXED_COLUMNS",
    "AttributeSpec",
    "CompetitorProfiles",
    "EncodedAttribute",
    "load_profiles",
    "parse_type",
    "profiles_from_frame",
]

AttributeKind = Literal["numeric", "ordinal", "category", "set", "flag", "text"]

#: The attribute types a competitor column may have (the template's type row).
ATTRIBUTE_TYPES: tuple[str, ...] = (
    "numeric",
    "ordinal(a<b<c)",
    "category",
    "set",
    "flag",
    "text",
)

#: Columns of the competitor template that are not attributes.
FIXED_COLUMNS: tuple[str, ...] = (
    "competitor_id",
    "name",
    "self",
    "is_self",
    "description",
    "market_share",
    "snapshot_date",
    "source",
    "import_id",
)

_MISSING = frozenset({"", "na", "n/a", "nan", "none", "null", "-", "?", "unknown"})
_TRUE = frozenset({"yes", "y", "true", "t", "1", "x"})
_FALSE = frozenset({"no", "n", "false", "f", "0"})
_FLAG_WORDS = frozenset({"yes", "y", "true", "t", "no", "n", "false", "f"})
_NUMBER_JUNK = re.compile(r"[\s$€£¥%,_]|^\+")
_ORDINAL = re.compile(r"^\s*ordinal\s*\((.*)\)\s*$", re.IGNORECASE)
_TYPE_ROW_HINT = (
    "add a type row under the header whose 'name' cell is '#type' and whose cells are "
    "numeric, ordinal(low<mid<high), category, set, flag or text "
    "(see 'levelfield template competitors')"
)


@dataclass(frozen=True)
class AttributeSpec:
    """The declared or inferred type of one attribute column.

    Parameters
    ----------
    name
        Column name as in the competitor file.
    kind
        ``numeric``, ``ordinal``, ``category``, ``set``, ``flag`` or ``text``.
    levels
        For ``ordinal``: the levels from lowest to highest.
    inferred
        True when the type was inferred from the values, not given in the type row.
    """

    name: str
    kind: AttributeKind
    levels: tuple[str, ...] = ()
    inferred: bool = False

    def type_label(self) -> str:
        """The type as written in the template's type row."""
        if self.kind == "ordinal":
            return f"ordinal({'<'.join(self.levels)})"
        return self.kind


@dataclass(frozen=True, eq=False)
class EncodedAttribute:
    """One attribute encoded for the distance kernels.

    ``values`` depends on the kind: ``numeric`` and ``ordinal`` hold floats (ordinal:
    the level's rank 0..L-1) with NaN for missing; ``category`` holds integer codes
    into ``labels`` (-1 missing); ``flag`` holds 0/1 floats with NaN for missing; ``set``
    holds an (n, len(labels)) boolean membership matrix. ``available`` is False where
    the value is missing.
    """

    spec: AttributeSpec
    values: npt.NDArray[Any]
    available: npt.NDArray[np.bool_]
    labels: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> AttributeKind:
        return self.spec.kind

    def take(self, index: npt.NDArray[np.intp]) -> EncodedAttribute:
        """The same attribute restricted to rows ``index``."""
        return EncodedAttribute(self.spec, self.values[index], self.available[index], self.labels)

    def value_at(self, i: int) -> str:
        """Human-readable value of row ``i`` ('' when missing)."""
        v = self.values
        if not self.available[i]:
            return ""
        if self.kind == "numeric":
            return f"{float(v[i]):g}"
        if self.kind == "ordinal":
            return self.spec.levels[int(v[i])]
        if self.kind == "category":
            return self.labels[int(v[i])]
        if self.kind == "flag":
            return "yes" if v[i] > 0 else "no"
        return "; ".join(lab for lab, m in zip(self.labels, v[i], strict=True) if m)

    def display(self) -> list[str]:
        """Human-readable value of each row ('' when missing), for tables."""
        return [self.value_at(i) for i in range(len(self.available))]


@dataclass(frozen=True, eq=False)
class CompetitorProfiles:
    """Typed competitor profiles: one row per firm (and snapshot date).

    Parameters
    ----------
    names
        Firm names, one per row.
    is_self
        True on the business's own row(s).
    shares
        Market share or proxy per row (NaN when not given); not yet normalized.
    snapshot
        Snapshot date per row (``datetime64[D]``, NaT when not given).
    attributes
        Encoded non-text attributes, in column order.
    texts
        Free text per row: description and every ``text`` attribute joined.
    text_columns
        Names of the ``text`` attributes that went into ``texts``.
    notes
        What was repaired or assumed while parsing, in plain language.
    """

    names: tuple[str, ...]
    is_self: npt.NDArray[np.bool_]
    shares: npt.NDArray[np.float64]
    snapshot: npt.NDArray[np.datetime64]
    attributes: tuple[EncodedAttribute, ...]
    texts: tuple[str, ...]
    text_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.names)

    @property
    def specs(self) -> tuple[AttributeSpec, ...]:
        return tuple(a.spec for a in self.attributes)

    @property
    def self_index(self) -> int | None:
        """Row of the business itself, or None when no row is flagged ``self``."""
        idx = np.flatnonzero(self.is_self)
        return int(idx[0]) if idx.size else None

    def take(self, index: npt.NDArray[np.intp] | Sequence[int]) -> CompetitorProfiles:
        """Profiles restricted to rows ``index`` (in that order)."""
        ix = np.asarray(index, dtype=np.intp)
        return CompetitorProfiles(
            names=tuple(self.names[i] for i in ix),
            is_self=self.is_self[ix],
            shares=self.shares[ix],
            snapshot=self.snapshot[ix],
            attributes=tuple(a.take(ix) for a in self.attributes),
            texts=tuple(self.texts[i] for i in ix),
            text_columns=self.text_columns,
            notes=self.notes,
        )

    def latest_index(self) -> npt.NDArray[np.intp]:
        """Rows of the current landscape: each firm's latest snapshot."""
        if np.all(np.isnat(self.snapshot)):
            return np.arange(self.n, dtype=np.intp)
        frame = pd.DataFrame(
            {"key": [n.casefold() for n in self.names], "date": self.snapshot, "row": range(self.n)}
        )
        frame = frame.sort_values(["key", "date"], na_position="first", kind="stable")
        rows = frame.groupby("key", sort=False)["row"].last().to_numpy()
        return np.sort(rows).astype(np.intp)

    def to_frame(self) -> pd.DataFrame:
        """The profiles as a table of readable values (one column per attribute)."""
        data: dict[str, Any] = {
            "name": list(self.names),
            "self": self.is_self.copy(),
            "market_share": self.shares.copy(),
            "snapshot_date": self.snapshot.copy(),
        }
        for a in self.attributes:
            data[a.name] = a.display()
        data["text"] = list(self.texts)
        return pd.DataFrame(data)


# -- parsing -----------------------------------------------------------------------------


def parse_type(raw: str, column: str) -> AttributeSpec | None:
    """Parse one cell of the type row (``None`` for a fixed column marked ``-``).

    Raises
    ------
    SchemaError
        When the type is not one of :data:`ATTRIBUTE_TYPES`.
    """
    text = str(raw).strip()
    low = text.lower()
    if low in ("-", ""):
        return None
    m = _ORDINAL.match(text)
    if m:
        levels = tuple(lv.strip() for lv in m.group(1).split("<"))
        if len(levels) < 2 or any(not lv for lv in levels):
            raise SchemaError(
                f'competitors, column "{column}": ordinal type {text!r} needs at least two '
                "non-empty levels from low to high, e.g. ordinal(budget<mid<premium)"
            )
        folded = [lv.casefold() for lv in levels]
        if len(set(folded)) != len(folded):
            raise SchemaError(
                f'competitors, column "{column}": ordinal type {text!r} repeats a level'
            )
        return AttributeSpec(column, "ordinal", levels)
    aliases: dict[str, AttributeKind] = {
        "numeric": "numeric",
        "number": "numeric",
        "category": "category",
        "categorical": "category",
        "set": "set",
        "multi": "set",
        "flag": "flag",
        "bool": "flag",
        "boolean": "flag",
        "text": "text",
    }
    kind = aliases.get(low)
    if kind is None:
        raise SchemaError(
            f'competitors, column "{column}": unknown type {text!r} in the type row; use one '
            f"of {', '.join(ATTRIBUTE_TYPES)} (or - for a fixed column)"
        )
    return AttributeSpec(column, kind)


def _cells(values: Sequence[Any]) -> list[str | None]:
    """Raw cells as stripped strings, None when missing."""
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            out.append(None)
            continue
        if isinstance(v, bool | np.bool_):
            out.append("yes" if v else "no")
            continue
        if isinstance(v, list | tuple | set | frozenset):
            out.append(";".join(str(x) for x in v))
            continue
        s = str(v).strip()
        out.append(None if s.casefold() in _MISSING else s)
    return out


def _to_number(cell: str) -> float | None:
    s = _NUMBER_JUNK.sub("", cell)
    if s.startswith("(") and s.endswith(")"):
        s = "-" + s[1:-1]
    try:
        x = float(s)
    except ValueError:
        return None
    return x if np.isfinite(x) else None


def _infer(column: str, cells: list[str | None], names: Sequence[str]) -> AttributeSpec | None:
    """Infer a column's type from its values; None when every value is missing."""
    present = [c for c in cells if c is not None]
    if not present:
        return None
    folded = {c.casefold() for c in present}
    if folded <= _FLAG_WORDS | {"0", "1"} and (folded & _FLAG_WORDS or folded == {"0", "1"}):
        return AttributeSpec(column, "flag", inferred=True)
    numbers = [_to_number(c) for c in present]
    n_num = sum(x is not None for x in numbers)
    if n_num == len(present):
        return AttributeSpec(column, "numeric", inferred=True)
    if any(";" in c for c in present):
        return AttributeSpec(column, "set", inferred=True)
    words = np.array([len(c.split()) for c in present])
    if words.mean() >= 4:
        return AttributeSpec(column, "text", inferred=True)
    if n_num > 0:
        bad = next(
            (names[i], c) for i, c in enumerate(cells) if c is not None and _to_number(c) is None
        )
        raise SchemaError(
            f'competitors, column "{column}": cannot infer its type: {n_num} of {len(present)} '
            f"values are numbers but e.g. {bad[1]!r} (firm {bad[0]!r}) is not; fix that value "
            f"or {_TYPE_ROW_HINT}"
        )
    distinct = len(folded)
    if len(present) >= 5 and distinct == len(present):
        raise SchemaError(
            f'competitors, column "{column}": cannot infer its type: all {distinct} values are '
            "different short labels (a category needs repeated values, text needs sentences); "
            + _TYPE_ROW_HINT
        )
    return AttributeSpec(column, "category", inferred=True)


def _where(names: Sequence[str], i: int, column: str) -> str:
    return f'competitors, firm {names[i]!r}, column "{column}"'


def _encode(spec: AttributeSpec, cells: list[str | None], names: Sequence[str]) -> EncodedAttribute:
    n = len(cells)
    avail = np.array([c is not None for c in cells], dtype=bool)
    if spec.kind == "numeric":
        vals = np.full(n, np.nan)
        for i, c in enumerate(cells):
            if c is None:
                continue
            x = _to_number(c)
            if x is None:
                raise ParseError(
                    f"{_where(names, i, spec.name)}: {c!r} is not a number; write a plain "
                    "number (e.g. 12.5) or leave the cell empty if unknown"
                )
            vals[i] = x
        return EncodedAttribute(spec, vals, avail)
    if spec.kind == "ordinal":
        lookup = {lv.casefold(): k for k, lv in enumerate(spec.levels)}
        vals = np.full(n, np.nan)
        for i, c in enumerate(cells):
            if c is None:
                continue
            k = lookup.get(c.casefold())
            if k is None:
                raise ParseError(
                    f"{_where(names, i, spec.name)}: {c!r} is not one of the levels "
                    f"{' < '.join(spec.levels)}; use one of them or extend the type row"
                )
            vals[i] = k
        return EncodedAttribute(spec, vals, avail)
    if spec.kind == "flag":
        vals = np.full(n, np.nan)
        for i, c in enumerate(cells):
            if c is None:
                continue
            f = c.casefold()
            if f in _TRUE:
                vals[i] = 1.0
            elif f in _FALSE:
                vals[i] = 0.0
            else:
                raise ParseError(
                    f"{_where(names, i, spec.name)}: {c!r} is not a flag; write yes or no "
                    "(true/false and 1/0 also work)"
                )
        return EncodedAttribute(spec, vals, avail)
    if spec.kind == "category":
        labels: dict[str, int] = {}
        display: list[str] = []
        codes = np.full(n, -1, dtype=np.int64)
        for i, c in enumerate(cells):
            if c is None:
                continue
            key = " ".join(c.casefold().split())
            if key not in labels:
                labels[key] = len(labels)
                display.append(c)
            codes[i] = labels[key]
        return EncodedAttribute(spec, codes, avail, tuple(display))
    # set
    members: list[list[str]] = []
    set_labels: dict[str, int] = {}
    set_display: list[str] = []
    for c in cells:
        items = [] if c is None else [p.strip() for p in c.split(";") if p.strip()]
        keys = []
        for item in items:
            key = " ".join(item.casefold().split())
            if key not in set_labels:
                set_labels[key] = len(set_labels)
                set_display.append(item)
            keys.append(key)
        members.append(keys)
    matrix = np.zeros((n, len(set_labels)), dtype=bool)
    rows = np.repeat(np.arange(n), [len(m) for m in members])
    cols = np.array([set_labels[k] for m in members for k in m], dtype=np.intp)
    matrix[rows, cols] = True
    return EncodedAttribute(spec, matrix, avail, tuple(set_display))


def _parse_shares(raw: Sequence[Any], names: Sequence[str]) -> npt.NDArray[np.float64]:
    shares = np.full(len(raw), np.nan)
    for i, c in enumerate(_cells(list(raw))):
        if c is None:
            continue
        x = _to_number(c)
        if x is None:
            raise ParseError(
                f"{_where(names, i, 'market_share')}: {c!r} is not a number; give a share "
                "(0.12 or 12%) or a proxy such as revenue, or leave it empty"
            )
        if "%" in c:
            x /= 100.0
        if x < 0:
            raise DataError(
                f"{_where(names, i, 'market_share')}: share {c!r} is negative; shares and "
                "their proxies (revenue, review count) must be zero or more"
            )
        shares[i] = x
    return shares


def _parse_dates(raw: Sequence[Any], names: Sequence[str]) -> npt.NDArray[np.datetime64]:
    out = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[D]")
    for i, c in enumerate(_cells(list(raw))):
        if c is None:
            continue
        try:
            out[i] = np.datetime64(pd.Timestamp(c).date(), "D")
        except (ValueError, TypeError):
            raise ParseError(
                f"{_where(names, i, 'snapshot_date')}: {c!r} is not a date; write it as YYYY-MM-DD"
            ) from None
    return out


def _parse_self(raw: Sequence[Any], names: Sequence[str]) -> npt.NDArray[np.bool_]:
    out = np.zeros(len(raw), dtype=bool)
    for i, c in enumerate(_cells(list(raw))):
        if c is None:
            continue
        f = c.casefold()
        if f in _TRUE or f == "self":
            out[i] = True
        elif f not in _FALSE:
            raise ParseError(f"{_where(names, i, 'self')}: {c!r} is not yes or no")
    return out


def profiles_from_frame(
    df: pd.DataFrame,
    types: Mapping[str, str] | None = None,
    *,
    min_firms: int = 3,
) -> CompetitorProfiles:
    """Build typed competitor profiles from a table with one row per firm.

    Parameters
    ----------
    df
        Columns ``name`` (required), optional ``self`` (yes/no or bool),
        ``description``, ``market_share`` (share 0–1, a percentage such as ``12%`` or a
        proxy like revenue; normalized later), ``snapshot_date``; every other column is
        an attribute. Cells may be raw strings (as ingest stores them) or typed values.
        A first row whose ``name`` is ``#type`` is read as the type row.
    types
        Attribute type per column (``numeric``, ``ordinal(a<b<c)``, ``category``,
        ``set``, ``flag``, ``text``; ``-`` to ignore a column). Columns not listed are
        inferred from their values.
    min_firms
        Fewest distinct firms an analysis needs.

    Returns
    -------
    CompetitorProfiles

    Raises
    ------
    SchemaError
        No ``name`` column, an unknown type, or a column whose type cannot be inferred.
    ParseError
        A value that does not fit its column's type (the message names firm and column).
    DataError
        Duplicate firm names within one snapshot, several different ``self`` firms, a
        negative share, or a ``self`` firm with no attribute and no text.
    InsufficientDataError
        Fewer than ``min_firms`` firms.
    """
    frame, cols, name_col = _frame_columns(df)
    frame, declared = _type_row(frame, cols, name_col, types)
    names = _firm_names(frame[name_col])

    def fixed(col: str) -> list[Any]:
        return _fixed_column(frame, cols, col)

    lower = {k.casefold() for k in cols}
    is_self = _parse_self(fixed("self") if "self" in lower else fixed("is_self"), names)
    shares = _parse_shares(fixed("market_share"), names)
    snapshot = _parse_dates(fixed("snapshot_date"), names)
    _check_firms(names, snapshot, is_self)
    texts: list[list[str]] = [[c] if c else [] for c in _cells(fixed("description"))]
    attrs, text_columns, notes = _read_attributes(frame, cols, name_col, declared, names, texts)
    profiles = CompetitorProfiles(
        names=tuple(names),
        is_self=is_self,
        shares=shares,
        snapshot=snapshot,
        attributes=tuple(attrs),
        texts=tuple(" ".join(t) for t in texts),
        text_columns=tuple(text_columns),
        notes=tuple(notes),
    )
    return _drop_empty(profiles, min_firms)


def _frame_columns(df: Any) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """The table with stripped column names, the names, and the firm-name column.

    Column names are matched case-insensitively; two columns with the same stripped
    name, or no ``name`` column, is a schema error.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"competitor profiles must be a pandas DataFrame, not {type(df).__name__}")
    cols = {str(c).strip(): c for c in df.columns}
    if len(cols) != len(df.columns):
        raise SchemaError("competitors: two columns have the same name; rename one of them")
    if "name" not in {k.casefold() for k in cols}:
        raise SchemaError(
            "competitors: no 'name' column; the first column must hold each firm's name "
            "(see 'levelfield template competitors')"
        )
    frame = df.rename(columns={v: k for k, v in cols.items()})
    return frame, cols, next(k for k in cols if k.casefold() == "name")


def _type_row(
    frame: pd.DataFrame, cols: Mapping[str, Any], name_col: str, types: Mapping[str, str] | None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Declared attribute types: ``types`` first, then a first row named ``#type``.

    Returns the rows without the type row (index reset) and the types per column;
    ``-`` in the type row ignores a column.
    """
    declared: dict[str, str] = {str(k).strip(): str(v) for k, v in (types or {}).items()}
    if len(frame) and str(frame[name_col].iloc[0]).strip().casefold() == "#type":
        row = frame.iloc[0]
        for k in cols:
            if k != name_col and k not in declared and row[k] is not None:
                cell = _cells([row[k]])[0]
                if cell is not None or str(row[k]).strip() == "-":
                    declared[k] = "-" if cell is None else cell
        frame = frame.iloc[1:]
    return frame.reset_index(drop=True), declared


def _firm_names(column: pd.Series) -> list[str]:
    """Firm names with runs of whitespace collapsed; every row must have one."""
    raw_names = _cells(list(column))
    missing_names = [i + 1 for i, c in enumerate(raw_names) if c is None]
    if missing_names:
        raise DataError(
            f"competitors: {len(missing_names)} row(s) have no name (rows "
            f"{', '.join(map(str, missing_names[:10]))}); give every firm a name"
        )
    return [" ".join(str(c).split()) for c in raw_names]


def _fixed_column(frame: pd.DataFrame, cols: Mapping[str, Any], col: str) -> list[Any]:
    """The cells of a fixed column (``col`` in lower case, matched case-insensitively),
    or ``None`` for every firm when the table does not have it."""
    for k in cols:
        if k.casefold() == col:
            return list(frame[k])
    return [None] * len(frame)


def _check_firms(
    names: Sequence[str], snapshot: npt.NDArray[np.datetime64], is_self: npt.NDArray[np.bool_]
) -> None:
    """One row per firm and snapshot date (names case-insensitive), one firm marked self."""
    keys = pd.DataFrame({"k": [n.casefold() for n in names], "d": snapshot})
    dup = keys.duplicated(keep=False)
    if dup.any():
        dupes = sorted({names[int(i)] for i in np.flatnonzero(dup.to_numpy())})
        raise DataError(
            f"competitors: firm name(s) {', '.join(map(repr, dupes[:10]))} appear more than "
            "once for the same snapshot date; merge the rows, rename different firms "
            "(e.g. add the town), or give each observation its snapshot_date"
        )
    self_names = {names[int(i)].casefold() for i in np.flatnonzero(is_self)}
    if len(self_names) > 1:
        raise DataError(
            f"competitors: {len(self_names)} different firms are marked self "
            f"({', '.join(sorted(self_names))}); mark only your own business self=yes"
        )


def _read_attributes(
    frame: pd.DataFrame,
    cols: Mapping[str, Any],
    name_col: str,
    declared: Mapping[str, str],
    names: Sequence[str],
    texts: list[list[str]],
) -> tuple[list[EncodedAttribute], list[str], list[str]]:
    """Encode every attribute column with its declared (or inferred) type.

    Text columns are appended to each firm's ``texts`` instead. Returns the encoded
    attributes, the text columns and notes on inferred or empty columns.
    """
    attrs: list[EncodedAttribute] = []
    notes: list[str] = []
    text_columns: list[str] = []
    fixed_folded = {c.casefold() for c in FIXED_COLUMNS}
    for col in cols:  # over columns (a few dozen), not firms
        if col == name_col or col.casefold() in fixed_folded:
            continue
        cells = _cells(list(frame[col]))
        spec: AttributeSpec | None
        if col in declared:
            spec = parse_type(declared[col], col)
            if spec is None:
                continue
        else:
            spec = _infer(col, cells, names)
            if spec is None:
                notes.append(f'column "{col}" is empty for every firm and was left out')
                continue
            notes.append(f'column "{col}" read as {spec.type_label()} (no type given)')
        if spec.kind == "text":
            text_columns.append(col)
            for i, c in enumerate(cells):
                if c:
                    texts[i].append(c)
            continue
        attrs.append(_encode(spec, cells, names))
    return attrs, text_columns, notes


def _drop_empty(profiles: CompetitorProfiles, min_firms: int) -> CompetitorProfiles:
    n = profiles.n
    has_attr = np.zeros(n, dtype=bool)
    for a in profiles.attributes:
        has_attr |= a.available
    has_text = np.array([bool(t.strip()) for t in profiles.texts], dtype=bool)
    empty = ~(has_attr | has_text)
    if empty.any():
        bad = [profiles.names[i] for i in np.flatnonzero(empty)]
        if np.any(profiles.is_self & empty):
            raise DataError(
                f"competitors: your own business ({bad[0]!r}, self=yes) has no attribute "
                "and no description; fill in at least a few attributes so it can be compared"
            )
        msg = (
            f"{len(bad)} firm(s) have every attribute and the description missing and were "
            f"left out: {', '.join(map(repr, bad[:10]))}"
        )
        warnings.warn(
            msg + "; fill in their attributes to include them", DataQualityWarning, stacklevel=3
        )
        keep = np.flatnonzero(~empty)
        profiles = profiles.take(keep)
        profiles = CompetitorProfiles(
            profiles.names,
            profiles.is_self,
            profiles.shares,
            profiles.snapshot,
            profiles.attributes,
            profiles.texts,
            profiles.text_columns,
            (*profiles.notes, msg),
        )
    distinct = len({n.casefold() for n in profiles.names})
    if distinct < min_firms:
        raise InsufficientDataError(
            f"competitors: {distinct} firm(s) with data; a landscape needs at least "
            f"{min_firms} (your business and two rivals). Add rows to the competitor file "
            "('levelfield template competitors') and import it again"
        )
    if not profiles.attributes and not any(t.strip() for t in profiles.texts):
        raise InsufficientDataError(
            "competitors: no attribute columns and no descriptions; add attributes such as "
            "price_tier, rating or delivery ('levelfield template competitors')"
        )
    return profiles


def _json_obj(raw: Any, where: str) -> dict[str, Any]:
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(str(raw))
    except json.JSONDecodeError:
        raise DataError(
            f"{where}: stored JSON is unreadable; re-import the competitor file"
        ) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataError(f"{where}: stored attributes are not a JSON object; re-import the file")
    return value


def load_profiles(ws: Any, *, min_firms: int = 3) -> CompetitorProfiles:
    """Read the workspace's ``competitors`` table into typed profiles.

    Raises
    ------
    InsufficientDataError
        When the table is empty or holds fewer than ``min_firms`` firms.
    SchemaError
        When two imports declare different types for the same column.
    """
    frame = ws.con.execute(
        "SELECT competitor_id, name, is_self, attributes, attribute_types, description, "
        "market_share, snapshot_date FROM competitors ORDER BY competitor_id"
    ).df()
    if frame.empty:
        raise InsufficientDataError(
            "no competitors: run 'levelfield template competitors', fill in your business "
            "(self=yes) and at least two rivals, then 'levelfield import competitors FILE'"
        )
    types: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for rec in frame.to_dict("records"):
        where = f"competitors, firm {rec['name']!r}"
        for k, v in _json_obj(rec["attribute_types"], where).items():
            if v is None:
                continue
            if k in types and str(types[k]).strip().casefold() != str(v).strip().casefold():
                raise SchemaError(
                    f'competitors, column "{k}": imports declare different types '
                    f"({types[k]!r} and {v!r}); use one type row for every competitor file"
                )
            types[k] = str(v)
        row: dict[str, Any] = {
            "name": rec["name"],
            "self": bool(rec["is_self"]) if rec["is_self"] is not None else False,
            "description": rec["description"],
            "market_share": rec["market_share"],
            "snapshot_date": rec["snapshot_date"],
        }
        for k, v in _json_obj(rec["attributes"], where).items():
            if k.casefold() in {c.casefold() for c in row}:
                continue
            row[k] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    return profiles_from_frame(df, types, min_firms=min_firms)
