"""Kinds without a platform export: products, suppliers, channels, competitors, costs,
pilots, surveys, automation and the business profile.

Each kind is a :class:`TableSpec` (columns, types, natural key, template example). The
loader maps header columns by name (case, spaces and ``_`` ignored) or ``--map``,
parses and validates in one SQL statement, and upserts on the natural key; within one
file a later row for the same key replaces an earlier one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from levelfield.ingest._dates import plan_dates
from levelfield.ingest._sql import (
    bool_sql,
    lit,
    money_reason_sql,
    money_sql,
    number_sql,
)
from levelfield.workspace import iso_currencies

__all__ = ["TABLE_SPECS", "Col", "PreparedTable", "TableSpec", "prepare_table"]

ST = "_lf_tst"
PV = "_lf_tpv"
BAD = "_lf_tbad"


@dataclass(frozen=True)
class Col:
    """One column of a kind: name, type, whether required, template example."""

    name: str
    type: str = "text"  # text, money, number, int, bool, date, month, timestamp, share, json
    required: bool = False
    example: str = ""
    nonneg: bool = False
    private: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """A workspace table fed by a plain CSV with levelfield's own columns."""

    kind: str
    table: str
    key: tuple[str, ...]
    cols: tuple[Col, ...]
    description: str

    def col(self, name: str) -> Col:
        return next(c for c in self.cols if c.name == name)


def _c(name: str, type_: str = "text", example: str = "", **kw: object) -> Col:
    return Col(name, type_, example=example, **kw)  # type: ignore[arg-type]


