"""Cost of goods in the base currency (issue 25): one converted view, every margin from it.

The oracle is the ``currencyconverter`` package used directly (not levelfield): each
line's value converted from the order's currency and each product's unit cost from the
product's currency into the base at the ECB rate of the order's date (the last rate
published on or before a weekend, ``fallback_on_missing_rate_method="last_known"``).
Products are costed in EUR and GBP (and one without a currency: the base), orders are in
USD and GBP, the base is USD; every analysis's gross margin must equal the oracle's.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest
from currency_converter import CurrencyConverter

from levelfield.ingest import import_file
from levelfield.workspace import Workspace, cost_statement

PRODUCTS = {  # sku: (unit_cost, currency or "" for none)
    "MUG": (4.10, "EUR"),
    "POT": (8.00, "EUR"),
    "TEA": (3.00, "GBP"),
    "BAG": (2.50, ""),
}
# order_id, date, currency, [(sku, quantity, unit_price)]; 2024-06-08 is a Saturday.
ORDERS = [
    ("O1", "2024-01-15", "USD", [("MUG", 2, 14.50), ("TEA", 1, 9.00)]),
    ("O2", "2024-03-04", "GBP", [("POT", 1, 30.00), ("BAG", 3, 6.00)]),
    ("O3", "2024-06-08", "USD", [("MUG", 1, 15.00), ("POT", 2, 35.00)]),
    ("O4", "2024-08-21", "GBP", [("TEA", 4, 7.50), ("MUG", 1, 12.00)]),
    ("O5", "2024-10-02", "USD", [("BAG", 5, 5.50), ("TEA", 2, 9.50)]),
    ("O6", "2024-11-29", "GBP", [("POT", 1, 28.00), ("MUG", 3, 11.50)]),
]
BASE = "USD"


@pytest.fixture(scope="module")
def ecb() -> CurrencyConverter:
    return CurrencyConverter(
        fallback_on_missing_rate=True,
        fallback_on_missing_rate_method="last_known",
        fallback_on_wrong_date=True,
    )


def _oracle(ecb: CurrencyConverter) -> dict[str, float]:
    """Value and cost of goods in USD, per line in Python, and the cost per currency."""
    out = {"value": 0.0, "cost": 0.0, "cost_EUR": 0.0, "cost_GBP": 0.0, "cost_USD": 0.0}
    for _, day, cur, lines in ORDERS:
        d = dt.date.fromisoformat(day)
        for sku, q, price in lines:
            value = q * price
            out["value"] += value if cur == BASE else ecb.convert(value, cur, BASE, d)
            unit, ccur = PRODUCTS[sku]
            ccur = ccur or BASE
            cost = q * unit if ccur == BASE else ecb.convert(q * unit, ccur, BASE, d)
            out["cost"] += cost
            out[f"cost_{ccur}"] += cost
    return out


@pytest.fixture
def costed(ws: Workspace, tmp_path: Path) -> Workspace:
    ws.con.execute("INSERT INTO business VALUES ('currency', to_json(?), 0)", [BASE])
    prod = tmp_path / "products.csv"
    prod.write_text(
        "sku,name,unit_cost,currency\n"
        + "".join(f"{s},{s.title()},{c:.2f},{cur}\n" for s, (c, cur) in PRODUCTS.items())
    )
    import_file(ws, "products", prod)
    orders = tmp_path / "orders.csv"
    rows = [
        f"{oid},{day} 12:00:00,C{i % 3},{cur},paid,{sku},{q},{price:.2f}"
        for i, (oid, day, cur, lines) in enumerate(ORDERS)
        for sku, q, price in lines
    ]
    orders.write_text(
        "order_id,ordered_at,customer_id,currency,status,sku,quantity,unit_price\n"
        + "\n".join(rows)
        + "\n"
    )
    import_file(ws, "orders", orders)
    return ws


def test_order_line_costs_equal_the_converter_line_by_line(
    costed: Workspace, ecb: CurrencyConverter
) -> None:
    want = _oracle(ecb)
    got = costed.con.execute(
        "SELECT sum(line_value_base), sum(cost_base), count(*) FILTER (WHERE cost_base IS NULL),"
        " sum(cost_base) FILTER (WHERE cost_currency = 'EUR'),"
        " sum(cost_base) FILTER (WHERE cost_currency = 'GBP'),"
        " sum(cost_base) FILTER (WHERE cost_currency = 'USD') FROM order_line_costs"
    ).fetchall()[0]
    assert got[0] == pytest.approx(want["value"], rel=1e-9)
    assert got[1] == pytest.approx(want["cost"], rel=1e-9)
    assert got[2] == 0
    assert got[3:] == pytest.approx([want["cost_EUR"], want["cost_GBP"], want["cost_USD"]])
    # Saturday's order: the EUR cost uses Friday's rate, as the order's revenue does.
    sat = costed.con.execute(
        "SELECT cost_fx_rate, cost_fx_source FROM order_line_costs "
        "WHERE order_id LIKE '%O3' AND sku = 'POT'"
    ).fetchall()
    assert sat == [(pytest.approx(ecb.convert(1.0, "EUR", BASE, dt.date(2024, 6, 7))), "ecb")]
    # The product without a currency is costed in the base currency.
    bag = costed.con.execute(
        "SELECT DISTINCT cost_currency, cost_fx_source FROM order_line_costs WHERE sku = 'BAG'"
    ).fetchall()
    assert bag == [("USD", "same")]
    text = cost_statement(costed.con)
    assert text.startswith("cost of goods: EUR and GBP product costs converted to USD")


def test_every_margin_equals_the_independent_figure(
    costed: Workspace, ecb: CurrencyConverter
) -> None:
    from levelfield import exposure
    from levelfield.advice._facts import business_facts
    from levelfield.customers._analyze import _margin
    from levelfield.financing._analysis import _variable_share
    from levelfield.report import key_numbers
    from levelfield.scenarios._model import _cost_of_goods

    want = _oracle(ecb)
    margin = 1.0 - want["cost"] / want["value"]
    assert business_facts(costed).gross_margin == pytest.approx(margin, abs=1e-6)
    gm = next(k for k in key_numbers(costed) if k.key == "gross_margin")
    assert gm.value == pytest.approx(margin, abs=1e-9)
    assert "EUR and GBP product costs converted to USD" in gm.note
    assert _margin(costed.con)[0] == pytest.approx(margin, abs=1e-9)
    assert _variable_share(costed)[0] == pytest.approx(1.0 - margin, abs=1e-9)
    ratio, *_ = _cost_of_goods(costed, [])
    assert ratio == pytest.approx(1.0 - margin, abs=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = exposure.analyze(costed)
    assert result.metrics["gross_margin_rate"] == pytest.approx(margin, abs=1e-9)
    cur = result.tables()["currencies"].set_index("currency")
    goods = cur["goods_costs"]
    assert goods["EUR"] / goods["GBP"] == pytest.approx(want["cost_EUR"] / want["cost_GBP"])


def test_product_costs_use_the_latest_rate_and_say_so(
    costed: Workspace, ecb: CurrencyConverter
) -> None:
    rows = {
        r[0]: r[1:]
        for r in costed.con.execute(
            "SELECT sku, unit_cost_base, fx_source FROM product_costs"
        ).fetchall()
    }
    last = ecb.bounds["GBP"].last_date
    assert rows["MUG"][0] == pytest.approx(ecb.convert(4.10, "EUR", BASE, last))
    assert rows["MUG"][1] == "ecb_after_last"  # today is after the package's last rate
    assert rows["BAG"] == (pytest.approx(2.50), "same")


def test_a_cost_without_a_rate_is_left_out_and_said(costed: Workspace, tmp_path: Path) -> None:
    # The ECB publishes no Argentine peso: that product's cost cannot be converted.
    prod = tmp_path / "more.csv"
    prod.write_text("sku,name,unit_cost,currency\nMUG,Mug,900.00,ARS\n")
    import_file(costed, "products", prod)
    got = costed.con.execute(
        "SELECT DISTINCT cost_fx_source, cost_base IS NULL FROM order_line_costs WHERE sku = 'MUG'"
    ).fetchall()
    assert got == [("missing", True)]
    text = cost_statement(costed.con)
    assert "4 lines whose cost has no rate to USD are left out" in text
