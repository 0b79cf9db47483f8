"""``import_file``: one export file into the workspace, atomically, with a summary."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from levelfield.errors import (
    ConfigError,
    DataError,
    RejectThresholdError,
    SchemaError,
    UnknownLayoutError,
)
from levelfield.findings import ProgressCallback, no_progress
from levelfield.ingest._competitors import (
    FIXED as COMPETITOR_FIXED,
)
from levelfield.ingest._competitors import (
    TEMPLATE_HEADER,
    TEMPLATE_ROWS,
    TEMPLATE_TYPES,
    PreparedCompetitors,
    prepare_competitors,
)
from levelfield.ingest._currency import check_order_rates
from levelfield.ingest._orders import ORD, OrderOptions, PreparedOrders, prepare_orders
from levelfield.ingest._profiles import (
    GENERIC_FIELDS,
    ORDER_PROFILES,
    OrderProfile,
    ProfileMatch,
    detect_profile,
    norm,
)
from levelfield.ingest._read import RAW, SourceFile, Staged, TableInfo, open_source, stage_rows
from levelfield.ingest._tables import (
    TABLE_SPECS,
    PreparedTable,
    prepare_table,
    resolve_columns,
    template_rows,
)
from levelfield.workspace import Workspace, reference_currencies, sync_reference_rates

__all__ = ["KINDS", "PROFILES", "ImportSummary", "import_file", "template_csv"]

#: What ``levelfield import KIND`` accepts.
KINDS: tuple[str, ...] = (
    "orders",
    "products",
    "suppliers",
    "competitors",
    "costs",
    "channels",
    "pilots",
    "surveys",
    "automation",
    "business",
    "credit_offers",
    "fx_rates",
    "subscriptions",
    "competitor_prices",
)

#: Order profiles by id, with the name shown to users (``generic`` takes ``--map``).
PROFILES: dict[str, str] = {p.name: p.title for p in ORDER_PROFILES} | {
    "generic": "generic layout (column names or --map column=field)"
}

#: DuckDB memory limit while an import runs (larger work spills to disk).
_IMPORT_MEMORY = "1GB"
_TEMP_VIEWS = (RAW, "_lf_st", "_lf_dcol")
_TEMP_TABLES = (
    "_lf_pq",
    "_lf_csv",
    "_lf_ws",
    "_lf_xl",
    "_lf_lines",
    "_lf_pv",
    "_lf_ord",
    "_lf_lin",
    "_lf_bad",
    "_lf_tst",
    "_lf_tpv",
    "_lf_tbad",
    "_lf_cpv",
    "_lf_cbad",
    "_lf_cpv0",
    "_lf_emap",
    "_lf_ltype",
    "_lf_km",
    "_lf_remap",
)


@dataclass(frozen=True)
class ImportSummary:
    """What one import did.

    Attributes
    ----------
    import_id
        Row in the ``imports`` ledger (the earlier import's id when skipped).
    rows_in, rows_loaded, rows_rejected
        Data rows read from the file, written, and sent to ``rejects``.
    top_reasons
        The most frequent reject reasons with their counts.
    date_min, date_max
        Range of order timestamps (UTC) imported; ``None`` for other kinds.
    revenue
        Net revenue (gross - discount - refunded, excluding failed, voided, cancelled
        and pending orders) per currency, as ``Decimal``.
    skipped_duplicate
        True when the same file (SHA-256) was already imported with the same profile.
    rows_skipped
        Rows that are not orders and were left out on purpose (Stripe payment attempts
        without an id that never succeeded); counted, not rejected.
    """

    import_id: int
    kind: str
    source_name: str
    profile: str
    profile_reason: str
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    top_reasons: list[tuple[str, int]]
    date_min: dt.datetime | None
    date_max: dt.datetime | None
    revenue: dict[str, Decimal]
    skipped_duplicate: bool
    notes: list[str] = field(default_factory=list)
    rows_skipped: int = 0

    def lines(self) -> list[str]:
        """Plain-language lines for the CLI."""
        out = [f"{self.source_name}: {self.kind}, profile {self.profile} — {self.profile_reason}"]
        if self.skipped_duplicate:
            out.append(
                f"Already imported as import #{self.import_id} (same file, same profile); "
                "nothing changed."
            )
            return out
        skipped = f", {self.rows_skipped:,} skipped" if self.rows_skipped else ""
        out.append(
            f"Rows: {self.rows_in:,} read, {self.rows_loaded:,} loaded, "
            f"{self.rows_rejected:,} rejected{skipped}"
        )
        if self.top_reasons:
            out.append(
                "Rejected because: " + "; ".join(f"{r} ({n:,})" for r, n in self.top_reasons)
            )
        if self.date_min is not None and self.date_max is not None:
            out.append(f"Dates: {self.date_min:%Y-%m-%d} to {self.date_max:%Y-%m-%d} (UTC)")
        if self.kind == "orders":
            rev = ", ".join(f"{c} {v:,.2f}" for c, v in sorted(self.revenue.items())) or (
                "none (no order in this file is paid; see below)"
            )
            out.append(f"Net revenue (after discounts and refunds): {rev}")
        out.extend(self.notes)
        return out


def _parse_mapping(mapping: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    if mapping is None:
        return {}
    if isinstance(mapping, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in mapping.items()}
    out: dict[str, str] = {}
    for item in mapping:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(
                f'--map {item!r} is not column=field; write e.g. --map "Invoice=order_id"'
            )
        col, _, fld = item.rpartition("=")
        out[col.strip()] = fld.strip()
    return out


def _fmt_example(name: str, ex: tuple[int | None, str | None, str | None, str]) -> str:
    row, col, val, reason = ex
    where = f"{name} row {row:,}" if row is not None else name
    if col is not None:
        where += f', column "{col}"'
    if val is not None:
        return f'{where}: "{val}" is {reason}'
    return f"{where}: {reason}" if col is None else f"{where} is {reason}"


def _resolve(
    spec: str, header: Sequence[str], index: Mapping[str, int], used: set[int]
) -> str | None:
    """SQL for a profile field source, or None when its column is absent."""
    if spec.startswith("="):
        expr = spec[1:]
        out = []
        pos = 0
        while (start := expr.find("{", pos)) >= 0:
            end = expr.index("}", start)
            out.append(expr[pos:start])
            i = index.get(norm(expr[start + 1 : end]))
            if i is None:
                out.append("NULL")
            else:
                used.add(i)
                out.append(f"c{i}")
            pos = end + 1
        out.append(expr[pos:])
        return "".join(out)
    i = index.get(norm(spec))
    if i is None:
        return None
    used.add(i)
    return f"c{i}"


def _check_duplicates(name: str, header: Sequence[str], used: Iterable[int]) -> None:
    seen: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        seen.setdefault(norm(h), []).append(i)
    for i in used:
        where = seen[norm(header[i])]
        if len(where) > 1:
            cols = " and ".join(str(j + 1) for j in where)
            raise SchemaError(
                f'{name}: column "{header[i]}" appears {len(where)} times (columns {cols}); '
                "rename or delete the extra one and import again"
            )


def _order_plan(
    name: str,
    header: Sequence[str],
    fmt: str,
    profile: str | None,
    mapping: Mapping[str, str],
) -> tuple[OrderProfile | None, str, dict[str, str]]:
    """Profile (None = generic), reason, and field -> source spec."""
    by_name = {p.name: p for p in ORDER_PROFILES}
    if profile is not None and profile != "generic":
        p = by_name[profile]
        ok, _, missing = p.matches(header, fmt)
        if not ok:
            raise SchemaError(
                f"{name} does not look like a {p.title}: missing {', '.join(missing)}. "
                f"Columns found: {', '.join(header)}. Drop --profile to detect the layout, "
                "or use --profile generic with --map column=field"
            )
        fields = dict(p.fields)
        for col, fld in mapping.items():
            fields[fld] = col
        return p, f"{p.title} (chosen with --profile)", fields
    match = detect_profile(header, fmt) if profile is None else None
    if match is not None and match.profile is not None and not mapping:
        return match.profile, match.reason, dict(match.profile.fields)
    fields = _generic_fields(name, header, mapping)
    amount_ok = (
        ("quantity" in fields and "unit_price" in fields)
        or "line_total" in fields
        or "gross" in fields
        or "total" in fields
    )
    if "order_id" not in fields or "ordered_at" not in fields or not amount_ok:
        raise _unknown_layout(name, header, fields, amount_ok, match)
    how = "--map and column names" if mapping else "column names"
    mapped = ", ".join(f"{c}->{f}" for f, c in fields.items())
    reason = f"generic layout from {how} ({mapped})"
    if match is not None and match.closest is not None and not mapping:
        reason += f"; no platform profile matched (closest: {match.closest})"
    return None, reason, fields


def _generic_fields(name: str, header: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """Field -> column of the generic layout: ``--map`` first, then columns named like
    levelfield's fields or their aliases (each column used once).

    A reversed mapping (``field=Column``) is accepted when it is unambiguous.
    """
    fields: dict[str, str] = {}
    hdr = {norm(h): h for h in header}
    alias = {norm(a): f for f, al in GENERIC_FIELDS.items() for a in (f, *al)}
    for col, target in mapping.items():
        fld = alias.get(norm(target), target)
        if fld not in GENERIC_FIELDS and norm(col) in alias and norm(target) in hdr:
            col, fld = target, alias[norm(col)]
        if fld not in GENERIC_FIELDS:
            raise ConfigError(
                f"--map {col}={fld}: {fld!r} is not an order field; choose one of "
                + ", ".join(GENERIC_FIELDS)
            )
        if norm(col) not in hdr:
            raise SchemaError(
                f"--map {col}={fld}: {name} has no column {col!r}. Columns found: "
                + ", ".join(header)
            )
        fields[fld] = hdr[norm(col)]
    for fld, aliases in GENERIC_FIELDS.items():
        if fld in fields:
            continue
        for cand in (fld, *aliases):
            if norm(cand) in hdr and hdr[norm(cand)] not in fields.values():
                fields[fld] = hdr[norm(cand)]
                break
    return fields


def _unknown_layout(
    name: str,
    header: Sequence[str],
    fields: Mapping[str, str],
    amount_ok: bool,
    match: ProfileMatch | None,
) -> UnknownLayoutError:
    """The error for a file no profile matched and the generic layout cannot read:
    what is missing, the closest profile, and how to map the columns."""
    closest = ""
    if match is not None and match.closest is not None:
        cp = {p.name: p for p in ORDER_PROFILES}[match.closest]
        closest = (
            f" The closest profile is {cp.title} ({cp.name}): the file has "
            f"{len(match.shared)} of its identifying columns "
            f"({', '.join(match.shared)}) and lacks {', '.join(match.missing)}."
        )
    lacking = ", ".join(
        f
        for f, ok in (
            ("order_id", "order_id" in fields),
            ("ordered_at", "ordered_at" in fields),
            ("an amount (quantity+unit_price, line_total, gross or total)", amount_ok),
        )
        if not ok
    )
    return UnknownLayoutError(
        f"{name}: no profile matched the header and the generic layout lacks "
        + lacking
        + f". Columns found: {', '.join(header)}.{closest} Map the columns with "
        '--map "Your column=field" (fields: ' + ", ".join(GENERIC_FIELDS) + ")"
    )


def _mapped_fields(maps: Mapping[str, str]) -> set[str]:
    """Order fields the user named in ``--map`` (aliases resolved)."""
    alias = {norm(a): f for f, al in GENERIC_FIELDS.items() for a in (f, *al)}
    return {alias.get(norm(t), t) for t in maps.values()}


def _generic_amount_basis(have: set[str], mapped: set[str]) -> str:
    """Where a generic file's order amount comes from.

    Line amounts first (quantity x unit price, then line totals), then an order's
    gross, then its total. Fields the user mapped with ``--map`` win over columns that
    only happen to carry a field's name: ``--map "Total Charged=total"`` means the
    total, even when the file also has columns called Quantity and Price.
    """
    order = [
        ("lines", ("quantity", "unit_price")),
        ("line_total", ("line_total",)),
        ("gross", ("gross",)),
        ("total", ("total",)),
    ]
    usable = [(b, need) for b, need in order if all(f in have for f in need)]
    explicit = [b for b, need in usable if mapped & set(need)]
    if explicit:
        return explicit[0]
    return usable[0][0] if usable else "total"


def _choose_table(
    src: SourceFile, kind: str, profile: str | None, mapping: Mapping[str, str]
) -> TableInfo:
    if len(src.tables) == 1:
        return src.tables[0]
    fits = []
    for t in src.tables:
        if kind == "orders":
            if profile is None and detect_profile(t.header, src.fmt).profile is not None:
                fits.append(t)
            elif profile is not None or mapping:
                try:
                    _order_plan(src.name, t.header, src.fmt, profile, mapping)
                    fits.append(t)
                except (SchemaError, ConfigError):
                    pass
        elif kind == "competitors":
            if "name" in {h.strip().lower() for h in t.header}:
                fits.append(t)
        else:
            spec = TABLE_SPECS[kind]
            cols = resolve_columns(spec, t.header, mapping)
            if all(c.name in cols for c in spec.cols if c.required):
                fits.append(t)
    sheets = ", ".join(repr(t.sheet) for t in src.tables)
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise SchemaError(
            f"{src.name} has {len(src.tables)} sheets ({sheets}) and none looks like {kind}; "
            "pass --sheet NAME to choose one"
        )
    raise SchemaError(
        f"{src.name} has several sheets that look like {kind} "
        f"({', '.join(repr(t.sheet) for t in fits)}); pass --sheet NAME to choose one"
    )


@dataclass(frozen=True)
class _Options:
    """The user's import options, checked (``--map`` parsed, ``--store`` stripped)."""

    profile: str | None
    maps: dict[str, str]
    channel: str | None
    dayfirst: bool | None
    date_format: str | None
    decimal_comma: bool | None
    currency: str | None
    max_reject_rate: float
    store: str | None


def _check_options(
    kind: str,
    profile: str | None,
    max_reject_rate: float,
    currency: str | None,
    store: str | None,
    date_format: str | None,
) -> None:
    """Raise :class:`ConfigError` for an option value ``import_file`` cannot use."""
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if profile is not None and profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if profile is not None and kind != "orders":
        raise ConfigError(f"--profile applies to orders only, not {kind}")
    if isinstance(max_reject_rate, bool) or not isinstance(max_reject_rate, int | float):
        raise ConfigError(
            f"--max-reject-rate must be a number from 0 to 1, not {max_reject_rate!r}"
        )
    if not 0 <= float(max_reject_rate) <= 1:
        raise ConfigError(
            f"--max-reject-rate must be from 0 to 1 (a share, 0.01 = 1 %), not {max_reject_rate}"
        )
    if currency is not None and (len(currency.strip()) != 3 or not currency.strip().isalpha()):
        raise ConfigError(f"--currency must be a 3-letter ISO code such as EUR, not {currency!r}")
    if store is not None and (not store.strip() or ":" in store or len(store) > 100):
        raise ConfigError(
            f"--store must be a short name without ':' (e.g. shop-berlin), not {store!r}"
        )
    if date_format is not None and "%" not in date_format:
        raise ConfigError(
            f'--date-format {date_format!r} has no % codes; write e.g. "%d/%m/%Y %H:%M"'
        )


def import_file(
    ws: Workspace,
    kind: str,
    path: str | Path,
    *,
    profile: str | None = None,
    mapping: Mapping[str, str] | Iterable[str] | None = None,
    channel: str | None = None,
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal_comma: bool | None = None,
    currency: str | None = None,
    max_reject_rate: float = 0.01,
    sheet: str | None = None,
    store: str | None = None,
    progress: ProgressCallback = no_progress,
) -> ImportSummary:
    """Import one export file into the workspace, all or nothing.

    Longer than 80 lines only for its parameter documentation; the work is done by
    :func:`_check_options` and :func:`_import`.

    Parameters
    ----------
    ws
        Open workspace.
    kind
        One of :data:`KINDS`.
    path
        CSV/TSV/whitespace text (UTF-8, UTF-8 with BOM, UTF-16 or Windows-1252),
        XLSX/XLS or Parquet. The format is recognised from the content, not the name.
    profile
        Order profile id (see :data:`PROFILES`); detected from the header when None.
    mapping
        ``{"Your column": "field"}`` or ``["Your column=field", ...]`` (``--map``).
    channel
        Sales channel for every order (default: the profile's, e.g. ``shopify``).
    dayfirst
        ``True`` for DD/MM dates, ``False`` for MM/DD; None decides from the column.
    date_format
        ``strftime`` format of the date column (overrides detection).
    decimal_comma
        ``True`` when amounts use a decimal comma (``12,50``); None detects it.
    currency
        ISO code for files without a currency column (default: detected symbols, the
        profile's currency, then the workspace's).
    max_reject_rate
        Largest share of rejected rows (0-1) that still imports the rest.
    sheet
        Worksheet of an XLSX file (needed when several sheets fit).
    store
        Name of the store or account the orders come from. Orders are keyed by their
        source (``shopify:<Id>``, ``etsy:<Order ID>``, ``stripe:<id>``); where a
        platform's order numbers are only unique within one store (WooCommerce,
        generic files), the store joins the key so two stores never overwrite each
        other. Stored in ``orders.store``.
    progress
        ``progress(step, fraction)`` callback.

    Returns
    -------
    ImportSummary

    Raises
    ------
    ConfigError
        Unknown kind, profile or option value.
    DataError
        Empty, binary or unreadable file; no data rows.
    SchemaError
        Missing or duplicated columns, no profile matched.
    AmbiguousDateError
        Day/month order cannot be decided from the whole date column.
    RejectThresholdError
        More rows were rejected than ``max_reject_rate`` allows; nothing was written.
    """
    _check_options(kind, profile, max_reject_rate, currency, store, date_format)
    opts = _Options(
        profile=profile,
        maps=_parse_mapping(mapping),
        channel=channel,
        dayfirst=dayfirst,
        date_format=date_format,
        decimal_comma=decimal_comma,
        currency=currency,
        max_reject_rate=float(max_reject_rate),
        store=store.strip() if store else None,
    )
    ws.require_key()  # customer identifiers are pseudonymized: say now if the key is missing
    progress("reading file", 0.0)
    src = open_source(path, sheet=sheet)
    con = ws.con
    # DuckDB's own text progress bar would print into the user's terminal.
    con.execute("SET enable_progress_bar = false")
    # Cap DuckDB's memory so staging of a multi-million-line file spills to disk
    # instead of growing the process (peak RSS stays under 2 GiB); restored after.
    old_limit = str(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    con.execute(f"SET memory_limit = '{_IMPORT_MEMORY}'")
    try:
        return _import(ws, con, src, kind, opts, progress)
    finally:
        src.cleanup()
        _drop_temp(con, old_limit)


def _drop_temp(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    """Drop the import's temporary views and tables and restore DuckDB's memory limit."""
    try:
        for v in _TEMP_VIEWS:
            con.execute(f"DROP VIEW IF EXISTS {v}")
        for t in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute(f"SET memory_limit = '{memory_limit}'")
    except duckdb.Error:  # connection already unusable; nothing left to clean
        pass


@dataclass(frozen=True)
class _ColumnPlan:
    """Which file columns an import reads and how they are named.

    ``sources``/``labels`` (orders: field -> SQL over ``c<i>`` and the column label)
    and ``columns`` (plain kinds: field -> column index) are empty for the other kinds.
    """

    profile_name: str
    reason: str
    used: frozenset[int]
    order_profile: OrderProfile | None = None
    sources: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict)


def _plan_columns(
    name: str, header: Sequence[str], fmt: str, kind: str, profile: str | None, maps: dict[str, str]
) -> _ColumnPlan:
    """The columns an import of ``kind`` reads from ``header``, or a ``SchemaError``.

    Orders follow their profile (or the generic layout); competitors read every column;
    the plain kinds follow :data:`TABLE_SPECS`. A used column whose name appears twice
    in the header is refused (which one is meant cannot be known).
    """
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(norm(h), i)
    used: set[int] = set()
    if kind == "orders":
        order_profile, reason, specs = _order_plan(name, header, fmt, profile, maps)
        sources: dict[str, str] = {}
        labels: dict[str, str] = {}
        for f, spec in specs.items():
            sql = _resolve(spec, header, index, used)
            if sql is not None:
                sources[f] = sql
                labels[f] = spec if not spec.startswith("=") else f
        _check_duplicates(name, header, used)
        pname = order_profile.name if order_profile else "generic"
        return _ColumnPlan(pname, reason, frozenset(used), order_profile, sources, labels)
    if kind == "competitors":
        reason = "levelfield competitor CSV (name + attributes)"
        return _ColumnPlan("competitors", reason, frozenset(range(len(header))))
    spec_t = TABLE_SPECS[kind]
    cols = resolve_columns(spec_t, header, maps)
    missing = [c.name for c in spec_t.cols if c.required and c.name not in cols]
    if missing:
        raise SchemaError(
            f"{name}: missing required column(s) {', '.join(missing)} for {kind}. "
            f"Columns found: {', '.join(header)}. Expected: "
            + ", ".join(c.name + (" (required)" if c.required else "") for c in spec_t.cols)
            + f". See 'levelfield template {kind}', or map yours with --map column=field"
        )
    _check_duplicates(name, header, set(cols.values()))
    reason = f"levelfield {kind} CSV ({len(cols)} known columns)"
    return _ColumnPlan(kind, reason, frozenset(cols.values()), columns=cols)


def _earlier_import(
    con: duckdb.DuckDBPyConnection, src: SourceFile, kind: str, plan: _ColumnPlan
) -> ImportSummary | None:
    """The summary of an earlier successful import of the same file and profile, if any."""
    prior = con.execute(
        "SELECT import_id, rows_in, rows_loaded, rows_rejected FROM imports "
        "WHERE sha256 = ? AND profile = ? AND kind = ? AND status = 'ok' "
        "ORDER BY import_id LIMIT 1",
        [src.sha256, plan.profile_name, kind],
    ).fetchall()
    if not prior:
        return None
    p = prior[0]
    return ImportSummary(
        import_id=int(p[0]),
        kind=kind,
        source_name=src.name,
        profile=plan.profile_name,
        profile_reason=plan.reason,
        rows_in=int(p[1]),
        rows_loaded=int(p[2]),
        rows_rejected=int(p[3]),
        top_reasons=[],
        date_min=None,
        date_max=None,
        revenue={},
        skipped_duplicate=True,
    )


def _stage(
    con: duckdb.DuckDBPyConnection, src: SourceFile, table: TableInfo, plan: _ColumnPlan
) -> Staged:
    """Stage the used columns into :data:`RAW`; a ``DataError`` when no data row is left."""
    staged = stage_rows(con, src, table, sorted(plan.used))
    if staged.rows == 0:
        what = "only a header" if table.has_header else "no data rows"
        extra = (
            f" ({len(staged.structural_rejects)} unreadable rows)"
            if staged.structural_rejects
            else ""
        )
        raise DataError(f"{src.name} has {what}, no data rows{extra}; export the data again")
    return staged


_Prepared = PreparedOrders | PreparedCompetitors | PreparedTable


def _prepare(
    ws: Workspace,
    src: SourceFile,
    header: Sequence[str],
    kind: str,
    plan: _ColumnPlan,
    opts: _Options,
) -> _Prepared:
    """Parse and validate the staged rows of ``kind`` into temp tables (nothing written)."""
    con = ws.con
    if kind == "competitors":
        return prepare_competitors(
            con, name=src.name, header=header, raw=RAW, decimal_comma=opts.decimal_comma
        )
    if kind != "orders":
        return prepare_table(
            con,
            TABLE_SPECS[kind],
            name=src.name,
            columns=plan.columns,
            header=header,
            raw=RAW,
            decimal_comma=opts.decimal_comma,
            dayfirst=opts.dayfirst,
            date_format=opts.date_format,
            currency=opts.currency,
        )
    op = plan.order_profile
    if op is not None:
        gross_from, amounts, owns, default_channel = (
            op.gross_from,
            op.amounts,
            op.owns_orders,
            op.channel,
        )
    else:
        gross_from = _generic_amount_basis(set(plan.sources), _mapped_fields(opts.maps))
        amounts, owns, default_channel = "first", True, "direct"
    return prepare_orders(
        con,
        name=src.name,
        profile=op,
        sources=plan.sources,
        labels=plan.labels,
        raw=RAW,
        opts=OrderOptions(
            opts.decimal_comma,
            opts.dayfirst,
            opts.date_format,
            opts.currency,
            opts.channel,
            opts.store,
        ),
        default_channel=default_channel,
        default_currency=ws.currency(),
        gross_from=gross_from,
        amounts=amounts,
        owns_orders=owns,
    )


@dataclass(frozen=True)
class _Tally:
    """Rows read and rejected by the reader and the parser together."""

    rows_in: int
    rejected: int
    top: list[tuple[str, int]]
    examples: list[tuple[int | None, str | None, str | None, str]]


def _tally(prepared: _Prepared, structural: Sequence[tuple[int | None, str]]) -> _Tally:
    """Combine the reader's unreadable rows with the parser's rejects (top 5 reasons)."""
    # Rows the kind counts (a competitor CSV's #type row is not a data row).
    rows_in = prepared.rows_in + len(structural)
    rejected = prepared.rows_rejected + len(structural)
    reasons: dict[str, int] = dict(prepared.top_reasons)
    for _, r in structural:
        reasons[r] = reasons.get(r, 0) + 1
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    examples: list[tuple[int | None, str | None, str | None, str]] = [
        (row, None, None, r) for row, r in structural[:2]
    ]
    examples += list(prepared.examples)
    return _Tally(rows_in, rejected, top, examples)


def _check_reject_rate(name: str, tally: _Tally, max_reject_rate: float) -> None:
    """Raise :class:`RejectThresholdError` when too many rows (or all) were rejected."""
    rejected, rows_in = tally.rejected, tally.rows_in
    if rejected > max_reject_rate * rows_in or rejected == rows_in:
        shown = "; ".join(_fmt_example(name, e) for e in tally.examples[:3])
        raise RejectThresholdError(
            f"{name}: {rejected:,} of {rows_in:,} rows ({rejected / rows_in:.1%}) were "
            f"rejected, more than the {max_reject_rate:.1%} allowed "
            "(--max-reject-rate); nothing was imported. Reasons: "
            + "; ".join(f"{r} ({n:,})" for r, n in tally.top)
            + (f". For example: {shown}" if shown else "")
        )


def _options_json(opts: _Options, src: SourceFile, table: TableInfo) -> str:
    """The options of an import as stored in the ``imports`` ledger."""
    return json.dumps(
        {
            "mapping": opts.maps,
            "channel": opts.channel,
            "dayfirst": opts.dayfirst,
            "date_format": opts.date_format,
            "decimal_comma": opts.decimal_comma,
            "currency": opts.currency,
            "sheet": table.sheet,
            "encoding": src.encoding,
            "delimiter": src.delimiter,
            "store": opts.store,
        },
        sort_keys=True,
    )


def _write(
    ws: Workspace,
    src: SourceFile,
    kind: str,
    plan: _ColumnPlan,
    prepared: _Prepared,
    staged: Staged,
    tally: _Tally,
    ledger: tuple[dt.datetime, str],
) -> tuple[int, int]:
    """Write the prepared rows, rejects and ledger row in one transaction.

    ``ledger`` is (start time, options JSON). Returns (import id, rows loaded).
    """
    started, options = ledger
    base_before = ws.currency()
    with ws.transaction() as tx:
        import_id = int(tx.execute("SELECT nextval('import_id_seq')").fetchall()[0][0])
        loaded = prepared.write(tx, import_id)
        sync_reference_rates(tx)
        if isinstance(prepared, PreparedOrders):
            check_order_rates(
                tx,
                orders=ORD,
                import_id=import_id,
                base_before=base_before,
                name=src.name,
                labels=plan.labels,
            )
        if staged.structural_rejects:
            tx.executemany(
                "INSERT INTO rejects VALUES (?, ?, NULL, NULL, ?)",
                [[import_id, row, r] for row, r in staged.structural_rejects],
            )
        tx.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?)",
            [
                import_id,
                kind,
                src.name,
                src.sha256,
                plan.profile_name,
                tally.rows_in,
                loaded,
                tally.rejected,
                started,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                options,
            ],
        )
    return import_id, loaded


