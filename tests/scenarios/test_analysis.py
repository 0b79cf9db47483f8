from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import levelfield.scenarios as sc
from levelfield.errors import ConfigError, SmallSampleWarning
from levelfield.findings import Finding
from levelfield.workspace import Workspace

FAST = {"n_trials": 2000, "sobol_samples": 128, "horizon": 12}


def test_methods_and_references_are_listed() -> None:
    assert len(sc.REFERENCES) >= 5 and "Iman" in sc.REFERENCES[0]
    assert "Sobol" in sc.METHODS


def test_analyze_records_run_and_fulfils_the_result_contract(shop: Workspace) -> None:
    progress: list[float] = []
    res = sc.analyze(shop, progress=lambda s, f: progress.append(f), **FAST)
    assert progress[-1] == 1.0 and progress == sorted(progress)
    run = shop.latest_run("scenarios")
    assert run is not None and run["params"]["n_trials"] == 2000
    assert run["summary"] == json.loads(json.dumps(res.summary()))
    s = res.summary()
    assert 0 <= s["p_loss_year"] <= 1 and 0 <= s["p_cash_negative"] <= 1
    assert s["annual_profit_p10"] < s["mean_annual_profit"] < s["annual_profit_p90"]
    assert s["es5"] >= s["var5"]
    assert isinstance(res.to_frame(), pd.DataFrame) and res.to_frame()["scenario"][0] == "baseline"
    for name, table in res.tables().items():
        assert isinstance(table, pd.DataFrame) and not table.empty, name
    lines = res.headline()
    assert any("probability of a loss" in ln for ln in lines)
    assert any("Strategy" in ln for ln in lines) and all(
        any(c.isdigit() for c in ln) for ln in lines
    )
    metrics = {f.metric for f in res.findings()}
    assert {"scenarios.p_loss_year", "scenarios.p_cash_negative", "scenarios.runway_months",
            "scenarios.var5", "scenarios.top_driver", "scenarios.best_strategy_gain",
            "scenarios.worst_shock_change"} <= metrics  # fmt: skip
    assert all(isinstance(f, Finding) and f.analysis == "scenarios" for f in res.findings())
    figs = sc.figures(res)
    assert next(iter(figs)).startswith("Cash") and all(
        isinstance(f, go.Figure) for f in figs.values()
    )
    assert len(figs) == 6


def test_same_seed_same_result_other_seed_differs(shop: Workspace) -> None:
    a = sc.analyze(shop, seed=11, **FAST)
    b = sc.analyze(shop, seed=11, **FAST)
    c = sc.analyze(shop, seed=12, **FAST)
    pd.testing.assert_frame_equal(a.risk, b.risk)
    pd.testing.assert_frame_equal(a.strategies, b.strategies)
    pd.testing.assert_frame_equal(a.sobol, b.sobol)
    # Equal up to the order of DuckDB's parallel sums in the model's inputs (the last bit
    # of a total can differ between two builds of the same model; seen in CI: 2e-16).
    fa, fb = _flat(a.summary()), _flat(b.summary())
    assert fa.keys() == fb.keys()
    for k, v in fa.items():
        w = fb[k]
        if isinstance(v, float) and isinstance(w, float):
            assert math.isclose(v, w, rel_tol=1e-12) or (math.isnan(v) and math.isnan(w)), k
        else:
            assert v == w, k
    assert a.summary()["mean_annual_profit"] != c.summary()["mean_annual_profit"]


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_common_random_numbers_shrink_the_variance_of_a_difference(shop: Workspace) -> None:
    model = sc.build_model(shop, horizon=12)
    action = sc.PriceChange(5)
    crn = sc.evaluate_action(model, action, n_trials=4000, seed=1)
    # Without common random numbers: strategy and baseline on independent draws.
    strat = sc.Strategy("price", (action,))
    s1 = sc.simulate(model, n_trials=4000, seed=1, strategies=[strat], keep_paths=1)
    s2 = sc.simulate(model, n_trials=4000, seed=2, keep_paths=1)
    with_action = s1.baseline.annual_profit + s1.strategy_gain[("price", "baseline")]
    independent = with_action - s2.baseline.annual_profit
    assert crn.values.var() * 50 < independent.var()
    # Both estimate the same mean gain.
    se = np.sqrt(independent.var() / independent.size)
    assert abs(independent.mean() - crn.mean) < 4 * se