TABLE_SPECS: dict[str, TableSpec] = {
    s.kind: s
    for s in (
        TableSpec(
            "products",
            "products",
            ("sku",),
            (
                _c("sku", example="BEAN-ETH-250", required=True, aliases=("product_id",)),
                _c("name", example="Ethiopia Yirgacheffe 250 g"),
                _c("category", example="coffee beans"),
                _c("unit_cost", "money", "4.10", nonneg=True, aliases=("cost",)),
                _c("list_price", "money", "14.50", nonneg=True, aliases=("price",)),
                _c("currency", example="EUR"),
                _c("supplier_id", example="SUP-ETH-01", aliases=("supplier",)),
            ),
            "one row per product (SKU) with its unit cost, posted price and supplier",
        ),
        TableSpec(
            "suppliers",
            "suppliers",
            ("supplier_id",),
            (
                _c("supplier_id", example="SUP-ETH-01", required=True, aliases=("id",)),
                _c("name", example="Yirga Cooperative Union"),
                _c("country", example="ET"),
                _c("annual_spend", "money", "48000", nonneg=True, aliases=("spend",)),
                _c("currency", example="EUR"),
                _c("lead_time_days", "number", "42", nonneg=True, aliases=("lead_time",)),
                _c("alternatives", example="2"),
            ),
            "one row per supplier: country (ISO 3166 alpha-2), yearly spend, lead time, "
            "how many alternative suppliers exist",
        ),
        TableSpec(
            "channels",
            "channels",
            ("channel",),
            (
                _c("channel", example="shopify", required=True),
                _c("platform", example="Shopify"),
                _c("fee_profile", example="shopify_payments_basic"),
                _c("owns_customer", "bool", "yes"),
                _c("acquisition_cost", "money", "6.50", nonneg=True),
            ),
            "one row per sales channel: platform, fee profile, whether you own the "
            "customer relationship, cost to acquire a customer there",
        ),
        TableSpec(
            "costs",
            "costs",
            ("month", "category"),
            (
                _c("month", "month", "2024-01", required=True),
                _c("category", example="rent", required=True),
                _c("amount", "money", "2400.00", required=True, nonneg=True),
                _c("fixed", "bool", "yes"),
                _c("currency", example="EUR"),
            ),
            "one row per month and cost category (rent, wages, energy, ...); fixed yes/no",
        ),
        TableSpec(
            "pilots",
            "pilots",
            ("pilot_id", "unit_type", "unit"),
            (
                _c("pilot_id", example="P-2024-01", required=True),
                _c("name", example="250 g price +8 %"),
                _c("unit_type", example="customer", required=True),
                _c("unit", example="ann@example.com", required=True),
                _c("arm", example="treatment", required=True),
                _c("sku", example="BEAN-ETH-250"),
                _c("starts_on", "date", "2024-03-01", required=True),
                _c("ends_on", "date", "2024-04-30", required=True),
                _c("price_change", "number", "0.08"),
                _c("sequential", "bool", "no"),
                _c("looks", "int", "1", nonneg=True),
            ),
            "one row per unit (customer, store, week, ...) assigned to a price pilot arm; "
            "customer units are pseudonymized like order customers",
        ),
        TableSpec(
            "surveys",
            "surveys",
            ("response_id",),
            (
                _c("response_id", example="R-0001", required=True, aliases=("id",)),
                _c(
                    "customer_id",
                    example="ann@example.com",
                    private=True,
                    aliases=("customer", "email"),
                ),
                _c("answered_at", "timestamp", "2024-05-02 10:15:00", aliases=("date",)),
                _c("score", "int", "9", required=True, nonneg=True, aliases=("nps",)),
            ),
            "one row per survey answer (0-10 likelihood to recommend); customer "
            "identifiers are pseudonymized",
        ),
        TableSpec(
            "automation",
            "automation",
            ("area", "task"),
            (
                _c("area", example="fulfilment", required=True),
                _c("task", example="print shipping labels", required=True),
                _c("hours_per_week", "number", "6", required=True, nonneg=True),
                _c("hourly_cost", "number", "22", required=True, nonneg=True),
                _c("error_rate", "share", "0.02"),
                _c("tools", example="spreadsheet"),
            ),
            "one row per recurring manual task: hours per week, cost per hour, error rate",
        ),
        TableSpec(
            "fx_rates",
            "fx_rates",
            ("date", "currency"),
            (
                _c("date", "date", "2024-03-01", required=True),
                _c("currency", example="CAD", required=True),
                _c("rate", "number", "0.7391", required=True, nonneg=True),
            ),
            "your bank's exchange rates: one row per date and currency, rate = units of "
            "the business currency for 1 unit of currency; used for orders of that date "
            "or up to 7 days after it, instead of the ECB reference rate",
        ),
        TableSpec(
            "competitor_prices",
            "competitor_prices",
            ("competitor", "item", "date"),
            (
                _c("competitor", example="Northside Roasters", required=True, aliases=("rival",)),
                _c(
                    "item",
                    example="BEAN-ETH-250",
                    required=True,
                    aliases=("product", "sku", "category", "product_or_category"),
                ),
                _c("price", "money", "15.90", required=True, nonneg=True),
                _c("currency", example="EUR"),
                _c("date", "date", "2024-03-01", required=True, aliases=("observed_on",)),
                _c("source", example="northside.example/shop (web page)"),
            ),
            "one row per competitor, item and date you saw its price: item is one of your "
            "SKUs, product names or categories (the rival's closest equivalent); each date "
            "is kept as a snapshot, so import new observations as often as you like",
        ),
        TableSpec(
            "business",
            "business",
            ("key",),
            (
                _c("key", example="name", required=True),
                _c("value", "json", "Example Coffee Roasters", required=True),
            ),
            "key,value rows for the business profile (name, currency, country, sector, "
            "employees, opening_cash, debt, interest_rate, capabilities, ...); values are "
            "JSON when valid JSON, else text",
        ),
        TableSpec(
            "credit_offers",
            "credit_offers",
            ("offer_id",),
            (
                _c("offer_id", example="MCA-1", required=True, aliases=("id", "offer")),
                _c("lender", example="QuickCap"),
                _c("kind", example="merchant_cash_advance", required=True, aliases=("type",)),
                _c("amount", "money", "20000", required=True, nonneg=True),
                _c("currency", example="EUR"),
                _c("annual_rate", "number", "", nonneg=True, aliases=("rate",)),
                _c("term_months", "number", "", nonneg=True, aliases=("term",)),
                _c("fees", "money", "500", nonneg=True, aliases=("fee",)),
                _c("factor_rate", "number", "1.35", nonneg=True, aliases=("factor",)),
                _c("remittance_share", "share", "0.12", aliases=("holdback",)),
                _c("card_share", "share", "0.9"),
                _c("usage_share", "share", ""),
                _c("draw_fee", "share", ""),
                _c("advance_rate", "share", ""),
                _c("fee_per_30_days", "share", ""),
                _c("days_to_pay", "number", "", nonneg=True),
                _c("payment", "money", "", nonneg=True),
                _c("residual", "money", "", nonneg=True),
            ),
            "one row per credit offer; kind is term_loan (amount, annual_rate, term_months, "
            "fees), line_of_credit (amount = limit, annual_rate, draw_fee, usage_share, "
            "term_months to repay a draw), merchant_cash_advance (amount, factor_rate, "
            "remittance_share = holdback of card sales, card_share), revenue_based "
            "(amount, fees = fixed fee, remittance_share of sales), invoice_factoring "
            "(amount = invoices, advance_rate, fee_per_30_days, days_to_pay) or "
            "equipment_lease (amount = cash price, payment per month, term_months, fees "
            "paid up front, residual buyout); rates and shares are 0-1",
        ),
        TableSpec(
            "subscriptions",
            "subscriptions",
            ("subscription_id",),
            (
                # Aliases are Stripe's subscriptions export (Billing -> Subscriptions ->
                # Export): id, Customer ID / Customer Email, Plan (a price id), Status,
                # Start Date (UTC) / Start (UTC) / Created (UTC), Current Period Start/End
                # (UTC), Canceled At (UTC), Ended At (UTC), Trial Start/End (UTC),
                # Quantity, Amount, Currency, Interval, Interval Count.
                _c("subscription_id", example="sub_1001", required=True, aliases=("id",)),
                _c(
                    "customer_id",
                    example="ann@example.com",
                    required=True,
                    private=True,
                    aliases=("customer", "customer_email", "email"),
                ),
                _c(
                    "plan",
                    example="Coffee club 2 x 250 g",
                    aliases=("price", "price_id", "plan_id"),
                ),
                _c("status", example="active", aliases=("subscription_status",)),
                _c(
                    "started_at",
                    "timestamp",
                    "2024-01-15 10:00",
                    required=True,
                    aliases=("start_date_utc", "start_utc", "created_utc", "created", "start_date"),
                ),
                _c(
                    "current_period_start",
                    "timestamp",
                    "2024-05-15 10:00",
                    aliases=("current_period_start_utc",),
                ),
                _c(
                    "current_period_end",
                    "timestamp",
                    "2024-06-15 10:00",
                    aliases=("current_period_end_utc",),
                ),
                _c("canceled_at", "timestamp", "", aliases=("canceled_at_utc", "cancelled_at")),
                _c("ended_at", "timestamp", "", aliases=("ended_at_utc", "end_date")),
                _c("trial_start", "timestamp", "2024-01-15 10:00", aliases=("trial_start_utc",)),
                _c("trial_end", "timestamp", "2024-01-29 10:00", aliases=("trial_end_utc",)),
                _c("quantity", "int", "1", nonneg=True, aliases=("qty",)),
                _c(
                    "amount",
                    "money",
                    "24.00",
                    nonneg=True,
                    aliases=("price_amount", "plan_amount", "unit_amount"),
                ),
                _c("currency", example="EUR"),
                _c("interval", example="month", aliases=("billing_interval", "plan_interval")),
                _c("interval_count", "int", "1", nonneg=True, aliases=("plan_interval_count",)),
            ),
            "one row per subscription (Stripe's subscriptions export or this template): "
            "price of one unit per billing interval, quantity, start, trial, cancellation "
            "and end; customer identifiers are pseudonymized",
        ),
    )
}


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def resolve_columns(
    spec: TableSpec, header: Sequence[str], mapping: Mapping[str, str]
) -> dict[str, int]:
    """Column name -> header index, from ``mapping`` first, then names and aliases."""
    index = {_norm(h): i for i, h in reversed(list(enumerate(header)))}
    out: dict[str, int] = {}
    for src, dst in mapping.items():
        if src in header:
            out[dst] = header.index(src)
    for c in spec.cols:
        if c.name in out:
            continue
        for cand in (c.name, *c.aliases):
            if _norm(cand) in index:
                out[c.name] = index[_norm(cand)]
                break
    return out


