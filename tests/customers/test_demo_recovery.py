"""Recover the demo business's true BG/NBD and Gamma-Gamma parameters (levelfield.demo)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from lifetimes import utils

from levelfield import demo, open_workspace
from levelfield.customers import (
    BetaGeoModel,
    GammaGammaModel,
    summarize_transactions,
    summarize_workspace,
)
from levelfield.customers._summary import workspace_purchases_sql


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("demo") / "biz"
    demo.build_demo(d, seed=7, n_customers=3000)
    return d


@pytest.mark.slow
def test_demo_bgnbd_and_gamma_gamma_parameters_recovered(demo_dir: Path) -> None:
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    truth = manifest["customers"]["bgnbd"]
    assert truth["time_unit"].startswith("week")
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        s = summarize_workspace(ws, time_unit="week")
    m = BetaGeoModel().fit(s.frequency, s.recency, s.T)
    for k in ("r", "alpha", "a", "b"):
        assert abs(m.params_[k] - truth[k]) < 3.5 * m.standard_errors_[k], (k, m.params_[k])
    gg_truth = manifest["customers"]["gamma_gamma"]
    gg = GammaGammaModel().fit(s.frequency, s.monetary_value)
    mean_true = gg_truth["p"] * gg_truth["gamma"] / (gg_truth["q"] - 1)
    # discounts and refunds shift realized spend from the budgets; compare the mean
    assert gg.mean_spend() == pytest.approx(mean_true, rel=0.25)


@pytest.mark.slow
def test_demo_summary_identical_to_lifetimes(demo_dir: Path) -> None:
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        tx = ws.con.execute(
            f"SELECT customer_id, ts, amount FROM ({workspace_purchases_sql(ws.currency())}) "
            "WHERE amount > 0"
        ).df()
        ours = summarize_workspace(ws, time_unit="day").to_frame()
    again = summarize_transactions(tx, "customer_id", "ts", "amount").to_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = utils.summary_data_from_transaction_data(tx, "customer_id", "ts", "amount")
    ours = ours.loc[theirs.index]
    for c in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[c], theirs[c], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(again.loc[theirs.index, c], theirs[c], rtol=1e-9, atol=1e-6)
