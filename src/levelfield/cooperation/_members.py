"""Members' purchases read from their own levelfield workspaces.

A member who keeps a levelfield workspace need not fill in a purchases CSV: what it buys
from a supplier follows from its ``products`` (``sku, name, category, unit_cost,
currency, supplier_id``), its ``suppliers`` (``supplier_id, name, annual_spend,
currency``) and the units it sold.

- **Volume** of a product: the units sold in the 365 days up to the member's last order
  (refunds and failed orders left out; a shorter history is scaled to a year and said
  so). **Unit price**: the cost of those units in the member's base currency divided by
  the units, from the workspace's ``order_line_costs`` view (each line's ``unit_cost``
  converted from ``products.currency`` at the rate of its order's date; no currency: the
  base currency). A supplier's yearly spend, which has no date, is converted at today's
  rate (``fx_base_daily``, as ``product_costs``).
- **Matching** a product to a price-break item: the supplier is the price breaks'
  ``supplier`` spelled as the member's supplier name or ``supplier_id``; the item is the
  product's ``sku``, else its ``name``, else its ``category`` (case and surrounding spaces
  ignored; the most specific match wins). Products of one item are summed, at their
  volume-weighted unit cost.
- **Supplier spend** (``suppliers.annual_spend``): used for a supplier none of whose
  price-break items matched one of the member's products with a cost and sales (a cafe
  sells coffee but buys beans: its products rarely name what it buys), and only when the
  price breaks list one item for that supplier; the volume is then the spend divided by
  the price of the highest tier that spend reaches (``spend / p_t >= min_volume_t``).
  The note says the two assumptions: all the spend with that supplier is on that item,
  at list price today.

Every member, supplier and item that could not be matched is named in the notes. All
members must keep their books in one base currency (a buying group compares prices in
one currency).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from levelfield.cooperation._inputs import PURCHASE_COLUMNS, check_price_breaks
from levelfield.errors import DataError, InsufficientDataError
from levelfield.workspace import open_workspace

__all__ = ["MemberPurchases", "resolve_workspaces", "workspace_purchases"]

# Units sold and their cost of goods in the base currency (``order_line_costs``: each
# line's cost converted at its order date's rate); NULL cost when any line has no rate.
_PRODUCTS_SQL = """
WITH span AS (SELECT max(ordered_at) AS last_at FROM order_revenue WHERE NOT is_refund),
sold AS (SELECT l.sku, sum(CAST(l.quantity AS DOUBLE)) AS units,
                CASE WHEN bool_or(l.cost_base IS NULL) THEN NULL ELSE sum(l.cost_base) END
                    AS cost_base
         FROM order_line_costs l CROSS JOIN span
         WHERE NOT l.is_refund AND l.sku IS NOT NULL
           AND l.ordered_at > span.last_at - INTERVAL 365 DAY
         GROUP BY 1)
SELECT p.sku, p.name, p.category, CAST(p.unit_cost AS DOUBLE) AS unit_cost,
       coalesce(upper(nullif(trim(p.currency), '')), $base) AS currency,
       p.supplier_id, s.name AS supplier_name, coalesce(sold.units, 0.0) AS units,
       sold.cost_base / nullif(sold.units, 0) AS unit_cost_base
FROM products p LEFT JOIN suppliers s ON s.supplier_id = p.supplier_id
LEFT JOIN sold ON sold.sku = p.sku
WHERE p.supplier_id IS NOT NULL
"""
_SPAN_SQL = """
SELECT least(365, date_diff('day', min(ordered_at), max(ordered_at)) + 1)
FROM order_revenue WHERE NOT is_refund
"""
# A supplier's yearly spend has no date: today's rate, as ``product_costs`` converts.
_SUPPLIERS_SQL = """
WITH s AS (SELECT supplier_id, name AS supplier_name,
                  CAST(annual_spend AS DOUBLE) AS annual_spend,
                  coalesce(upper(nullif(trim(currency), '')), $base) AS currency
           FROM suppliers WHERE annual_spend > 0)