@dataclass
class PreparedTable:
    """Parsed rows of a plain kind, waiting in temp tables to be written."""

    spec: TableSpec
    rows_in: int
    rows_rejected: int
    top_reasons: list[tuple[str, int]]
    examples: list[tuple[int | None, str | None, str | None, str]]
    columns: list[str]
    notes: list[str]

    def write(self, con: duckdb.DuckDBPyConnection, import_id: int) -> int:
        con.execute("INSERT INTO rejects SELECT ?, _row, col, val, reason FROM " + BAD, [import_id])
        cols = ", ".join(f'"{c}"' for c in self.columns)
        con.execute(
            f"INSERT OR REPLACE INTO {self.spec.table} ({cols}, import_id) "
            f"SELECT {cols}, ? FROM {PV} WHERE _keep",
            [import_id],
        )
        return self.rows_in - self.rows_rejected


#: One validation rule: SQL condition that marks a row bad, column name, SQL reason.
_Check = tuple[str, str, str]


def _numeric_column(c: Col, x: str, dc: bool) -> tuple[str, list[_Check]]:
    """SQL for a money/number/int/share column ``x`` and its checks (parse, whole
    number, 0 or more, share 0-1; a share may be written ``12%``)."""
    sql_type = {"money": "DECIMAL(18,4)", "int": "INTEGER"}.get(c.type, "DOUBLE")
    if c.type == "share":
        pct = f"regexp_replace({x}, '%$', '')"
        val = (
            f"(CASE WHEN {x} LIKE '%\\%' ESCAPE '\\' THEN "
            f"{number_sql(pct, dc, 'DOUBLE')} / 100 ELSE {number_sql(x, dc, 'DOUBLE')} END)"
        )
        reason = money_reason_sql(pct, dc)
    else:
        val = number_sql(x, dc, sql_type)
        reason = money_reason_sql(x, dc)
    expr = f"{val if c.type != 'money' else money_sql(x, dc)} AS {x}"
    checks: list[_Check] = [(f"({reason}) IS NOT NULL", c.name, reason)]
    if c.type == "int":
        checks.append(
            (
                f"TRY_CAST({money_sql(x, dc)} AS DOUBLE) <> "
                f"round(TRY_CAST({money_sql(x, dc)} AS DOUBLE))",
                c.name,
                "'not a whole number'",
            )
        )
    if c.nonneg:
        checks.append((f"{val} < 0", c.name, "'negative (must be 0 or more)'"))
    if c.type == "share":
        checks.append((f"{val} > 1", c.name, "'not a share between 0 and 1 (write 0.12 or 12%)'"))
    return expr, checks