def _import(
    ws: Workspace,
    con: duckdb.DuckDBPyConnection,
    src: SourceFile,
    kind: str,
    opts: _Options,
    progress: ProgressCallback,
) -> ImportSummary:
    """Plan, stage, prepare, check and write one import (the stages above, in order)."""
    table = _choose_table(src, kind, opts.profile, opts.maps)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    plan = _plan_columns(src.name, table.header, src.fmt, kind, opts.profile, opts.maps)
    earlier = _earlier_import(con, src, kind, plan)
    if earlier is not None:
        return earlier
    progress("staging rows", 0.1)
    staged = _stage(con, src, table, plan)
    progress("parsing and validating", 0.35)
    prepared = _prepare(ws, src, table.header, kind, plan, opts)
    tally = _tally(prepared, staged.structural_rejects)
    _check_reject_rate(src.name, tally, opts.max_reject_rate)
    progress("writing to the workspace", 0.7)
    ledger = (started, _options_json(opts, src, table))
    import_id, loaded = _write(ws, src, kind, plan, prepared, staged, tally, ledger)
    progress("done", 1.0)
    is_orders = isinstance(prepared, PreparedOrders)
    notes = list(prepared.notes)
    if src.encoding not in ("utf-8", "xlsx", "parquet"):
        notes.append(f"encoding: {src.encoding}")
    if is_orders:
        notes.extend(_unconvertible(ws, import_id))
    return ImportSummary(
        import_id=import_id,
        kind=kind,
        source_name=src.name,
        profile=plan.profile_name,
        profile_reason=plan.reason,
        rows_in=tally.rows_in,
        rows_loaded=loaded,
        rows_rejected=tally.rejected,
        top_reasons=tally.top,
        date_min=prepared.date_min if isinstance(prepared, PreparedOrders) else None,
        date_max=prepared.date_max if isinstance(prepared, PreparedOrders) else None,
        revenue=dict(prepared.revenue) if isinstance(prepared, PreparedOrders) else {},
        skipped_duplicate=False,
        notes=notes,
        rows_skipped=prepared.rows_skipped if isinstance(prepared, PreparedOrders) else 0,
    )