SELECT s.*, s.annual_spend * CASE WHEN s.currency = $base THEN 1.0 ELSE x.fx_rate END
           AS spend_base
FROM s LEFT JOIN fx_base_daily x ON x.currency = s.currency AND x.day = current_date
"""


@dataclass(frozen=True)
class MemberPurchases:
    """Purchases derived from members' workspaces, ready for :func:`buying_group`.

    ``purchases`` has the columns of the purchases template (``member, supplier, item,
    annual_volume, unit_price``; supplier and item spelled as in the price breaks),
    ``currency`` is the members' base currency, ``sources`` says per row where it came
    from (``products`` or ``supplier spend``), and ``notes`` name what could not be
    matched or was assumed.
    """

    purchases: pd.DataFrame
    currency: str
    sources: pd.DataFrame
    notes: tuple[str, ...]
    workspaces: dict[str, Path]


def resolve_workspaces(paths: list[Path]) -> list[Path]:
    """Workspace files from folders (every ``*.duckdb`` below) and files, deduplicated."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*.duckdb") if q.is_file()))
        elif p.is_file():
            found.append(p)
        else:
            raise DataError(f"{p}: no such workspace file or folder; give members' *.duckdb files")
    out = list(dict.fromkeys(q.resolve() for q in found))
    if len(out) < 2:
        raise InsufficientDataError(
            f"found {len(out)} workspace(s) (*.duckdb) in {', '.join(map(str, paths))}; a "
            "buying group needs at least 2 members"
        )
    return out


