"""The demo with a second currency (issue 25): the EU wholesale account billed in EUR.

Its analyses mean the same as the default demo's: money is summed in USD (the EUR
invoices converted at the ECB rate of their dates, checked against ``currencyconverter``
and against the simulated USD prices), the conversion statement names EUR, and the
planted customer truth is recovered from the converted amounts.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from currency_converter import CurrencyConverter

import levelfield.exposure as ex
from levelfield import open_workspace
from levelfield.customers import BetaGeoModel, GammaGammaModel, summarize_workspace
from levelfield.demo import build_demo
from levelfield.demo._exports import EU_CAFE_EVERY
from levelfield.demo._simulate import simulate
from levelfield.workspace import fx_statement

SEED, N = 7, 3000
EUR_FILE = "wholesale_eu_invoices_2023-2025.csv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def eur_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("eur-demo") / "biz"
    build_demo(d, seed=SEED, n_customers=N, eur_wholesale=True)
    return d


def test_eur_invoices_convert_to_the_simulated_usd_prices(eur_demo: Path) -> None:
    manifest = json.loads((eur_demo / "manifest.json").read_text())
    assert manifest["eur_wholesale"]["file"] == f"exports/{EUR_FILE}"
    eur = pd.read_csv(eur_demo / "exports" / EUR_FILE, dtype=str)
    assert set(eur["Currency"]) == {"EUR"}
    with open_workspace(eur_demo / "levelfield.duckdb", read_only=True) as ws:
        assert ws.currency() == "USD"
        got = ws.con.execute(
            "SELECT count(*), sum(net_revenue_base)::DOUBLE, count(*) FILTER "
            "(WHERE fx_source <> 'ecb') FROM order_revenue WHERE currency = 'EUR'"
        ).fetchall()[0]
        text = fx_statement(ws.con).text()
        imports = ws.con.execute("SELECT sum(rows_rejected) FROM imports").fetchall()[0][0]
    assert imports == 0
    assert got[0] == eur["Invoice No"].nunique() and got[2] == 0
    # Oracle 1: each invoice at currencyconverter's ECB rate of its date.
    cc = CurrencyConverter(
        fallback_on_missing_rate=True, fallback_on_missing_rate_method="last_known"
    )
    lines = eur.assign(total=eur["Line Total"].astype(float))
    per_day = lines.groupby("Invoice Date")["total"].sum()
    want = sum(cc.convert(v, "EUR", "USD", pd.Timestamp(d).date()) for d, v in per_day.items())
    assert got[1] == pytest.approx(want, rel=1e-6)
    # Oracle 2: the simulated USD invoices of the same cafés, before billing in EUR.
    sim = simulate(SEED, N)
    eu = sim.ws_cafe[sim.ws_line_order] % EU_CAFE_EVERY == 0
    usd = float(np.sum(sim.ws_line_qty[eu] * sim.ws_line_price[eu]))
    units = float(np.sum(sim.ws_line_qty[eu]))
    assert abs(got[1] - usd) <= 0.006 * units  # half a euro cent per unit, at ~1.1 USD
    assert text.startswith("amounts in USD; EUR converted at ECB reference rates up to")


def test_analyses_keep_their_meaning_with_a_second_currency(eur_demo: Path) -> None:
    manifest = json.loads((eur_demo / "manifest.json").read_text())
    truth = manifest["customers"]["bgnbd"]
    with open_workspace(eur_demo / "levelfield.duckdb") as ws:
        s = summarize_workspace(ws, time_unit="week")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = ex.analyze(ws)
    m = BetaGeoModel().fit(s.frequency, s.recency, s.T)
    for k in ("r", "alpha", "a", "b"):
        assert abs(m.params_[k] - truth[k]) < 3.5 * m.standard_errors_[k], (k, m.params_[k])
    gg_truth = manifest["customers"]["gamma_gamma"]
    gg = GammaGammaModel().fit(s.frequency, s.monetary_value)
    mean_true = gg_truth["p"] * gg_truth["gamma"] / (gg_truth["q"] - 1)
    assert gg.mean_spend() == pytest.approx(mean_true, rel=0.25)
    # Exposure sums in USD and shows the EUR account in the currency table.
    t = r.currencies.set_index("currency")
    assert set(t.index) == {"USD", "EUR"} and bool(t.loc["USD", "is_base"])
    share = r.metrics["foreign_revenue_share"]
    assert 0.0 < share < 0.1  # a quarter of the cafés, wholesale being ~10% of revenue
    assert any("EUR converted at ECB reference rates" in n for n in r.notes)
    found = {f.metric for f in r.findings()}
    assert {"exposure.foreign_revenue_share", "exposure.fx_net_exposure_max"} <= found