def test_evaluate_action_inputs(shop: Workspace) -> None:
    imp = sc.evaluate_action(shop, sc.ShiftChannel("etsy", "shopify", 30), n_trials=500)
    assert imp.values.shape == (500,) and imp.months == 12
    s = imp.summary()
    assert s["p5"] <= s["p50"] <= s["p95"] and s["currency"] == "EUR"
    under = sc.evaluate_action(shop, [sc.AddSupplier("CN", "FR")], n_trials=500,
                               scenario=sc.Scenario("t", (sc.Tariff("CN", 30),)))  # fmt: skip
    assert under.mean > 0 and under.scenario == "t"
    with pytest.raises(ConfigError):
        sc.evaluate_action(shop, "raise prices", n_trials=100)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        sc.evaluate_action(shop, sc.PriceChange(5), n_trials=0)
    with pytest.raises(ConfigError):
        sc.evaluate_action(shop, sc.PriceChange(5), scenario="storm")  # type: ignore[arg-type]


def test_analyze_bad_parameters(shop: Workspace) -> None:
    with pytest.raises(ConfigError, match="horizon"):
        sc.analyze(shop, horizon=0)
    with pytest.raises(ConfigError, match="n_trials"):
        sc.analyze(shop, n_trials=-5, horizon=12)
    with pytest.raises(ConfigError, match="seed"):
        sc.analyze(shop, seed="abc", **FAST)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a Scenario"):
        sc.analyze(shop, scenarios=["tariff"], **FAST)
    with pytest.raises(ConfigError, match="two scenarios"):
        sc.analyze(shop, scenarios=[sc.Scenario("a", (sc.FXMove(5),))] * 2, **FAST)
    with pytest.warns(SmallSampleWarning):
        sc.analyze(shop, n_trials=200, sobol_samples=16, horizon=6, scenarios=[], strategies=[])


def test_scenario_file_and_chunking(shop: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        "[[scenario]]\nname = 'slump'\nshocks = [{ type = 'demand_drop', percent = 50, "
        "months = 6 }]\n[[strategy]]\nname = 'cheaper'\nactions = [{ type = 'price_change', "
        "percent = -5 }]\n",
        encoding="utf-8",
    )
    res = sc.analyze(shop, scenario_file=path, chunk_size=700, **FAST)
    assert list(res.risk["scenario"]) == ["baseline", "slump"]
    assert list(res.strategies["strategy"].unique()) == ["cheaper"]
    slump = res.risk.set_index("scenario").loc["slump"]
    assert slump["mean_change_vs_baseline"] < 0
    assert slump["p_loss_year"] >= res.risk["p_loss_year"][0]


def test_loss_making_business_has_short_runway(make_shop: Callable[..., Workspace]) -> None:
    w = make_shop(profile={"opening_cash": 3000, "debt": 0}, orders_per_month=40)
    res = sc.analyze(w, scenarios=[], strategies=[], **FAST)
    s = res.summary()
    assert s["p_loss_year"] > 0.9 and s["p_cash_negative"] > 0.9
    assert s["runway_months"] is not None and s["runway_months"] <= 6
    runway = next(f for f in res.findings() if f.metric == "scenarios.runway_months")
    assert runway.severity == "critical"


def test_cli_prints_the_risk_headline(shop: Workspace) -> None:
    from typer.testing import CliRunner

    from levelfield.cli import app

    path = shop.path
    shop.close()
    out = CliRunner().invoke(app, ["analyze", "scenarios", "--workspace", str(path)])
    assert out.exit_code == 0, out.output
    assert "probability of a loss" in out.output and "Strategy" in out.output


@pytest.mark.slow
def test_analyze_runs_on_the_demo_business(tmp_path: Path) -> None:
    from levelfield import open_workspace
    from levelfield.demo import build_demo

    build_demo(tmp_path / "demo", n_customers=300)
    with open_workspace(tmp_path / "demo" / "levelfield.duckdb") as ws:
        res = sc.analyze(ws, n_trials=3000, sobol_samples=128)
    s = res.summary()
    assert 0 <= s["p_loss_year"] <= 1 and s["annual_profit_p10"] < s["annual_profit_p90"]
    assert len(res.drivers) >= 8 and not res.strategies.empty
    assert any("probability of a loss" in ln for ln in res.headline())
