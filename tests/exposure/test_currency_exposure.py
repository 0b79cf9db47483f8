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