def _unconvertible(ws: Workspace, import_id: int) -> list[str]:
    """A note for each currency of this import with no rate to the base currency."""
    base = ws.currency()
    rows = ws.con.execute(
        "SELECT o.currency, count(*) FROM orders o WHERE o.import_id = ? AND o.currency <> ? "
        "AND NOT EXISTS (SELECT 1 FROM fx_rates r WHERE r.currency = o.currency) "
        "GROUP BY 1 ORDER BY 1",
        [import_id, base],
    ).fetchall()
    known = reference_currencies()
    if base not in known:
        return [
            f"{n:,} orders in {c} cannot be converted to {base} (no ECB reference rate for "
            f"{base}); import your own rates with 'levelfield import fx_rates FILE'"
            for c, n in rows
        ]
    return [
        f"{n:,} orders in {c}: not a currency with an ECB reference rate; they are left "
        f"out of {base} totals until you import your rates ('levelfield import fx_rates "
        "FILE') or correct the currency column"
        for c, n in rows
        if c not in known
    ]


def template_csv(kind: str) -> str:
    """A CSV template (header and one example row) for ``kind``.

    ``orders`` gives the generic order layout; use the platform's own export instead
    when you sell on Shopify, Square, Stripe, WooCommerce, Etsy or Amazon.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if kind == "orders":
        w.writerow(
            [
                "order_id",
                "ordered_at",
                "customer_id",
                "email",
                "currency",
                "status",
                "sku",
                "product",
                "category",
                "quantity",
                "unit_price",
                "discount",
                "tax",
                "shipping",
                "fees",
                "refunded",
            ]
        )
        w.writerow(
            [
                "INV-1001",
                "2024-03-05 14:30:00",
                "CUST-17",
                "ann@example.com",
                "EUR",
                "paid",
                "BEAN-ETH-250",
                "Ethiopia Yirgacheffe 250 g",
                "coffee beans",
                "2",
                "14.50",
                "0.00",
                "2.03",
                "4.90",
                "0.87",
                "0.00",
            ]
        )
    elif kind == "competitors":
        w.writerow(TEMPLATE_HEADER)
        w.writerow(TEMPLATE_TYPES)
        for row in TEMPLATE_ROWS:
            w.writerow(row)
        assert tuple(TEMPLATE_HEADER[: len(COMPETITOR_FIXED)]) == COMPETITOR_FIXED
    elif kind == "business":
        w.writerow(["key", "value"])
        for k, v in (
            ("name", "Example Coffee Roasters"),
            ("currency", "EUR"),
            ("country", "DE"),
            ("sector", "specialty coffee"),
            ("employees", "6"),
            ("opening_cash", "25000"),
            ("debt", "40000"),
            ("interest_rate", "0.06"),
            ("capabilities", '["online_ordering", "email_automation"]'),
            ("employee_satisfaction", "7.5"),
            ("acquisition_budget", "6000"),
        ):
            w.writerow([k, v])
    else:
        header, example = template_rows(TABLE_SPECS[kind])
        w.writerow(header)
        w.writerow(example)
    return buf.getvalue()
