"""Currency exposure from the real mix: revenue and costs by currency, net per currency.

Revenue per currency is the base-currency value of the orders in that currency, each at
its own date's rate (``order_revenue.net_revenue_base``), per year of order history.
Costs per currency come from three places, per year: the suppliers' stated yearly spend
(in the supplier's ``currency``; a supplier without one is taken as entered in the base
currency and counted as exposure to the currency of its country, the currency its
prices follow), the cost of goods of products whose supplier states no spend (the
product's ``currency``, else the base; converted at the rate of each order's date, as
in ``order_line_costs``), and the last 12 months of running costs (``costs``, in their
``currency``, else the base). Supplier spend and running costs carry no date of their
own, so they are converted at the latest rate (the owner's newest ``fx_rates`` row, else
the last ECB reference rate); ``cost_rate`` is that rate. The net (revenue less costs)
in a foreign currency is what a move of that currency against the base changes: a
business long a currency loses when it falls. Its share of the total net is the share
of profit that currency carries; the pair's annual volatility
(``levelfield.workspace.pair_volatility``, five years of ECB rates) says how far it
typically moves in a year.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd

from levelfield.workspace import latest_rates, pair_volatility

__all__ = ["FX_PROFIT_SHARE_THRESHOLD", "country_currencies", "currency_exposure"]

#: A foreign currency carrying at least this share of profit is worth a finding
#: ("watch"; twice it, "warning"). A quarter of profit in one foreign currency means a
#: typical 8-10 % yearly move of the pair shifts profit by 2-2.5 %: as much as a small
#: price change, and worth knowing when pricing and buying.
FX_PROFIT_SHARE_THRESHOLD = 0.25

_COSTS_SQL = """
SELECT coalesce(upper(s.currency), cc.currency, $base) AS currency,
       coalesce(upper(s.currency), $base) AS amount_currency,
       CAST(s.annual_spend AS DOUBLE) AS amount, 'suppliers' AS kind
FROM suppliers s LEFT JOIN lf_country_currency cc ON cc.raw = s.country
WHERE s.annual_spend > 0
UNION ALL
SELECT i.cost_currency, $base, sum(i.cogs_sales) / $years, 'cost of goods'
FROM lf_items i LEFT JOIN suppliers s ON s.supplier_id = i.supplier_id
WHERE i.cogs_sales IS NOT NULL AND s.annual_spend IS NULL
GROUP BY 1, 2
UNION ALL
SELECT coalesce(upper(currency), $base), coalesce(upper(currency), $base),
       sum(CAST(amount AS DOUBLE)) * 12 / count(DISTINCT month), 'running costs'
FROM costs WHERE month > (SELECT max(month) FROM costs) - INTERVAL 12 MONTH
GROUP BY 1, 2
"""


def country_currencies(raw: list[str], codes: list[str | None]) -> pd.DataFrame:
    """``raw`` country value -> the currency of that country today (CLDR), or None."""
    from babel.numbers import get_territory_currencies

    out = []
    for code in codes:  # one per distinct supplier country, not per row
        found = get_territory_currencies(code) if code else []
        out.append(str(found[0]) if found else None)
    return pd.DataFrame(
        {"raw": pd.Series(raw, dtype="object"), "currency": pd.Series(out, dtype="object")}
    )


def _volatility(base: str, currencies: pd.Series) -> pd.Series:
    vols = []
    for cur in currencies:  # one per currency in use
        got = pair_volatility(base, str(cur))
        vols.append(math.nan if got is None else got[0])
    return pd.Series(vols, index=currencies.index, dtype="float64")


def currency_exposure(
    con: duckdb.DuckDBPyConnection,
    base: str,
    years: float,
    countries: pd.DataFrame,
) -> tuple[pd.DataFrame, list[str]]:
    """Revenue, costs and net per currency per year, in ``base``; with notes.

    ``countries`` maps the suppliers' raw country values to currencies
    (:func:`country_currencies`). One row per currency: ``revenue``, ``costs``
    (``supplier_costs``, ``goods_costs``, ``running_costs``), ``net``, the shares of
    revenue, costs and net (``profit_share``, NaN when the total net is not positive),
    the rate costs were converted at (``cost_rate``, ``cost_rate_date``,
    ``cost_rate_source``) and the pair's annual volatility against the base.

    Reads the order and line aggregates of :func:`levelfield.exposure._metrics.prepare`
    (``lf_ogroups``, ``lf_items``), not the orders and lines again.
    """
    notes: list[str] = []
    con.register("lf_country_currency", countries)
    try:
        costs = con.execute(_COSTS_SQL, {"base": base, "years": years}).df()
    finally:
        con.unregister("lf_country_currency")
    revenue = con.execute(
        "SELECT currency, sum(revenue_base)::DOUBLE / $years AS revenue, "
        "CAST(sum(unconverted) AS BIGINT) AS unconverted FROM lf_ogroups GROUP BY currency",
        {"years": years},
    ).df()
    rates = latest_rates(con, base, list(costs["amount_currency"].dropna().unique()))
    costs = costs.merge(
        rates.rename(columns={"currency": "amount_currency"}), on="amount_currency", how="left"
    )
    lost = costs[costs["rate"].isna()]
    if len(lost):
        notes.append(
            "costs in "
            + ", ".join(sorted(set(lost["amount_currency"].astype(str))))
            + f" have no rate to {base} (no ECB rate, none of yours) and are left out of "
            "the currency table; import your rates with 'levelfield import fx_rates FILE'"
        )
    costs["base_amount"] = costs["amount"] * costs["rate"]
    if costs.empty:
        wide = pd.DataFrame(columns=["supplier_costs", "goods_costs", "running_costs"])
    else:
        wide = costs.pivot_table(
            index="currency", columns="kind", values="base_amount", aggfunc="sum"
        ).reindex(columns=["suppliers", "cost of goods", "running costs"])
        wide.columns = pd.Index(["supplier_costs", "goods_costs", "running_costs"])
    table = revenue.set_index("currency").join(wide.astype("float64"), how="outer")
    table = table.fillna(0.0).reset_index().rename(columns={"index": "currency"})
    table["costs"] = table[["supplier_costs", "goods_costs", "running_costs"]].sum(axis=1)
    table["net"] = table["revenue"] - table["costs"]
    rev_total, cost_total = float(table["revenue"].sum()), float(table["costs"].sum())
    table["revenue_share"] = table["revenue"] / rev_total if rev_total > 0 else math.nan
    table["cost_share"] = table["costs"] / cost_total if cost_total > 0 else math.nan
    total_net = float(table["net"].sum())
    table["profit_share"] = table["net"] / total_net if total_net > 0 else math.nan
    used = costs.drop_duplicates("amount_currency").set_index("amount_currency")
    table["cost_rate"] = table["currency"].map(used["rate"]).astype("float64")
    table["cost_rate_date"] = table["currency"].map(used["rate_date"])
    table["cost_rate_source"] = table["currency"].map(used["source"])
    table["volatility"] = _volatility(base, table["currency"])
    table["is_base"] = table["currency"].eq(base)
    order = np.lexsort((table["currency"].to_numpy(), -table["net"].abs().to_numpy()))
    cols = [
        "currency", "is_base", "revenue", "costs", "supplier_costs", "goods_costs",
        "running_costs", "net", "revenue_share", "cost_share", "profit_share", "volatility",
        "cost_rate", "cost_rate_date", "cost_rate_source", "unconverted",
    ]  # fmt: skip
    return table.iloc[order].reset_index(drop=True).loc[:, cols], notes
