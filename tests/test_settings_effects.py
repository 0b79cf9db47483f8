"""Changing a setting changes each analysis's result, and the pipeline re-runs it and its
dependents (a small demo business, built once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from levelfield import pipeline
from levelfield.workspace import Workspace, open_workspace

_FAST = {
    "scenarios.n_trials": "1000",
    "scenarios.sobol_samples": "32",
    "financing.n_futures": "200",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from levelfield.demo import build_demo

    directory = tmp_path_factory.mktemp("settings-demo") / "demo"
    result = build_demo(directory, seed=3, n_customers=800)
    ws = open_workspace(result.workspace)
    for k, v in _FAST.items():
        ws.settings.set(k, v, by="test")
    yield ws
    ws.close()


def _run(ws: Workspace, name: str) -> dict[str, Any]:
    pipeline.run_analysis(ws, name)
    run = ws.latest_run(name)
    assert run is not None
    assert run["params"]["settings"] == ws.settings.used_by(name)  # what it used, recorded
    return dict(run["summary"])


def _changes(ws: Workspace, name: str, key: str, value: str) -> tuple[Any, Any]:
    """Summary of ``name`` before and after ``levelfield set key value`` (then reset)."""
    before = _run(ws, name)
    assert pipeline._is_current(ws, name)
    ws.settings.set(key, value, by="test")
    try:
        assert not pipeline._is_current(ws, name)  # the setting is part of the cache key
        after = _run(ws, name)
        assert pipeline._is_current(ws, name)
    finally:
        ws.settings.reset(key, by="test")
    return before, after


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("customers", "customers.horizon_months", "3"),
        ("subscriptions", "customers.annual_discount_rate", "0.4"),
        ("landscape", "landscape.k", "2"),
        ("exposure", "exposure.shift_share", "0.6"),
        ("scenarios", "scenarios.horizon", "6"),
        ("financing", "financing.buffer", "123456"),
        ("pricing", "pricing.shrink", "no"),  # a yes/no setting
        ("pricing", "pricing.price_endings", ""),  # a list setting: exact prices
    ],
)
def test_changing_a_setting_changes_the_result(
    demo: Workspace, name: str, key: str, value: str
) -> None:
    before, after = _changes(demo, name, key, value)
    assert before != after


def test_max_step_bounds_every_recommended_move(demo: Workspace) -> None:
    from levelfield import pricing

    wide = pricing.analyze(demo)
    demo.settings.set("pricing.max_step", "2%", by="test")
    try:
        narrow = pricing.analyze(demo)
    finally:
        demo.settings.reset("pricing.max_step", by="test")
    moved = wide.recommendations["change"].abs().max()
    assert moved > 0.02 + 1e-9  # the default 10 % lets some price move further
    assert narrow.recommendations["change"].abs().max() <= 0.02 + 0.011  # endings round
    assert narrow.params["max_step"] == 0.02 and wide.params["max_step"] == 0.10
    assert not np.array_equal(
        wide.recommendations["recommended_price"].to_numpy(),
        narrow.recommendations["recommended_price"].to_numpy(),
    )


def test_a_customers_or_pricing_setting_reruns_scenarios(demo: Workspace) -> None:
    for name in ("customers", "pricing", "scenarios"):
        pipeline.run_analysis(demo, name)
    assert pipeline._is_current(demo, "scenarios")
    demo.settings.set("pricing.min_margin", "0.2", by="test")
    try:
        assert not pipeline._is_current(demo, "pricing")
        assert not pipeline._is_current(demo, "scenarios")  # reads pricing's elasticities
        assert pipeline._is_current(demo, "customers")
    finally:
        demo.settings.reset("pricing.min_margin", by="test")
    assert pipeline._is_current(demo, "scenarios")  # back to the settings it ran with
    demo.settings.set("customers.model", "bgnbd", by="test")
    try:
        assert not pipeline._is_current(demo, "scenarios")
        assert not pipeline._is_current(demo, "exposure") or demo.latest_run("exposure") is None
    finally:
        demo.settings.reset("customers.model", by="test")


def test_buy_together_rule_follows_its_settings_and_the_cost_benchmarks(demo: Workspace) -> None:
    from levelfield import advice, exposure

    skus = [r[0] for r in demo.con.execute("SELECT sku FROM products LIMIT 5").fetchall()]
    costs = demo.con.execute(
        "SELECT sku, CAST(unit_cost AS DOUBLE) FROM products WHERE sku IN "
        f"({', '.join('?' * len(skus))})",
        skus,
    ).fetchall()
    bench = ",".join(f"{sku}={cost * 0.8:.4f}" for sku, cost in costs)  # rivals buy 20 % cheaper
    demo.settings.set("exposure.unit_cost_benchmarks", bench, by="test")
    try:
        found = list(exposure.analyze(demo).findings())
        gap = next(f for f in found if f.metric == "exposure.scale_gap")
        assert gap.value == pytest.approx(1 / 0.8 - 1, rel=1e-3)  # every SKU 25 % dearer

        def buy_together() -> Any:
            plan = advice.advise(demo, findings={"exposure": found})
            return next((a for a in plan.actions if a.rule_id == "buy_together"), None)

        action = buy_together()
        assert action is not None and action.success_probability == 0.5
        demo.settings.set("advice.buy_together.success_probability", "0.8", by="test")
        assert buy_together().success_probability == 0.8
        demo.settings.set("advice.buy_together.min_scale_gap", "0.5", by="test")
        assert buy_together() is None  # the gap of 25 % is below the owner's threshold
    finally:
        for k in (
            "exposure.unit_cost_benchmarks",
            "advice.buy_together.success_probability",
            "advice.buy_together.min_scale_gap",
        ):
            demo.settings.reset(k, by="test")


def test_scenario_file_setting_replaces_the_built_in_shocks(
    demo: Workspace, tmp_path: Path
) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(
        "[[scenario]]\nname = 'slump'\nshocks = [{ type = 'demand_drop', percent = 50, "
        "months = 6 }]\n",
        encoding="utf-8",
    )
    demo.settings.set("scenarios.scenario_file", str(f), by="test")
    try:
        pipeline.run_analysis(demo, "scenarios")
        run = demo.latest_run("scenarios")
        assert run is not None and run["params"]["scenarios"] == ["slump"]
        assert run["params"]["scenario_file"] == str(f.resolve())
    finally:
        demo.settings.reset("scenarios.scenario_file", by="test")