def _date_column(
    con: duckdb.DuckDBPyConnection,
    c: Col,
    x: str,
    *,
    name: str,
    label: str,
    dayfirst: bool | None,
    date_format: str | None,
) -> tuple[str, _Check, str]:
    """SQL for a date/timestamp/month column, its check and the parsed-timestamp SQL.

    The day/month order is decided from the whole staged column (:func:`plan_dates`);
    a month may be written ``2024-03``.
    """
    src = x
    if c.type == "month":
        src = (
            f"(CASE WHEN regexp_full_match({x}, '\\d{{4}}-\\d{{1,2}}') "
            f"THEN {x} || '-01' ELSE {x} END)"
        )
    con.execute(f"CREATE OR REPLACE TEMP VIEW _lf_dcol AS SELECT {src} AS d FROM {ST}")
    plan = plan_dates(
        con, "_lf_dcol", "d", name=name, label=label, dayfirst=dayfirst, date_format=date_format
    )
    ts = plan.sql(src)
    val = {
        "date": f"CAST({ts} AS DATE)",
        "month": f"CAST(date_trunc('month', {ts}) AS DATE)",
        "timestamp": ts,
    }[c.type]
    check = (f"{x} IS NOT NULL AND {ts} IS NULL", c.name, "'not a date; use YYYY-MM-DD'")
    return f"{val} AS {x}", check, ts


def _text_column(spec: TableSpec, c: Col, x: str) -> tuple[str, list[_Check]]:
    """SQL for a yes/no, JSON, private, currency/country or other text column, and its
    checks. Private columns (and a pilot's customer unit) are pseudonymized here."""
    if c.type == "bool":
        return f"{bool_sql(x)} AS {x}", [
            (f"{x} IS NOT NULL AND {bool_sql(x)} IS NULL", c.name, "'not yes/no'")
        ]
    if c.type == "json":
        return f"CASE WHEN json_valid({x}) THEN json({x}) ELSE to_json({x}) END AS {x}", []
    if c.private:
        return f"lf_pseudonym({x}) AS {x}", []
    if spec.kind == "pilots" and c.name == "unit":
        return (
            "CASE WHEN lower(unit_type) IN ('customer', 'customer_id', 'email', 'buyer') "
            f"THEN lf_pseudonym({x}) ELSE {x} END AS {x}"
        ), []
    if c.name == "country":
        return f"upper({x}) AS {x}", []
    if c.name == "currency":
        codes = "[" + ", ".join(lit(k) for k in sorted(iso_currencies())) + "]"
        return f"upper({x}) AS {x}", [
            (
                f"{x} IS NOT NULL AND NOT list_contains({codes}, upper({x}))",
                c.name,
                "'not an ISO 4217 currency code (write EUR, USD, GBP, ...)'",
            )
        ]
    if spec.kind == "subscriptions" and c.name in ("status", "interval"):
        checks: list[_Check] = []
        if c.name == "interval":
            checks.append(
                (
                    f"{x} IS NOT NULL AND {_interval_sql(x)} IS NULL",
                    c.name,
                    "'not a billing interval; use day, week, month or year'",
                )
            )
        return _subscription_word(x, c.name), checks
    return x, []