def _norm(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.casefold()


def _read_member(path: Path) -> tuple[str, str, pd.DataFrame, pd.DataFrame, float]:
    """Name, base currency, products (cost in base), suppliers (spend in base), span."""
    with open_workspace(path, create=False) as ws:
        rows = ws.con.execute("SELECT value FROM business WHERE key = 'name'").fetchall()
        name = str(json.loads(rows[0][0])) if rows else path.parent.name
        base = ws.currency()
        products = ws.con.execute(_PRODUCTS_SQL, {"base": base}).df()
        suppliers = ws.con.execute(_SUPPLIERS_SQL, {"base": base}).df()
        span = ws.con.execute(_SPAN_SQL).fetchall()[0][0]
    return name, base, products, suppliers, float(span or 0)


def _supplier_keys(frame: pd.DataFrame, breaks: pd.DataFrame) -> pd.DataFrame:
    """``frame`` rows joined to the price breaks' suppliers by supplier name or id."""
    keys = breaks[["supplier"]].drop_duplicates().assign(s_norm=lambda f: _norm(f["supplier"]))
    by = [
        frame.assign(s_norm=_norm(frame[col]), s_rank=rank)
        for rank, col in enumerate(("supplier_name", "supplier_id"))
    ]
    out = pd.concat(by, ignore_index=True).merge(keys, on="s_norm")
    return out.sort_values("s_rank", kind="stable").drop_duplicates(
        [c for c in frame.columns if c not in ("s_norm", "s_rank")] + ["supplier"]
    )


def _match_products(products: pd.DataFrame, breaks: pd.DataFrame) -> pd.DataFrame:
    """Each product's price-break item (sku, else name, else category); NaN when none."""
    items = breaks[["supplier", "item"]].drop_duplicates()
    items = items.assign(i_norm=_norm(items["item"]))
    with_supplier = _supplier_keys(products, breaks)
    long = pd.concat(
        [
            with_supplier.assign(i_norm=_norm(with_supplier[col]), i_rank=rank)
            for rank, col in enumerate(("sku", "name", "category"))
        ],
        ignore_index=True,
    )
    hit = long.merge(items, on=["supplier", "i_norm"]).sort_values("i_rank", kind="stable")
    hit = hit.drop_duplicates(["member", "sku"])[["member", "sku", "supplier", "item"]]
    listed = _norm(breaks["supplier"])
    out = products.merge(hit, on=["member", "sku"], how="left")
    out["from_break_supplier"] = (
        _norm(out["supplier_name"]).isin(listed) | _norm(out["supplier_id"]).isin(listed)
    ).fillna(False)
    return out


def _product_rows(matched: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Purchases from matched products with a cost, a rate and sales."""
    m = matched.loc[matched["item"].notna()]
    no_cost = m.loc[m["unit_cost"].isna()]
    if len(no_cost):
        r = no_cost.iloc[0]
        notes.append(
            f"{len(no_cost)} matched product(s) have no unit_cost and are left out (e.g. "
            f"{r['member']}: {r['sku']}); import products with a unit_cost"
        )
    no_rate = m.loc[m["unit_cost"].notna() & m["unit_cost_base"].isna() & (m["units"] > 0)]
    if len(no_rate):
        r = no_rate.iloc[0]
        notes.append(
            f"{len(no_rate)} product cost(s) in a currency with no rate to the base are left "
            f"out (e.g. {r['member']}: {r['sku']} in {r['currency']}); import fx_rates"
        )
    m = m.loc[m["unit_cost_base"].notna() & (m["annual_units"] > 0)]
    m = m.assign(spend=m["annual_units"] * m["unit_cost_base"])
    out = m.groupby(["member", "supplier", "item"], as_index=False)[["annual_units", "spend"]].sum()
    return out.rename(columns={"annual_units": "annual_volume"}).assign(source="products")


def _spend_rows(
    suppliers: pd.DataFrame, breaks: pd.DataFrame, covered: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    """Purchases from suppliers' yearly spend where no product matched (``covered``:
    member x price-break supplier pairs already read from products), one-item suppliers."""
    s = _supplier_keys(suppliers, breaks)
    s = s.merge(covered[["member", "supplier"]].drop_duplicates(), how="left", indicator=True)
    s = s.loc[(s["_merge"] == "left_only") & s["spend_base"].notna()].drop(columns="_merge")
    counts = breaks.groupby("supplier", as_index=False).agg(items=("item", "nunique"))
    s = s.merge(counts, on="supplier")
    many = s.loc[s["items"] > 1]
    for r in many.itertuples():
        notes.append(
            f"{r.member}: the yearly spend with {r.supplier} ({r.spend_base:,.2f}) cannot be "
            f"split across its {r.items} items in the price breaks; import products with "
            "that supplier_id and a unit_cost, or add purchases rows"
        )
    # The tier the spend itself reaches: the highest tier t whose price buys at least its
    # threshold (spend / p_t >= min_volume_t); the member is taken to pay that tier's price.
    tiers = s.loc[s["items"] == 1].merge(breaks, on="supplier")
    tiers = tiers.assign(annual_volume=tiers["spend_base"] / tiers["unit_price"])
    tiers = tiers.loc[tiers["annual_volume"] >= tiers["min_volume"]]
    one = tiers.sort_values("min_volume").drop_duplicates(["member", "supplier"], keep="last")
    for r in one.itertuples():
        notes.append(
            f"{r.member}: {r.item} ({r.supplier}) taken from the supplier's yearly spend "
            f"({r.spend_base:,.2f}) at {r.unit_price:,.2f} each (the price breaks' tier that "
            f"spend reaches), i.e. {r.annual_volume:,.0f} a year, assuming all that spend is "
            "on this item at list price"
        )
    return (
        one.loc[:, ["member", "supplier", "item", "annual_volume", "spend_base"]]
        .rename(columns={"spend_base": "spend"})
        .assign(source="supplier spend")
    )


def _coverage_notes(
    matched: pd.DataFrame, rows: pd.DataFrame, breaks: pd.DataFrame, names: list[str]
) -> list[str]:
    """Members and items nothing could be found for; products of listed suppliers unmatched."""
    notes = []
    missing = [n for n in names if n not in set(rows["member"])]
    if missing:
        notes.append(
            f"no purchase matched the price breaks for {', '.join(missing)}: their workspaces "
            "have no product of a listed supplier and item (supplier name or id; sku, name "
            "or category) with sales in the last 12 months, nor a usable supplier spend"
        )
    items = breaks[["supplier", "item"]].drop_duplicates()
    unused = items.merge(rows[["supplier", "item"]].drop_duplicates(), how="left", indicator=True)
    unused = unused.loc[unused["_merge"] == "left_only"]
    if len(unused):
        listed = "; ".join(f"{r.item} ({r.supplier})" for r in unused.head(5).itertuples())
        notes.append(f"no member's workspace buys {len(unused)} price-break item(s): {listed}")
    loose = matched.loc[matched["item"].isna() & matched["from_break_supplier"]]
    for member, grp in loose.groupby("member", sort=True):
        notes.append(
            f"{member}: {len(grp)} product(s) from a listed supplier match no price-break "
            f"item (e.g. {grp['sku'].iloc[0]!s}, {grp['name'].iloc[0]!s}); name the item "
            "as its sku, product name or category in the price breaks"
        )
    return notes


def workspace_purchases(paths: list[Path], price_breaks: pd.DataFrame) -> MemberPurchases:
    """Members' purchases of the price-break items, read from their workspaces.

    ``paths`` are workspace files or folders holding them (see module notes for the rules).
    Raises :class:`~levelfield.errors.DataError` when members keep different base
    currencies and :class:`~levelfield.errors.InsufficientDataError` when fewer than two
    members buy anything the price breaks list.
    """
    breaks = check_price_breaks(price_breaks)
    files = resolve_workspaces(paths)
    read = [_read_member(p) for p in files]
    names = [r[0] for r in read]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"several workspaces are named {dup[0]!r}; name each member once")
    bases = pd.Series([r[1] for r in read], index=names)
    if bases.nunique() > 1:
        by = "; ".join(f"{c}: {', '.join(g.index)}" for c, g in bases.groupby(bases))
        raise DataError(
            f"members keep their books in different base currencies ({by}); a buying group "
            "compares prices in one currency: set business.currency the same for all, or "
            "use a purchases CSV in one currency"
        )
    notes: list[str] = []
    short = [(r[0], r[4]) for r in read if 0 < r[4] < 365]
    for name, days in short:
        notes.append(f"{name}'s orders cover {days:.0f} days; its volumes are scaled to a year")
    products = pd.concat(
        [
            r[2].assign(member=r[0], annual_units=r[2]["units"] * (365 / r[4] if r[4] else 0))
            for r in read
        ],
        ignore_index=True,
    )
    suppliers = pd.concat([r[3].assign(member=r[0]) for r in read], ignore_index=True)
    matched = _match_products(products, breaks)
    rows = _product_rows(matched, notes)
    rows = pd.concat([rows, _spend_rows(suppliers, breaks, rows, notes)], ignore_index=True)
    notes.extend(_coverage_notes(matched, rows, breaks, names))
    if rows["member"].nunique() < 2:
        raise InsufficientDataError(
            "fewer than 2 members buy anything the price breaks list: " + "; ".join(notes)
        )
    rows = rows.sort_values(["member", "supplier", "item"], kind="stable", ignore_index=True)
    price = np.divide(
        rows["spend"].to_numpy(float),
        rows["annual_volume"].to_numpy(float),
    )
    purchases = rows.assign(unit_price=price).loc[:, list(PURCHASE_COLUMNS)]
    return MemberPurchases(
        purchases=purchases,
        currency=str(bases.iloc[0]),
        sources=rows.loc[:, ["member", "supplier", "item", "source"]],
        notes=tuple(notes),
        workspaces=dict(zip(names, files, strict=True)),
    )
