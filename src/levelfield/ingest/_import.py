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
from typing import Any

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
    prepare_competitors,
)
from levelfield.ingest._currency import check_order_rates
from levelfield.ingest._orders import ORD, OrderOptions, PreparedOrders, prepare_orders
from levelfield.ingest._profiles import (
    GENERIC_FIELDS,
    ORDER_PROFILES,
    OrderProfile,
    detect_profile,
    norm,
)
from levelfield.ingest._read import RAW, SourceFile, TableInfo, open_source, stage_rows
from levelfield.ingest._tables import TABLE_SPECS, prepare_table, resolve_columns, template_rows
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
    # Generic: --map first, then columns named like levelfield's fields.
    fields = {}
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
    amount_ok = (
        ("quantity" in fields and "unit_price" in fields)
        or "line_total" in fields
        or "gross" in fields
        or "total" in fields
    )
    if "order_id" not in fields or "ordered_at" not in fields or not amount_ok:
        closest = ""
        if match is not None and match.closest is not None:
            cp = by_name[match.closest]
            closest = (
                f" The closest profile is {cp.title} ({cp.name}): the file has "
                f"{len(match.shared)} of its identifying columns "
                f"({', '.join(match.shared)}) and lacks {', '.join(match.missing)}."
            )
        raise UnknownLayoutError(
            f"{name}: no profile matched the header and the generic layout lacks "
            + ", ".join(
                f
                for f, ok in (
                    ("order_id", "order_id" in fields),
                    ("ordered_at", "ordered_at" in fields),
                    ("an amount (quantity+unit_price, line_total, gross or total)", amount_ok),
                )
                if not ok
            )
            + f". Columns found: {', '.join(header)}.{closest} Map the columns with "
            '--map "Your column=field" (fields: ' + ", ".join(GENERIC_FIELDS) + ")"
        )
    how = "--map and column names" if mapping else "column names"
    mapped = ", ".join(f"{c}->{f}" for f, c in fields.items())
    reason = f"generic layout from {how} ({mapped})"
    if match is not None and match.closest is not None and not mapping:
        reason += f"; no platform profile matched (closest: {match.closest})"
    return None, reason, fields


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
    maps = _parse_mapping(mapping)
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
        return _import(
            ws,
            con,
            src,
            kind,
            profile,
            maps,
            channel,
            dayfirst,
            date_format,
            decimal_comma,
            currency,
            float(max_reject_rate),
            progress,
            store.strip() if store else None,
        )
    finally:
        src.cleanup()
        try:
            for v in _TEMP_VIEWS:
                con.execute(f"DROP VIEW IF EXISTS {v}")
            for t in _TEMP_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {t}")
            con.execute(f"SET memory_limit = '{old_limit}'")
        except duckdb.Error:  # connection already unusable; nothing left to clean
            pass