def _table_checks(
    spec: TableSpec, columns: Mapping[str, int], parsed: Mapping[str, str]
) -> tuple[list[_Check], list[_Check]]:
    """Row checks of the kind as a whole: (checks that come first, checks that come
    last). First: blank required columns (in reverse spec order, as they were always
    listed); last: a zero FX rate, subscription dates out of order, a score above 10."""
    first = [
        (f'"{c.name}" IS NULL', c.name, f"'blank ({c.name} is required)'")
        for c in reversed(spec.cols)
        if c.required and c.name in columns
    ]
    last: list[_Check] = []
    if spec.kind == "fx_rates" and "rate" in columns:
        last.append(('TRY_CAST("rate" AS DOUBLE) = 0', "rate", "'zero (a rate must be above 0)'"))
    if spec.kind == "subscriptions":
        last.extend(_subscription_checks(parsed))
    if spec.kind == "surveys" and "score" in columns:
        last.append(('TRY_CAST("score" AS DOUBLE) > 10', "score", "'outside the 0-10 scale'"))
    return first, last


def _error_sql(
    spec: TableSpec, checks: Sequence[_Check], header: Sequence[str], columns: Mapping[str, int]
) -> str:
    """A SQL struct (col, val, reason) of a row's first failed check, NULL when it passes.

    Private values are shown as ``***``; the column is named as in the file's header.
    """
    if not checks:
        return "NULL"

    def value_of(f: str) -> str:
        return lit("***") if spec.col(f).private or f == "unit" else f'CAST("{f}" AS VARCHAR)'

    cases = " ".join(
        f"WHEN {cond} THEN {{'col': {lit(header[columns[f]])}, 'val': {value_of(f)}, "
        f"'reason': {reason}}}"
        for cond, f, reason in checks
    )
    return f"(CASE {cases} END)"


def _column_sql(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    present: Sequence[Col],
    *,
    name: str,
    columns: Mapping[str, int],
    header: Sequence[str],
    decimal_comma: bool | None,
    dayfirst: bool | None,
    date_format: str | None,
) -> tuple[list[str], list[_Check], dict[str, str]]:
    """SELECT expressions and checks for the present columns, plus the parsed-timestamp
    SQL of each date column (used by the kind's own checks)."""
    dc = bool(decimal_comma)
    exprs: list[str] = ["_row"]
    checks: list[_Check] = []
    parsed: dict[str, str] = {}
    for c in present:
        x = f'"{c.name}"'
        if c.type in ("money", "number", "int", "share"):
            expr, more = _numeric_column(c, x, dc)
        elif c.type in ("date", "timestamp", "month"):
            label = header[columns[c.name]]
            expr, check, parsed[c.name] = _date_column(
                con, c, x, name=name, label=label, dayfirst=dayfirst, date_format=date_format
            )
            more = [check]
        else:
            expr, more = _text_column(spec, c, x)
        exprs.append(expr)
        checks.extend(more)
    return exprs, checks, parsed


