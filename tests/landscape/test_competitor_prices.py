"""Competitor prices over time: import with dated snapshots, positioning, trend, moves,
the demo's planted price move, and pricing's competitor ceiling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from levelfield import landscape, open_workspace, pricing
from levelfield.errors import ConfigError, RejectThresholdError
from levelfield.ingest import import_file, template_csv
from levelfield.landscape import price_positioning


def _write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_template_and_import_keep_dated_snapshots(ws: Any, tmp_path: Path) -> None:
    header = template_csv("competitor_prices").splitlines()[0]
    assert header == "competitor,item,price,currency,date,source"
    first = _write(
        tmp_path / "march.csv",
        "competitor,product,price,currency,date,source\n"
        "Northside,BEAN-1,15.90,EUR,2024-03-01,web\n"
        "Northside,BEAN-1,16.90,EUR,2024-03-01,web (later the same day)\n"
        "Southside,beans,12.00,EUR,2024-03-01,flyer",
    )
    s = import_file(ws, "competitor_prices", first)
    assert s.rows_loaded == 3 and s.rows_rejected == 0
    second = _write(
        tmp_path / "april.csv",
        "competitor,item,price,currency,date,source\nNorthside,BEAN-1,17.50,EUR,2024-04-01,web",
    )
    import_file(ws, "competitor_prices", second)
    rows = ws.con.execute(
        'SELECT competitor, item, CAST(price AS DOUBLE), "date" FROM competitor_prices '
        'ORDER BY competitor, "date"'
    ).fetchall()
    # the later row of one rival, item and date replaces the earlier; other dates stay
    assert [(r[0], r[1], r[2], str(r[3])) for r in rows] == [
        ("Northside", "BEAN-1", 16.90, "2024-03-01"),
        ("Northside", "BEAN-1", 17.50, "2024-04-01"),
        ("Southside", "beans", 12.00, "2024-03-01"),
    ]


def test_bad_rows_are_rejected_naming_file_row_and_column(ws: Any, tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "rivals.csv",
        "competitor,item,price,currency,date,source\n"
        "Northside,BEAN-1,15.90,EUR,2024-03-01,web\n"
        "Northside,BEAN-1,abc,EUR,2024-04-01,web\n"
        "Northside,BEAN-1,-3,EUR,2024-05-01,web\n"
        "Northside,BEAN-1,16.90,EUR,2024-13-01,web",
    )
    with pytest.raises(RejectThresholdError) as err:
        import_file(ws, "competitor_prices", bad)
    text = str(err.value)
    assert 'rivals.csv row 3, column "price": "abc" is not a number' in text
    assert "nothing was imported" in text
    assert ws.con.execute("SELECT count(*) FROM competitor_prices").fetchall()[0][0] == 0
    import_file(ws, "competitor_prices", bad, max_reject_rate=1.0)
    rejects = ws.con.execute('SELECT row_number, "column" FROM rejects ORDER BY 1').fetchall()
    assert rejects == [(3, "price"), (4, "price"), (5, "date")]


def _shop(ws: Any, tmp_path: Path) -> None:
    """Three products sold at 10, 20 and 40 (list prices), one month of orders."""
    orders = ["order_id,ordered_at,customer_id,sku,product,category,quantity,unit_price"]
    for i, (sku, price) in enumerate([("A", 10.0), ("B", 20.0), ("C", 40.0)] * 4):
        orders.append(f"{i},2024-05-{1 + i:02d},c{i % 3},{sku},{sku} item,beans,1,{price}")
    import_file(ws, "orders", _write(tmp_path / "orders.csv", "\n".join(orders)), currency="EUR")


def test_positioning_matches_a_hand_computation(ws: Any, tmp_path: Path) -> None:
    _shop(ws, tmp_path)
    rivals = _write(
        tmp_path / "rivals.csv",
        "competitor,item,price,currency,date\n"
        "R1,A,8,EUR,2024-05-10\nR2,A,12,EUR,2024-05-12\nR3,A,10,EUR,2024-05-15\n"
        "R1,B,25,EUR,2024-05-10\n"
        "R1,beans,30,EUR,2024-05-10\n"  # category: prices C (A and B have R1's own price)
        "R2,USD-ONLY,99,USD,2024-05-10",
    )
    import_file(ws, "competitor_prices", rivals)
    pp = price_positioning(ws.con, ws.currency())
    assert pp is not None
    got = pp.products.set_index("sku")
    # A: rivals 8, 10, 12 -> median 10, index 1.0; one cheaper, one tie: (1 + 0.5) / 3
    assert got.loc["A", "rival_median"] == 10 and got.loc["A", "price_index"] == 1.0
    assert got.loc["A", "percentile"] == pytest.approx(50.0)
    assert got.loc["B", "price_index"] == pytest.approx(20 / 25)
    assert got.loc["B", "percentile"] == 0.0
    assert got.loc["C", "price_index"] == pytest.approx(40 / 30)
    assert got.loc["C", "percentile"] == 100.0
    assert pp.price_index == pytest.approx(1.0)  # median of 1.0, 0.8, 1.33
    assert any("not in EUR" in n for n in pp.notes)
    assert pp.moves.empty


def test_moves_over_the_threshold_become_findings(ws: Any, tmp_path: Path) -> None:
    _shop(ws, tmp_path)
    rows = ["competitor,item,price,date"]
    for m, (a, b) in enumerate([(10, 20), (10.5, 20), (10.4, 20), (12.0, 17.0)], start=1):
        rows += [f"R1,A,{a},2024-0{m}-01", f"R2,B,{b},2024-0{m}-01"]
    import_file(ws, "competitor_prices", _write(tmp_path / "r.csv", "\n".join(rows)))
    pp = price_positioning(ws.con, ws.currency())
    assert pp is not None
    # the shop sold only in May: no month has both prices, so no position, moves all the same
    assert pp.products.empty
    moves = pp.findings()
    assert [f.metric for f in moves] == ["landscape.rival_price_move"] * 2
    by = {f.context["competitor"]: f for f in moves}
    assert by["R1"].value == pytest.approx(12.0 / 10.4 - 1)
    assert by["R2"].value == pytest.approx(-0.15) and by["R2"].severity == "warning"
    assert by["R1"].context["from_date"] == "2024-03-01" and by["R1"].context["to_price"] == 12.0
    assert "raised its price for A by 15%" in by["R1"].text
    assert price_positioning(ws.con, "EUR", move_threshold=0.16).findings() == []
    for bad in (0, 1.5, "10%", True):
        with pytest.raises(ConfigError, match="price_move_threshold"):
            price_positioning(ws.con, "EUR", move_threshold=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="price_move_window_days"):
        price_positioning(ws.con, "EUR", move_window_days=0)


def test_no_competitor_prices_means_no_positioning(ws: Any) -> None:
    assert price_positioning(ws.con, "EUR") is None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from levelfield.demo import build_demo

    root = tmp_path_factory.mktemp("rival-demo") / "demo"
    build_demo(root, seed=7, n_customers=500)
    return root


def test_demo_planted_rival_price_move_is_recovered(demo: Path) -> None:
    truth = json.loads((demo / "manifest.json").read_text())["competitor_prices"]
    planted = truth["planted_move"]
    with open_workspace(demo / "levelfield.duckdb") as ws:
        result = landscape.analyze(ws)
    moves = [f for f in result.findings() if f.metric == "landscape.rival_price_move"]
    assert len(moves) == 1, [f.text for f in moves]  # the planted move and nothing else
    m = moves[0]
    assert m.context["competitor"] == planted["competitor"]
    assert m.context["item"] == planted["item"]
    assert m.context["to_date"] == planted["date"]
    assert m.value == pytest.approx(planted["change"], abs=0.035)  # 1.5 % noise each side
    assert result.prices is not None
    all_moves = result.prices.moves
    assert len(all_moves) == 1  # no unplanted month-to-month change reaches 10 %
    position = [f for f in result.findings() if f.metric == "landscape.price_position"]
    assert len(position) == 1 and 0.8 < position[0].value < 1.2
    figs = landscape.figures(result)
    assert "Prices against rivals over time" in figs
    names = {t.name for t in figs["Prices against rivals over time"].data}
    assert set(truth["rivals"]) | {"your price"} == names
    assert "landscape_rival_price_moves" in result.tables()
    assert result.summary()["rival_price_moves"] == 1


def test_demo_pricing_uses_rival_prices_as_references_and_ceiling(demo: Path) -> None:
    with open_workspace(demo / "levelfield.duckdb") as ws:
        plain = pricing.analyze(ws).recommendations.set_index("sku")
        capped = pricing.analyze(ws, competitor_ceiling=True).recommendations.set_index("sku")
    priced = plain["rivals"] > 0
    assert priced.sum() >= 5
    assert plain.loc[priced, "rival_reference"].notna().all()
    ok = capped["recommended_price"].notna() & capped["rival_high"].notna()
    assert (capped.loc[ok, "recommended_price"] <= capped.loc[ok, "rival_high"] + 1e-9).all()
    assert capped["reasons"].str.contains("competitor_ceiling").any()
    # without rivals a product is not bound by the competitor ceiling
    free = capped["rivals"] == 0
    pd.testing.assert_series_equal(
        plain.loc[free, "recommended_price"], capped.loc[free, "recommended_price"]
    )
    assert np.isfinite(plain.loc[priced, "price_vs_rivals"]).all()
