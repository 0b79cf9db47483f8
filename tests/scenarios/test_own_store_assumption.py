"""One own-store assumption (issue 15): set once, used by exposure, scenarios and advice.

The share of buyers who follow from a marketplace to the own store was 70 % in exposure,
80 % in scenarios and 95 % in the advice. It is now one PERT prior per business
(``levelfield.exposure.own_store_follow``), overridable in the business profile.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats

import levelfield.exposure as ex
from levelfield import Workspace
from levelfield.advice._facts import business_facts
from levelfield.advice._impact import channel_shift, scenario_shift_channel
from levelfield.errors import ConfigError
from levelfield.exposure import OWN_STORE_FOLLOW, OwnStoreFollow, own_store_follow
from levelfield.findings import Finding
from levelfield.scenarios import (
    ShiftChannel,
    Strategy,
    build_model,
    default_strategies,
    evaluate_action,
    evaluate_own_store_shift,
    simulate,
)


def _set_follow(ws: Workspace, value: object) -> None:
    ws.con.execute("DELETE FROM business WHERE key = 'own_store_follow'")
    ws.con.execute("INSERT INTO business VALUES ('own_store_follow', ?, 1)", [json.dumps(value)])


def test_default_and_profile_overrides(shop: Workspace) -> None:
    assert own_store_follow(shop) == OWN_STORE_FOLLOW
    _set_follow(shop, 0.6)
    f = own_store_follow(shop)
    assert (f.low, f.mode, f.high) == pytest.approx((0.3, 0.6, 0.8))
    _set_follow(shop, {"low": 0.2, "mode": 0.5, "high": 0.55})
    assert own_store_follow(shop).high == 0.55
    for bad in (1.5, "x", {"low": 0.5}, {"low": 0.6, "mode": 0.5, "high": 0.9}, 0):
        _set_follow(shop, bad)
        with pytest.raises(ConfigError):
            own_store_follow(shop)


def test_probability_matches_the_pert_prior() -> None:
    f = OwnStoreFollow(0.4, 0.7, 0.9, "test")
    draws = f.sample(200_000, seed=1)
    for x in (0.3, 0.5, 0.7, 0.85, 0.95):
        assert f.probability_above(x) == pytest.approx(np.mean(draws > x), abs=0.005)
    # PERT mean (Vose 2008): (low + 4 mode + high) / 6
    assert draws.mean() == pytest.approx(f.mean, abs=0.002)
    a, b = 1 + 4 * 0.3 / 0.5, 1 + 4 * 0.2 / 0.5
    assert f.probability_above(0.8) == pytest.approx(stats.beta.sf(0.8, a, b))
    assert math.isnan(f.probability_above(math.nan))


def test_exposure_scenarios_and_advice_read_the_same_assumption(shop: Workspace) -> None:
    _set_follow(shop, 0.6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ex.analyze(shop)
        model = build_model(shop, horizon=12, warn=False)
    w = r.whatif.iloc[0]
    assert w["follow_mode"] == 0.6 and w["conversion_loss"] == pytest.approx(0.4)
    assert w["success_probability"] == pytest.approx(
        own_store_follow(shop).probability_above(w["breakeven_follow"])
    )
    finding = next(f for f in r.findings() if f.metric == "exposure.own_store_margin_gain")
    assert finding.context["success_probability"] == w["success_probability"]
    assert model.own_store_follow.mode == 0.6
    assert ShiftChannel("etsy", "own_store", 20.0).follow_share(model) == 0.6
    # A scenario action without a stated share draws the assumption per future, exactly as
    # the advice's simulation does (it used to take the mode: 60 % in every future).
    implicit = evaluate_action(model, ShiftChannel("etsy", "own_store", 20.0), n_trials=500)
    uncertain = evaluate_own_store_shift(model, "etsy", 20.0, n_trials=500)
    np.testing.assert_allclose(implicit.values, uncertain.values)
    explicit = evaluate_action(model, ShiftChannel("etsy", "own_store", 20.0, 60.0), n_trials=500)
    assert not np.allclose(implicit.values, explicit.values)
    # Advice: the fallback range and the simulated estimate both state the assumption.
    facts = business_facts(shop)
    bound = {
        "platform": Finding(
            "exposure.platform_share_max", 0.3, "share", "t", "warning", {"channel": "etsy"}
        )
    }
    est = channel_shift({"share_moved_low": 0.1, "share_moved_high": 0.2}, bound, facts, shop)
    assert "60% of moved buyers follow (range 30%-80%" in est.basis
    assert est.success_probability is not None and 0 <= est.success_probability <= 1
    sim = scenario_shift_channel({"percent": 15}, bound, facts, shop)
    assert sim.method == "scenario" and "60% of moved buyers follow" in sim.basis
    # At 30-80 % following, moving etsy buyers never pays here (break-even about 89 %).
    assert sim.success_probability == pytest.approx(0.0, abs=0.01)
    _set_follow(shop, {"low": 0.8, "mode": 0.9, "high": 1.0})
    likely = scenario_shift_channel({"percent": 15}, bound, facts, shop)
    assert likely.success_probability is not None and 0.2 < likely.success_probability < 1
    assert likely.mid > sim.mid
    with pytest.raises(ConfigError, match="set once"):
        scenario_shift_channel({"percent": 15, "follow_percent": 95}, bound, facts, shop)


def test_uncertain_follow_is_exact_per_trial_by_linearity(shop: Workspace) -> None:
    """Profit is linear in the follow share: the uncertain-follow gain at a fixed share
    equals the simulated gain at that share, trial by trial."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(shop, horizon=12, warn=False)
    n = 800
    g0 = evaluate_action(model, ShiftChannel("etsy", "own_store", 20.0, 0.0), n_trials=n).values
    g1 = evaluate_action(model, ShiftChannel("etsy", "own_store", 20.0, 100.0), n_trials=n).values
    mid = evaluate_action(model, ShiftChannel("etsy", "own_store", 20.0, 70.0), n_trials=n).values
    np.testing.assert_allclose(g0 + 0.7 * (g1 - g0), mid, rtol=1e-9, atol=1e-6)
    unc = evaluate_own_store_shift(model, "etsy", 20.0, n_trials=n)
    f = model.own_store_follow.sample(n, seed=1)
    np.testing.assert_allclose(unc.values, g0 + f * (g1 - g0), rtol=1e-9, atol=1e-6)
    assert 0 <= unc.p_positive <= 1


def test_default_strategy_draws_the_follow_share_per_future(shop: Workspace) -> None:
    """'move 30% of marketplace sales to own store' (the default strategy compared in
    ``scenarios.analyze``) carries the uncertain follow share, not its mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(shop, horizon=12, warn=False)
    move = next(s for s in default_strategies(model) if s.name.startswith("move 30%"))
    ends = [
        Strategy(f"follow {p:g}", (ShiftChannel("marketplaces", "own_store", 30.0, p),))
        for p in (0.0, 100.0)
    ]
    n = 600
    sim = simulate(model, n_trials=n, seed=3, strategies=[move, *ends], keep_paths=1)
    g0 = sim.strategy_gain[("follow 0", "baseline")]
    g1 = sim.strategy_gain[("follow 100", "baseline")]
    f = model.own_store_follow.sample(n, seed=4)
    got = sim.strategy_gain[(move.name, "baseline")]
    np.testing.assert_allclose(got, g0 + f * (g1 - g0), rtol=1e-9, atol=1e-6)
    assert "drawn per future" in move.describe()
