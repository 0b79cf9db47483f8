"""Financing on real data: UCI Online Retail (541,909 lines, no offers, no costs imported).

The analysis must not fail: it says which files to import (credit offers, costs) and
still measures what the orders alone can tell (weekly sales, volatility, concentration).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from levelfield import financing, open_workspace
from levelfield.ingest import import_file
from levelfield.report import build_lender_pack, render_lender_pack

ONLINE_RETAIL = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "online-retail"
    / "online_retail.parquet"
)


@pytest.fixture(scope="module")
def uci(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[financing.FinancingResult, str]:
    if not ONLINE_RETAIL.exists():
        pytest.skip("shared UCI Online Retail data not present")
    path = tmp_path_factory.mktemp("uci-financing") / "uci.duckdb"
    with open_workspace(path) as ws:
        import_file(ws, "orders", ONLINE_RETAIL)
        res = financing.analyze(ws, n_futures=300)
        html = render_lender_pack(build_lender_pack(ws, res))
    return res, html


@pytest.mark.slow
def test_online_retail_without_offers_says_what_to_import(
    uci: tuple[financing.FinancingResult, str],
) -> None:
    res, html = uci
    assert res.offers.empty and res.summary()["n_offers"] == 0
    text = "\n".join(res.headline())
    assert "levelfield import credit_offers" in text
    assert "levelfield import costs" in text
    assert "cannot be told" in text  # no costs: no cash-low week claimed
    assert "financing.cash_low_week" not in {f.metric for f in res.findings()}
    # 2010-12-01 .. 2011-12-09: about 53 complete weeks of sales, the last partial one dropped.
    assert res.period[0] == "2010-11-29" and res.period[1].startswith("2011-12")
    metrics = res.metrics.set_index("metric")
    assert metrics.loc["revenue_trend", "status"] == "not known"  # under two years
    assert 0 < metrics.loc["top_customer_share", "value"] < 0.10
    assert res.backtest_mape is not None and res.backtest_mape < 1.0
    # The lender pack renders too, and holds no customer identifier.
    assert "No credit offers are entered yet." in html
    assert not re.search(r"c_[0-9a-f]{20}", html)