def _import(
    ws: Workspace,
    con: duckdb.DuckDBPyConnection,
    src: SourceFile,
    kind: str,
    profile: str | None,
    maps: dict[str, str],
    channel: str | None,
    dayfirst: bool | None,
    date_format: str | None,
    decimal_comma: bool | None,
    currency: str | None,
    max_reject_rate: float,
    progress: ProgressCallback,
    store: str | None = None,
) -> ImportSummary:
    table = _choose_table(src, kind, profile, maps)
    header = table.header
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(norm(h), i)
    used: set[int] = set()
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    order_profile: OrderProfile | None = None
    if kind == "orders":
        order_profile, reason, specs = _order_plan(src.name, header, src.fmt, profile, maps)
        profile_name = order_profile.name if order_profile else "generic"
        sources: dict[str, str] = {}
        labels: dict[str, str] = {}
        for f, spec in specs.items():
            sql = _resolve(spec, header, index, used)
            if sql is not None:
                sources[f] = sql
                labels[f] = spec if not spec.startswith("=") else f
    elif kind == "competitors":
        profile_name, reason = "competitors", "levelfield competitor CSV (name + attributes)"
        used.update(range(len(header)))
    else:
        spec_t = TABLE_SPECS[kind]
        cols = resolve_columns(spec_t, header, maps)
        missing = [c.name for c in spec_t.cols if c.required and c.name not in cols]
        if missing:
            raise SchemaError(
                f"{src.name}: missing required column(s) {', '.join(missing)} for {kind}. "
                f"Columns found: {', '.join(header)}. Expected: "
                + ", ".join(c.name + (" (required)" if c.required else "") for c in spec_t.cols)
                + f". See 'levelfield template {kind}', or map yours with --map column=field"
            )
        profile_name, reason = kind, f"levelfield {kind} CSV ({len(cols)} known columns)"
        used.update(cols.values())
    if kind != "competitors":
        _check_duplicates(src.name, header, used)

    prior = con.execute(
        "SELECT import_id, rows_in, rows_loaded, rows_rejected FROM imports "
        "WHERE sha256 = ? AND profile = ? AND kind = ? AND status = 'ok' "
        "ORDER BY import_id LIMIT 1",
        [src.sha256, profile_name, kind],
    ).fetchall()
    if prior:
        p = prior[0]
        return ImportSummary(
            import_id=int(p[0]),
            kind=kind,
            source_name=src.name,
            profile=profile_name,
            profile_reason=reason,
            rows_in=int(p[1]),
            rows_loaded=int(p[2]),
            rows_rejected=int(p[3]),
            top_reasons=[],
            date_min=None,
            date_max=None,
            revenue={},
            skipped_duplicate=True,
        )

    progress("staging rows", 0.1)
    staged = stage_rows(con, src, table, sorted(used))
    rows_in = staged.rows + len(staged.structural_rejects)
    if staged.rows == 0:
        what = "only a header" if table.has_header else "no data rows"
        extra = (
            f" ({len(staged.structural_rejects)} unreadable rows)"
            if staged.structural_rejects
            else ""
        )
        raise DataError(f"{src.name} has {what}, no data rows{extra}; export the data again")

    progress("parsing and validating", 0.35)
    prepared: Any
    if kind == "orders":
        if order_profile is not None:
            gross_from, amounts, owns = (
                order_profile.gross_from,
                order_profile.amounts,
                order_profile.owns_orders,
            )
            default_channel = order_profile.channel
        else:
            gross_from = _generic_amount_basis(set(sources), _mapped_fields(maps))
            amounts, owns, default_channel = "first", True, "direct"
        prepared = prepare_orders(
            con,
            name=src.name,
            profile=order_profile,
            sources=sources,
            labels=labels,
            raw=RAW,
            opts=OrderOptions(decimal_comma, dayfirst, date_format, currency, channel, store),
            default_channel=default_channel,
            default_currency=ws.currency(),
            gross_from=gross_from,
            amounts=amounts,
            owns_orders=owns,
        )
    elif kind == "competitors":
        prepared = prepare_competitors(
            con, name=src.name, header=header, raw=RAW, decimal_comma=decimal_comma
        )
    else:
        prepared = prepare_table(
            con,
            TABLE_SPECS[kind],
            name=src.name,
            columns=cols,
            header=header,
            raw=RAW,
            decimal_comma=decimal_comma,
            dayfirst=dayfirst,
            date_format=date_format,
            currency=currency,
        )
    # Rows the kind counts (a competitor CSV's #type row is not a data row).
    rows_in = prepared.rows_in + len(staged.structural_rejects)
    rejected = prepared.rows_rejected + len(staged.structural_rejects)
    skipped = prepared.rows_skipped if isinstance(prepared, PreparedOrders) else 0
    reasons: dict[str, int] = dict(prepared.top_reasons)
    for _, r in staged.structural_rejects:
        reasons[r] = reasons.get(r, 0) + 1
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    examples = [(row, None, None, r) for row, r in staged.structural_rejects[:2]]
    examples += list(prepared.examples)
    if rejected > max_reject_rate * rows_in or rejected == rows_in:
        shown = "; ".join(_fmt_example(src.name, e) for e in examples[:3])
        raise RejectThresholdError(
            f"{src.name}: {rejected:,} of {rows_in:,} rows ({rejected / rows_in:.1%}) were "
            f"rejected, more than the {max_reject_rate:.1%} allowed "
            "(--max-reject-rate); nothing was imported. Reasons: "
            + "; ".join(f"{r} ({n:,})" for r, n in top)
            + (f". For example: {shown}" if shown else "")
        )

    progress("writing to the workspace", 0.7)
    options = json.dumps(
        {
            "mapping": maps,
            "channel": channel,
            "dayfirst": dayfirst,
            "date_format": date_format,
            "decimal_comma": decimal_comma,
            "currency": currency,
            "sheet": table.sheet,
            "encoding": src.encoding,
            "delimiter": src.delimiter,
            "store": store,
        },
        sort_keys=True,
    )
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
                labels=labels,
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
                profile_name,
                rows_in,
                loaded,
                rejected,
                started,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                options,
            ],
        )
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
        profile=profile_name,
        profile_reason=reason,
        rows_in=rows_in,
        rows_loaded=loaded,
        rows_rejected=rejected,
        top_reasons=top,
        date_min=prepared.date_min if is_orders else None,
        date_max=prepared.date_max if is_orders else None,
        revenue=dict(prepared.revenue) if is_orders else {},
        skipped_duplicate=False,
        notes=notes,
        rows_skipped=skipped,
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
