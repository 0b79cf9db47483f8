"""The demo business's planted elasticities and pilot effect are recovered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from guardrail_check import guardrails_of, violations

import levelfield.pricing as pricing
from levelfield import open_workspace


@pytest.fixture(scope="module")
def demo_run(demo_dir: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    # The shared demo business (seed 7, 10,000 customers) from tests/conftest.py.
    truth = json.loads((demo_dir / "manifest.json").read_text())["pricing"]
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        yield pricing.analyze(ws), truth


@pytest.mark.slow
def test_demo_planted_elasticities_are_recovered(demo_run: tuple[Any, dict[str, Any]]) -> None:
    res, truth = demo_run
    est = res.elasticities.set_index("sku")
    planted = pd.Series(truth["elasticities"])
    assert (est.loc[planted.index, "status"] == "estimated").all()
    e, se = est.loc[planted.index, "elasticity"], est.loc[planted.index, "se"]
    err = e - planted
    assert float(np.mean(np.abs(err))) < 0.3
    assert float(np.corrcoef(e, planted)[0, 1]) > 0.7
    assert float((np.abs(err) < 1.96 * se + 0.05).mean()) >= 0.75
    cats = res.categories.set_index("category")
    for cat, value in truth["category_elasticities"].items():
        row = cats.loc[cat]
        assert abs(row["mean_elasticity"] - value) < 3 * row["se"] + 0.05, cat
    # elastic single origins vs inelastic equipment: the ordering an owner acts on
    assert cats.at["single_origin", "mean_elasticity"] < -1.4
    assert cats.at["equipment", "mean_elasticity"] > -1.1


@pytest.mark.slow
def test_demo_pilot_effect_is_recovered(demo_run: tuple[Any, dict[str, Any]]) -> None:
    res, truth = demo_run
    pilot = truth["pilot"]
    expected = pilot["expected_log_unit_change"]
    ours = {p.pilot_id: p for p in res.pilots}
    assert set(ours) == set(pilot["pilot_ids"].values())
    effects, ses = [], []
    for pid in pilot["pilot_ids"].values():
        prop = ours[pid].proportional
        assert prop is not None
        assert prop.ci_low < expected < prop.ci_high, pid
        assert ours[pid].price_change == pytest.approx(pilot["price_change"])
        effects.append(prop.effect)
        ses.append(prop.se)
    w = 1 / np.square(ses)
    pooled = float(np.sum(w * np.array(effects)) / np.sum(w))
    assert pooled < 0
    assert abs(pooled - expected) < 3 / np.sqrt(np.sum(w))
    lines = res.headline()
    assert any("reasons:" in line for line in lines)


@pytest.mark.slow
def test_demo_recommendations_inside_every_guardrail(
    demo_run: tuple[Any, dict[str, Any]], demo_dir: Path
) -> None:
    # issue 15: channel parity used to raise the demo's wholesale prices by up to 63 %
    res, _ = demo_run
    g = guardrails_of(res.params)
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        comp, _ = pricing.competitor_price_range(ws.con)
    assert violations(res.recommendations, res.channel_prices, g, comp) == []
    whole = res.channel_prices.loc[res.channel_prices["channel"] == "wholesale"]
    assert len(whole) and whole["recommended_price"].notna().all()
    change = whole["recommended_price"] / whole["current_price"] - 1
    assert float(change.abs().max()) <= g.max_step + 1e-9
    assert not whole["reason"].str.contains("channel_parity").any()