def prepare_table(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    *,
    name: str,
    columns: Mapping[str, int],
    header: Sequence[str],
    raw: str,
    decimal_comma: bool | None,
    dayfirst: bool | None,
    date_format: str | None,
    currency: str | None,
) -> PreparedTable:
    """Parse and validate staged rows of ``spec.kind`` (no workspace writes).

    Stages: trim the staged columns into ``ST``; build each column's SQL and checks
    (:func:`_column_sql`); add the kind's checks (:func:`_table_checks`); write parsed
    rows (last row per key kept) to ``PV`` and failed rows to ``BAD``.
    """
    for t in (ST, PV, BAD):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    sel = ", ".join(f"nullif(trim(c{i}), '') AS \"{c}\"" for c, i in columns.items())
    con.execute(f"CREATE TEMP TABLE {ST} AS SELECT _row, {sel} FROM {raw}")
    rows_in = int(con.execute(f"SELECT count(*) FROM {ST}").fetchall()[0][0])
    present = [c for c in spec.cols if c.name in columns]
    exprs, checks, parsed = _column_sql(
        con,
        spec,
        present,
        name=name,
        columns=columns,
        header=header,
        decimal_comma=decimal_comma,
        dayfirst=dayfirst,
        date_format=date_format,
    )
    has_currency = any(c.name == "currency" for c in spec.cols)
    if has_currency and "currency" not in columns and currency is not None:
        exprs.append(f"{lit(currency.upper())} AS currency")
        present.append(spec.col("currency"))
    first, last = _table_checks(spec, columns, parsed)
    err = _error_sql(spec, [*first, *checks, *last], header, columns)
    key_cols = ", ".join(f'"{k}"' for k in spec.key)
    con.execute(
        f"CREATE TEMP TABLE {PV} AS SELECT *, err IS NULL AND row_number() OVER "
        f"(PARTITION BY err IS NULL, {key_cols} ORDER BY _row DESC) = 1 AS _keep "
        f"FROM (SELECT {', '.join(exprs)}, {err} AS err FROM {ST})"
    )
    con.execute(
        f"CREATE TEMP TABLE {BAD} AS SELECT _row, err.col AS col, err.val AS val, "
        f"err.reason AS reason FROM {PV} WHERE err IS NOT NULL"
    )
    return _prepared(con, spec, rows_in, [c.name for c in present])


def _prepared(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, rows_in: int, columns: list[str]
) -> PreparedTable:
    """Count the rejected and repeated rows of ``PV``/``BAD`` into a :class:`PreparedTable`."""
    n_bad = int(con.execute(f"SELECT count(*) FROM {BAD}").fetchall()[0][0])
    n_dup = int(
        con.execute(f"SELECT count(*) FROM {PV} WHERE err IS NULL AND NOT _keep").fetchall()[0][0]
    )
    reasons = [
        (str(r), int(n))
        for r, n in con.execute(
            f"SELECT reason, count(*) AS n FROM {BAD} GROUP BY reason ORDER BY n DESC, reason "
            "LIMIT 5"
        ).fetchall()
    ]
    examples = [
        (int(r) if r is not None else None, c, v, str(reason))
        for r, c, v, reason in con.execute(
            f"SELECT _row, col, val, reason FROM {BAD} ORDER BY _row LIMIT 3"
        ).fetchall()
    ]
    notes = []
    if n_dup:
        notes.append(f"{n_dup:,} rows repeated an earlier key; the last one was kept")
    return PreparedTable(
        spec=spec,
        rows_in=rows_in,
        rows_rejected=n_bad,
        top_reasons=reasons,
        examples=examples,
        columns=columns,
        notes=notes,
    )


def _interval_sql(x: str) -> str:
    # Stripe writes month/year; owners write Monthly, months, yearly, annual, weekly.
    return (
        f"CASE regexp_replace(lower({x}), '(ly|s)$', '') "
        "WHEN 'day' THEN 'day' WHEN 'dai' THEN 'day' WHEN 'week' THEN 'week' "
        "WHEN 'month' THEN 'month' WHEN 'year' THEN 'year' WHEN 'annual' THEN 'year' END"
    )


def _subscription_word(x: str, name: str) -> str:
    if name == "interval":
        return f"{_interval_sql(x)} AS {x}"
    # Stripe's statuses are snake_case (past_due); "Canceled"/"cancelled" mean one thing.
    s = f"replace(lower({x}), ' ', '_')"
    return f"CASE WHEN {s} = 'cancelled' THEN 'canceled' ELSE {s} END AS {x}"


def _subscription_checks(ts: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Row checks of a subscription: it cannot end, be canceled or renew before it starts.

    ``ts`` maps each date column present to the SQL of its parsed timestamp.
    """
    out = []
    for later in ("ended_at", "canceled_at", "current_period_end"):
        if later in ts and "started_at" in ts:
            out.append(
                (
                    f"({ts[later]}) < ({ts['started_at']})",
                    later,
                    "'before the subscription started (started_at)'",
                )
            )
    if "trial_start" in ts and "trial_end" in ts:
        out.append(
            (f"({ts['trial_end']}) < ({ts['trial_start']})", "trial_end", "'before trial_start'")
        )
    return out


def template_rows(spec: TableSpec) -> tuple[list[str], list[str]]:
    """Header and example row of a kind's CSV template."""
    return [c.name for c in spec.cols], [c.example for c in spec.cols]


def business_value(text: str) -> object:
    """A business value as stored: JSON when the text is valid JSON, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text
