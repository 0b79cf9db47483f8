"""Buying group from members' own workspaces (products x units sold, supplier spend)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield.cli import app
from levelfield.cooperation import BUYING_RUN, buying_group, read_price_breaks
from levelfield.cooperation import _cli as coop_cli
from levelfield.cooperation._members import resolve_workspaces, workspace_purchases
from levelfield.errors import DataError, InsufficientDataError
from levelfield.ingest import import_file
from levelfield.workspace import open_workspace

runner = CliRunner()

BREAKS = """supplier,item,min_volume,unit_price
Nordic Roast Supply,coffee,0,12.00
Nordic Roast Supply,coffee,400,9.00
Nordic Roast Supply,decaf,0,14.00
PackRight,CUP-12,0,0.06
PackRight,CUP-12,5000,0.04
Dairy Alt,oat milk case,0,26.00
Dairy Alt,oat milk case,120,21.00
Mill & Co,rye flour,0,19.00
"""


def _orders(prefix: str, lines: list[tuple[str, str, int, str]], currency: str) -> pd.DataFrame:
    """One line per order: (date, sku, quantity, status)."""
    return pd.DataFrame(
        {
            "order_id": [f"{prefix}-{i}" for i in range(len(lines))],
            "ordered_at": [d for d, *_ in lines],
            "email": [f"c{i}@example.org" for i in range(len(lines))],
            "currency": currency,
            "status": [s for *_, s in lines],
            "sku": [k for _, k, _, _ in lines],
            "product": [k for _, k, _, _ in lines],
            "quantity": [q for _, _, q, _ in lines],
            "unit_price": 20.0,
        }
    )


def _member(
    directory: Path,
    name: str,
    currency: str,
    products: list[tuple[str, str, str, float | None, str, str]],
    suppliers: list[tuple[str, str, float | None]],
    lines: list[tuple[str, str, int, str]],
) -> Path:
    """A workspace built through ingest. products: (sku, name, category, unit_cost,
    currency, supplier_id); suppliers: (supplier_id, name, annual_spend)."""
    folder = directory / name.lower().replace(" ", "-")
    folder.mkdir(parents=True)
    files = {
        "business": pd.DataFrame(
            [("name", name), ("currency", currency)], columns=["key", "value"]
        ),
        "products": pd.DataFrame(
            products, columns=["sku", "name", "category", "unit_cost", "currency", "supplier_id"]
        ),
        "suppliers": pd.DataFrame(
            [(i, n, s, currency) for i, n, s in suppliers],
            columns=["supplier_id", "name", "annual_spend", "currency"],
        ),
        "orders": _orders(name[:3].upper(), lines, currency),
    }
    path = folder / "levelfield.duckdb"
    with open_workspace(path) as ws:
        for kind, frame in files.items():
            f = folder / f"{kind}.csv"
            frame.to_csv(f, index=False)
            import_file(ws, kind, f)
    return path


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("members")
    # Alpha: coffee by category (300 units in the last year; 100 older and 50 cancelled
    # are left out), cups by sku costed in EUR, a tea with no price break.
    _member(
        d,
        "Alpha Cafe",
        "USD",
        [
            ("A-1", "house blend", "coffee", 10.0, "USD", "SUP-N"),
            ("CUP-12", "cups", "packaging", 0.05, "EUR", "SUP-P"),
            ("A-3", "green tea", "tea", 4.0, "USD", "SUP-N"),
        ],
        [("SUP-N", "Nordic Roast Supply", None), ("SUP-P", "PackRight", None)],
        [
            ("2024-01-10", "A-1", 100, "paid"),
            ("2025-02-01", "A-1", 120, "paid"),
            ("2025-06-01", "A-1", 180, "paid"),
            ("2025-07-01", "A-1", 50, "cancelled"),
            ("2025-03-03", "CUP-12", 3000, "paid"),
            ("2025-12-31", "A-3", 10, "paid"),
        ],
    )
    # Beta: coffee by product name, supplier named in another case; oat milk from the
    # supplier's yearly spend (no products of that supplier); flour matches no item.
    _member(
        d,
        "Beta Bakery",
        "USD",
        [
            ("B-1", "Coffee", "drinks", 11.0, "", "nordic"),
            ("B-2", "bread flour", "flour", 0.8, "USD", "mill"),
        ],
        [("nordic", "NORDIC ROAST SUPPLY ", None), ("mill", "Mill & Co", 5000.0),
         ("dairy", "Dairy Alt", 2600.0)],
        [("2025-01-05", "B-1", 150, "paid"), ("2025-12-20", "B-2", 400, "paid")],
    )  # fmt: skip
    return d


def test_purchases_come_from_units_sold_times_unit_cost(members: Path) -> None:
    from currency_converter import CurrencyConverter

    got = workspace_purchases([members], pd.read_csv(pd.io.common.StringIO(BREAKS), dtype=str))
    p = got.purchases.set_index(["member", "supplier", "item"])
    assert got.currency == "USD"
    alpha_coffee = p.loc[("Alpha Cafe", "Nordic Roast Supply", "coffee")]
    # 2024-01-10 is more than 365 days before the last order (2025-12-31); cancelled out.
    assert alpha_coffee["annual_volume"] == pytest.approx(300.0)
    assert alpha_coffee["unit_price"] == pytest.approx(10.0)
    beta_coffee = p.loc[("Beta Bakery", "Nordic Roast Supply", "coffee")]
    assert beta_coffee["annual_volume"] == pytest.approx(150.0 * 365 / 350)  # 350 days of orders
    assert beta_coffee["unit_price"] == pytest.approx(11.0)
    # The EUR cup cost at the ECB rate of the order's date, computed by currencyconverter.
    cc = CurrencyConverter()
    cups = p.loc[("Alpha Cafe", "PackRight", "CUP-12")]
    day = dt.date(2025, 3, 3)
    assert cups["unit_price"] == pytest.approx(cc.convert(0.05, "EUR", "USD", date=day), rel=1e-9)
    assert cups["annual_volume"] == pytest.approx(3000.0)
    # 2,600 buys 100 cases at 26.00 (below the 120 tier) but 123.8 at 21.00 (above it):
    # the member is taken to pay the tier its spend reaches.
    oat = p.loc[("Beta Bakery", "Dairy Alt", "oat milk case")]
    assert oat["annual_volume"] == pytest.approx(2600.0 / 21.0) and oat["unit_price"] == 21.0
    rye = p.loc[("Beta Bakery", "Mill & Co", "rye flour")]
    assert rye["annual_volume"] == pytest.approx(5000.0 / 19.0)
    assert len(p) == 5
    sources = got.sources.set_index(["member", "item"])["source"]
    assert sources[("Beta Bakery", "oat milk case")] == "supplier spend"
    assert sources[("Alpha Cafe", "coffee")] == "products"
    notes = " | ".join(got.notes)
    assert "Beta Bakery's orders cover 350 days" in notes
    assert "taken from the supplier's yearly spend (2,600.00)" in notes
    assert "no member's workspace buys 1 price-break item(s): decaf (Nordic Roast Supply)" in notes
    assert "Alpha Cafe: 1 product(s) from a listed supplier match no price-break item" in notes
    assert "Beta Bakery: 1 product(s) from a listed supplier match no price-break item" in notes
    # Beta's flour product matches no item of Mill & Co, so its yearly spend there is read
    # as the one item Mill & Co lists, with both assumptions said.
    assert "rye flour (Mill & Co) taken from the supplier's yearly spend (5,000.00) at 19.00" in (
        notes
    )
    assert "assuming all that spend is on this item at list price" in notes


def test_derived_purchases_feed_the_buying_group(members: Path) -> None:
    breaks = pd.read_csv(pd.io.common.StringIO(BREAKS), dtype=str)
    got = workspace_purchases([members], breaks)
    result = buying_group(got.purchases, breaks)
    items = result.items.set_index("item")
    pooled = 300.0 + 150.0 * 365 / 350
    assert items.loc["coffee", "pooled_volume"] == pytest.approx(pooled)
    assert items.loc["coffee", "tier"] == 2  # 456 >= 400: 9.00 each
    today = 300 * 10.0 + 150.0 * 365 / 350 * 11.0
    assert items.loc["coffee", "saving"] == pytest.approx(today - pooled * 9.0)
    assert result.total_saving == pytest.approx(float(result.members["shapley"].sum()))


def test_a_member_without_matches_and_mixed_currencies_are_named(
    members: Path, tmp_path: Path
) -> None:
    breaks = pd.read_csv(pd.io.common.StringIO(BREAKS), dtype=str)
    lone = _member(
        tmp_path,
        "Gamma Books",
        "USD",
        [("G-1", "novels", "books", 6.0, "USD", "gb")],
        [("gb", "Gardners Books", 9000.0)],
        [("2025-05-05", "G-1", 40, "paid")],
    )
    files = [*resolve_workspaces([members]), lone]
    got = workspace_purchases(files, breaks)
    assert "no purchase matched the price breaks for Gamma Books" in " ".join(got.notes)
    with pytest.raises(InsufficientDataError, match="fewer than 2 members"):
        workspace_purchases([files[0], lone], breaks.loc[breaks["supplier"] == "PackRight"])
    euro = _member(
        tmp_path,
        "Delta Deli",
        "EUR",
        [("D-1", "coffee", "coffee", 9.0, "EUR", "n")],
        [("n", "Nordic Roast Supply", None)],
        [("2025-05-05", "D-1", 40, "paid")],
    )
    with pytest.raises(DataError, match=r"different base currencies \(EUR: Delta Deli; USD"):
        workspace_purchases([members, euro], breaks)
    with pytest.raises(DataError, match="no such workspace file or folder"):
        workspace_purchases([tmp_path / "missing"], breaks)
    with pytest.raises(InsufficientDataError, match="at least 2 members"):
        resolve_workspaces([lone])


def test_cli_buying_group_from_workspaces(
    members: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coop_cli, "console", Console(width=200))
    b = tmp_path / "price_breaks.csv"
    b.write_text(BREAKS)
    out = runner.invoke(
        app, ["cooperate", "buying-group", "--price-breaks", str(b), "--workspaces", str(members)]
    )
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "Purchases read from 2 members' workspaces, in USD: 5 member x item row(s)" in text
    assert "Together you reach tier 2 for coffee (Nordic Roast Supply)" in text
    assert "Note: no member's workspace buys 1 price-break item(s)" in text
    assert "Stored each member's share in 2 workspace(s)." in text
    with open_workspace(resolve_workspaces([members])[0], create=False) as ws:
        runs = ws.con.execute(
            "SELECT count(*) FROM runs WHERE analysis = ?", [BUYING_RUN]
        ).fetchall()
    assert runs[0][0] >= 1
    out = runner.invoke(app, ["cooperate", "buying-group", "--price-breaks", str(b)])
    assert out.exit_code == 1 and "ConfigError" in out.output
    assert "--workspaces" in out.output and "Traceback" not in out.output
    assert np.isfinite(read_price_breaks(b)["min_volume"].astype(float)).all()
