"""The export writers produce the platforms' documented layouts."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from levelfield.demo import simulate
from levelfield.demo._exports import (
    AMAZON_COLUMNS,
    ETSY_ITEM_COLUMNS,
    ETSY_ORDER_COLUMNS,
    SHOPIFY_COLUMNS,
    WHOLESALE_COLUMNS,
    make_people,
    money,
    write_amazon,
    write_etsy,
    write_shopify,
    write_wholesale,
)
from levelfield.demo._tables import write_competitors

SHOPIFY_HEAD = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price"
)


def _write_all(seed: int, out: Path) -> list[Path]:
    sim = simulate(seed, 300)
    people = make_people(seed, sim.n_customers, sim.cust_city)
    write_shopify(sim, people, out / "orders_export_1.csv")
    write_etsy(sim, people, out)
    write_amazon(sim, out / "amazon.txt")
    write_wholesale(sim, out / "wholesale.csv")
    write_competitors(seed, out / "competitors.csv")
    return sorted(out.iterdir())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exports")
    return {p.name: p for p in _write_all(5, out)}


def _rows(path: Path, sep: str = ",") -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=sep))


def _header(path: Path, sep: str = ",") -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh, delimiter=sep))


def test_money_formats_two_decimals() -> None:
    assert list(money(np.array([0.0, 1.5, 1234.005, -33.62, 0.004]))) == [
        "0.00", "1.50", "1234.01", "-33.62", "0.00",
    ]  # fmt: skip


def test_shopify_has_79_documented_columns_in_order(files: dict[str, Path]) -> None:
    header = _header(files["orders_export_1.csv"])
    assert len(header) == 79
    assert tuple(header) == SHOPIFY_COLUMNS
    assert ",".join(header).startswith(SHOPIFY_HEAD)
    assert header[-1] == "Payment References"
    assert not files["orders_export_1.csv"].read_bytes().startswith(b"\xef\xbb\xbf")


def test_shopify_rows_follow_the_export_rules(files: dict[str, Path]) -> None:
    rows = _rows(files["orders_export_1.csv"])
    names = [r["Name"] for r in rows]
    assert all(re.fullmatch(r"#\d{4,}", n) for n in names)
    stamp = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} -0[45]00")
    assert all(stamp.fullmatch(r["Created at"]) for r in rows)
    offsets = {r["Created at"][-5:] for r in rows}
    assert offsets == {"-0500", "-0400"}  # daylight saving inside one file
    # EST in January, EDT in July
    assert all(r["Created at"].endswith("-0500") for r in rows if r["Created at"][5:7] == "01")
    assert all(r["Created at"].endswith("-0400") for r in rows if r["Created at"][5:7] == "07")
    seen: set[str] = set()
    for r in rows:
        if r["Name"] in seen:  # continuation row: order-level fields blank
            assert (
                r["Total"] == r["Subtotal"] == r["Financial Status"] == r["Refunded Amount"] == ""
            )
            assert r["Lineitem quantity"] and r["Lineitem price"]
        else:
            assert r["Total"] and r["Financial Status"] in {
                "paid",
                "refunded",
                "partially_refunded",
            }
            total = float(r["Subtotal"]) + float(r["Shipping"]) + float(r["Taxes"])
            assert float(r["Total"]) == pytest.approx(total, abs=0.011)
        seen.add(r["Name"])
    statuses = {r["Financial Status"] for r in rows}
    assert {"paid"} <= statuses
    firsts = [r for r in rows if r["Financial Status"]]
    assert any(r["Email"] == "" for r in firsts)  # guest checkouts
    emails = [r["Email"] for r in firsts if r["Email"]]
    assert all(re.fullmatch(r"[^@\s]+@[a-z.]+\.[a-z]+", e, re.IGNORECASE) for e in emails)
    # newest order first
    numbers = [int(r["Name"][1:]) for r in firsts]
    assert numbers == sorted(numbers, reverse=True)


def test_shopify_discount_lines_keep_the_posted_price(tmp_path: Path) -> None:
    sim = simulate(7, 3_000)
    people = make_people(7, sim.n_customers, sim.cust_city)
    path = tmp_path / "o.csv"
    write_shopify(sim, people, path)
    rows = _rows(path)
    discounted = [r for r in rows if float(r["Lineitem discount"]) > 0]
    assert discounted, "promotions should leave discounted lines"
    codes = {r["Discount Code"] for r in rows if r["Discount Code"]}
    assert codes <= {"GUJI15", "KETTLE20", "PRESS25", "DECAF10"}
    for r in discounted:
        sku_prices = {
            float(x["Lineitem price"]) for x in rows if x["Lineitem sku"] == r["Lineitem sku"]
        }
        assert float(r["Lineitem price"]) in sku_prices
    refunded = [r for r in rows if r["Financial Status"] in ("refunded", "partially_refunded")]
    assert {r["Financial Status"] for r in refunded} == {"refunded", "partially_refunded"}
    for r in refunded:
        assert 0 < float(r["Refunded Amount"]) <= float(r["Total"]) + 1e-9


def test_etsy_files_have_documented_columns(files: dict[str, Path]) -> None:
    orders = sorted(p for n, p in files.items() if n.startswith("EtsySoldOrders2"))
    items = sorted(p for n, p in files.items() if n.startswith("EtsySoldOrderItems"))
    assert [p.name for p in orders] == [
        "EtsySoldOrders2023.csv",
        "EtsySoldOrders2024.csv",
        "EtsySoldOrders2025.csv",
    ]
    assert len(items) == 3
    for p in orders:
        assert tuple(_header(p)) == ETSY_ORDER_COLUMNS and len(ETSY_ORDER_COLUMNS) == 36
        for r in _rows(p):
            assert re.fullmatch(r"\d{2}/\d{2}/\d{2}", r["Sale Date"])
            net = float(r["Order Value"]) - float(r["Discount Amount"]) + float(r["Shipping"])
            net += float(r["Sales Tax"]) - float(r["Card Processing Fees"])
            assert float(r["Order Net"]) == pytest.approx(net, abs=0.011)
            assert r["Buyer User ID"].isdigit()
    for p in items:
        assert tuple(_header(p)) == ETSY_ITEM_COLUMNS and len(ETSY_ITEM_COLUMNS) == 33
        for r in _rows(p):
            assert float(r["Item Total"]) == pytest.approx(
                int(r["Quantity"]) * float(r["Price"]), abs=0.011
            )


def test_amazon_report_is_tab_separated_with_line_totals(files: dict[str, Path]) -> None:
    path = files["amazon.txt"]
    assert tuple(_header(path, "\t")) == AMAZON_COLUMNS and len(AMAZON_COLUMNS) == 32
    rows = _rows(path, "\t")
    assert rows
    iso = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00")
    multi = [r for r in rows if int(r["quantity"]) > 1]
    assert multi, "some lines should carry several units"
    prices = {}
    for r in rows:
        assert iso.fullmatch(r["purchase-date"])
        assert re.fullmatch(r"\d{3}-\d{7}-\d{7}", r["amazon-order-id"])
        prices.setdefault(
            (r["sku"], r["purchase-date"][:10]), float(r["item-price"]) / int(r["quantity"])
        )
    # item-price is the line total: per-unit value is a posted price (.00 or .50 steps)
    unit = np.array(list(prices.values()))
    assert np.allclose(np.round(unit * 2) / 2, unit, atol=0.01)


def test_wholesale_sheet_and_competitors(files: dict[str, Path]) -> None:
    assert tuple(_header(files["wholesale.csv"])) == WHOLESALE_COLUMNS
    rows = _rows(files["wholesale.csv"])
    assert len({r["Customer"] for r in rows}) >= 30
    for r in rows:
        assert float(r["Line Total"]) == pytest.approx(
            int(r["Qty"]) * float(r["Unit Price"]), abs=0.011
        )
    with files["competitors.csv"].open(newline="", encoding="utf-8") as fh:
        comp = list(csv.reader(fh))
    header, types, body = comp[0], comp[1], comp[2:]
    assert header[:6] == ["name", "self", "description", "market_share", "snapshot_date", "source"]
    assert types[0] == "#type" and "ordinal(budget<mid<premium)" in types and "set" in types
    assert len(body) >= 21
    assert sum(r[1] == "yes" for r in body) == 1


def test_same_seed_writes_identical_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = _write_all(11, tmp_path / "a")
    b = _write_all(11, tmp_path / "b")
    c = _write_all(12, tmp_path / "c")
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    differs = [pa.name for pa, pc in zip(a, c, strict=True) if pa.read_bytes() != pc.read_bytes()]
    assert "orders_export_1.csv" in differs and "amazon.txt" in differs
