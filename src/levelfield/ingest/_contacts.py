"""Read who is who from the owner's own export files, without storing anyone in clear.

:func:`read_contacts` re-reads an order export through the same profiles, identity rules
and keyed hash as :func:`~levelfield.ingest.import_file`, so each row's customer gets the
pseudonym the workspace holds; the e-mail and name found beside it come back in memory
only. Everything runs in a private in-memory DuckDB database with spilling to disk turned
off: no clear value reaches the workspace file, its folder or a temporary file of ours
(a transcoded copy of a non-UTF-8 file lives in the system's temp folder while the file
is read, as on import, and is removed afterwards).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from levelfield.errors import ConfigError, DataError
from levelfield.ingest._import import (
    PROFILES,
    _check_duplicates,
    _choose_table,
    _generic_amount_basis,
    _mapped_fields,
    _order_plan,
    _parse_mapping,
    _resolve,
)
from levelfield.ingest._orders import PV, OrderOptions, prepare_orders
from levelfield.ingest._profiles import norm
from levelfield.ingest._read import RAW, SourceFile, open_source, stage_rows
from levelfield.workspace import Workspace

__all__ = ["ContactRows", "read_contacts"]

#: Columns that hold a person's whole name, most telling first (normalised names).
#: Shopify's ``Name`` is the order number, so a bare "name" is never one of them.
NAME_COLUMNS: tuple[str, ...] = (
    "billing name",
    "customer name",
    "full name",
    "buyer name",
    "name (billing)",
    "billing_name",
    "customer_name",
    "full_name",
    "ship name",
    "shipping name",
    "shipping_name",
    "shipping address name",
    "card name",
)
#: First/last name column pairs (normalised names).
FIRST_LAST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("first name (billing)", "last name (billing)"),
    ("billing first name", "billing last name"),
    ("billing_first_name", "billing_last_name"),
    ("first name", "last name"),
    ("first_name", "last_name"),
)
#: E-mail columns used when the profile maps none (normalised names).
EMAIL_COLUMNS: tuple[str, ...] = (
    "email",
    "e-mail",
    "customer email",
    "email (billing)",
    "billing_email",
    "billing email",
    "ordering customer email",
    "buyer email",
)


@dataclass(frozen=True)
class ContactRows:
    """Customers found in one export file, keyed by their workspace pseudonym.

    Attributes
    ----------
    source_name
        The file's name as the owner knows it.
    profile
        Profile the file was read with (``shopify``, ``generic``, ...).
    frame
        One row per customer: ``customer_id`` (pseudonym), ``email``, ``name``,
        ``first_name``, ``last_name`` (text or missing), ``last_seen`` (newest order
        time of the file, UTC). Held in memory only.
    rows_read
        Data rows read from the file.
    """

    source_name: str
    profile: str
    frame: pd.DataFrame
    rows_read: int


def _find(index: Mapping[str, int], names: Iterable[str]) -> int | None:
    for n in names:
        if n in index:
            return index[n]
    return None


def _contact_columns(header: Sequence[str]) -> dict[str, int]:
    """Column index of the e-mail, whole name and first/last name, where the file has them."""
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(norm(h), i)
    out: dict[str, int] = {}
    email = _find(index, EMAIL_COLUMNS)
    if email is not None:
        out["email"] = email
    name = _find(index, NAME_COLUMNS)
    if name is not None:
        out["name"] = name
    for first, last in FIRST_LAST_COLUMNS:
        if first in index and last in index:
            out["first_name"], out["last_name"] = index[first], index[last]
            break
    return out


@dataclass(frozen=True)
class _Recorded:
    """The options an earlier import of the same file was made with."""

    profile: str | None
    mapping: dict[str, str]
    sheet: str | None
    dayfirst: bool | None
    date_format: str | None
    decimal_comma: bool | None
    currency: str | None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _recorded_options(ws: Workspace, path: Path) -> _Recorded | None:
    """Options of the newest successful orders import of this file (same SHA-256)."""
    if not path.is_file():
        return None  # open_source names the missing file
    rows = ws.con.execute(
        "SELECT profile, options FROM imports WHERE sha256 = ? AND kind = 'orders' "
        "AND status = 'ok' ORDER BY import_id DESC LIMIT 1",
        [_file_sha256(path)],
    ).fetchall()
    if not rows:
        return None
    profile, raw = rows[0]
    try:
        opts = json.loads(raw) if raw else {}
    except ValueError:
        opts = {}
    if not isinstance(opts, dict):
        opts = {}
    mapping = opts.get("mapping") if isinstance(opts.get("mapping"), dict) else {}
    return _Recorded(
        profile=str(profile) if profile in PROFILES and profile != "generic" else None,
        mapping={str(k): str(v) for k, v in (mapping or {}).items()},
        sheet=opts.get("sheet") if isinstance(opts.get("sheet"), str) else None,
        dayfirst=opts.get("dayfirst") if isinstance(opts.get("dayfirst"), bool) else None,
        date_format=opts.get("date_format") if isinstance(opts.get("date_format"), str) else None,
        decimal_comma=opts.get("decimal_comma")
        if isinstance(opts.get("decimal_comma"), bool)
        else None,
        currency=opts.get("currency") if isinstance(opts.get("currency"), str) else None,
    )


def _text(col: int | None) -> str:
    return f"nullif(trim(r.c{col}), '')" if col is not None else "CAST(NULL AS VARCHAR)"


def read_contacts(
    ws: Workspace,
    path: str | Path,
    *,
    profile: str | None = None,
    mapping: Mapping[str, str] | Iterable[str] | None = None,
    sheet: str | None = None,
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal_comma: bool | None = None,
    currency: str | None = None,
    display_name: str | None = None,
) -> ContactRows:
    """The customers of an order export, with the pseudonyms the workspace gave them.

    Parameters
    ----------
    ws
        The workspace whose pseudonym key names the customers.
    path
        The order export as imported (CSV/TSV, XLSX or Parquet).
    profile, mapping, sheet, dayfirst, date_format, decimal_comma, currency
        The options the file was imported with (see :func:`~levelfield.ingest.import_file`).
        When none is given and the workspace's import ledger holds this very file (same
        SHA-256), the options recorded with that import are used, so a spreadsheet
        imported with ``--map`` needs nothing more here.
    display_name
        Name to show for the file (an uploaded file's original name).

    Returns
    -------
    ContactRows

    Raises
    ------
    WorkspaceError
        The workspace's pseudonym key is missing.
    ConfigError, SchemaError, UnknownLayoutError, DataError
        As :func:`~levelfield.ingest.import_file` for the same file.
    """
    if profile is not None and profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    maps = _parse_mapping(mapping)
    ws.require_key()
    given = (profile, sheet, dayfirst, date_format, decimal_comma, currency)
    if not maps and all(v is None for v in given):
        recorded = _recorded_options(ws, Path(path))
        if recorded is not None:
            profile, maps, sheet = recorded.profile, recorded.mapping, recorded.sheet
            dayfirst, date_format = recorded.dayfirst, recorded.date_format
            decimal_comma, currency = recorded.decimal_comma, recorded.currency
    src = open_source(path, sheet=sheet)
    if display_name:
        src.name = display_name
    con = duckdb.connect(":memory:")
    try:
        # No spill files: an in-memory database would otherwise spill into ./.tmp.
        con.execute("SET temp_directory = ''")
        con.execute("SET enable_progress_bar = false")
        ws.register_pseudonym(con)
        # The parse checks new orders against those already imported; here nothing is
        # imported, so it sees empty stand-ins of the two ledger tables it reads.
        con.execute(
            "CREATE TABLE orders (order_id VARCHAR, channel VARCHAR, status VARCHAR, "
            "import_id INTEGER)"
        )
        con.execute("CREATE TABLE imports (import_id INTEGER, source_name VARCHAR)")
        opts = OrderOptions(decimal_comma, dayfirst, date_format, currency, None, None)
        return _read(ws, con, src, profile, maps, opts)
    finally:
        con.close()
        src.cleanup()


def _read(
    ws: Workspace,
    con: duckdb.DuckDBPyConnection,
    src: SourceFile,
    profile: str | None,
    maps: dict[str, str],
    opts: OrderOptions,
) -> ContactRows:
    table = _choose_table(src, "orders", profile, maps)
    header = table.header
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(norm(h), i)
    order_profile, _reason, specs = _order_plan(src.name, header, src.fmt, profile, maps)
    used: set[int] = set()
    sources: dict[str, str] = {}
    labels: dict[str, str] = {}
    for f, spec in specs.items():
        sql = _resolve(spec, header, index, used)
        if sql is not None:
            sources[f] = sql
            labels[f] = spec if not spec.startswith("=") else f
    _check_duplicates(src.name, header, used)
    contact = _contact_columns(header)
    staged = stage_rows(con, src, table, sorted(used | set(contact.values())))
    if staged.rows == 0:
        raise DataError(f"{src.name} has no data rows; export the data again")
    if order_profile is not None:
        gross_from, amounts = order_profile.gross_from, order_profile.amounts
        owns, channel = order_profile.owns_orders, order_profile.channel
    else:
        gross_from = _generic_amount_basis(set(sources), _mapped_fields(maps))
        amounts, owns, channel = "first", True, "direct"
    prepare_orders(
        con,
        name=src.name,
        profile=order_profile,
        sources=sources,
        labels=labels,
        raw=RAW,
        opts=opts,
        default_channel=channel,
        default_currency=ws.currency(),
        gross_from=gross_from,
        amounts=amounts,
        owns_orders=owns,
    )
    email = "nullif(trim(s.email), '')" if "email" in sources else _text(contact.get("email"))
    frame = con.execute(
        "SELECT lf_pseudonym(p.customer) AS customer_id, "
        f"arg_max({email}, p.ts) FILTER (WHERE {email} IS NOT NULL) AS email, "
        f"arg_max({_text(contact.get('name'))}, p.ts) "
        f"FILTER (WHERE {_text(contact.get('name'))} IS NOT NULL) AS name, "
        f"arg_max({_text(contact.get('first_name'))}, p.ts) "
        f"FILTER (WHERE {_text(contact.get('first_name'))} IS NOT NULL) AS first_name, "
        f"arg_max({_text(contact.get('last_name'))}, p.ts) "
        f"FILTER (WHERE {_text(contact.get('last_name'))} IS NOT NULL) AS last_name, "
        "max(p.ts) AS last_seen "
        f"FROM {PV} p JOIN {RAW} r ON r._row = p._row JOIN _lf_st s ON s._row = p._row "
        "WHERE p.customer IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).df()
    return ContactRows(
        source_name=src.name,
        profile=order_profile.name if order_profile else "generic",
        frame=frame,
        rows_read=staged.rows,
    )
