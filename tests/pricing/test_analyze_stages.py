"""The named stages of pricing.analyze and the experiment kernels, each alone."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from pricing_synth import demand_panel, load
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

import levelfield.pricing as pricing
from levelfield.errors import ConfigError, DataQualityWarning, InsufficientDataError
from levelfield.pricing import Guardrails
from levelfield.pricing._analyze import (
    _fit_elasticities,
    _guardrails_from,
    _panel_notes,
    _recommendations,
    _run_options,
)
from levelfield.pricing._elasticity import ElasticityModel
from levelfield.pricing._experiments import (
    _did_inputs,
    _pilot_effect,
    _repeated_looks,
    _robust_cov,
    _units_for_power,
    repeated_testing_alpha,
    sequential_boundaries,
)
from levelfield.pricing._panel import PanelData, weekly_panel
from levelfield.workspace import Workspace


def test_guardrails_from_settings_or_the_object_given() -> None:
    g = _guardrails_from({"max_step": 0.1, "price_endings": [".99"], "alpha": 0.05})
    assert g.max_step == 0.1 and g.price_endings == (".99",)
    given = Guardrails(max_step=0.2)
    assert _guardrails_from({"guardrails": given, "max_step": 0.1}) is given
    with pytest.raises(ConfigError, match="Guardrails object"):
        _guardrails_from({"guardrails": {"max_step": 0.1}})


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"baseline_weeks": 0}, "baseline_weeks"),
        ({"baseline_weeks": True}, "baseline_weeks"),
        ({"baseline_weeks": 4.5}, "baseline_weeks"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": "0.05"}, "alpha"),
    ],
)
def test_run_options_bad_input(params: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _run_options(params)


def test_run_options_defaults() -> None:
    assert _run_options({}) == (13, 0.05)
    assert _run_options({"baseline_weeks": 8, "alpha": 0.1}) == (8, 0.1)


def test_panel_notes_say_what_was_left_out() -> None:
    clean = PanelData(
        pd.DataFrame(), 10, {"non_positive_price": 0, "non_positive_quantity": 0}, 1.0
    )
    assert _panel_notes(clean) == []
    messy = PanelData(
        pd.DataFrame(),
        10,
        {"non_positive_price": 3, "non_positive_quantity": 2},
        0.25,
        ("wholesale",),
    )
    with pytest.warns(DataQualityWarning, match="3 order line"):
        notes = _panel_notes(messy)
    assert len(notes) == 4
    assert notes[0].startswith("channel(s) wholesale left out")
    assert "2 line(s) with zero or negative quantity" in notes[2]
    assert notes[3].startswith("only 25% of lines have a posted (list) price")


def test_pilot_effect_size_is_cohens_h_or_d() -> None:
    kind, h, base, power_at, lo = _pilot_effect(0.2, 1.0, 0.05, 0.1, None, None)
    assert (kind, base, lo) == ("conversion", 0.1, 2.0)
    assert h == pytest.approx(abs(proportion_effectsize(0.12, 0.1)))
    assert power_at(500.0) == pytest.approx(
        NormalIndPower().power(effect_size=h, nobs1=500, alpha=0.05), rel=1e-6
    )
    kind, d, base, _, _ = _pilot_effect(0.1, 1.0, 0.05, None, 20.0, 4.0)
    assert (kind, base) == ("mean", 20.0) and d == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="exceeds 100 %"):
        _pilot_effect(1.5, 1.0, 0.05, 0.5, None, None)
    with pytest.raises(ConfigError, match="needs baseline_rate"):
        _pilot_effect(0.1, 1.0, 0.05, None, 20.0, None)


def test_units_for_power_finds_the_root() -> None:
    n = _units_for_power(lambda n: 1.0 - 300.0 / n, 2.0)
    assert n == pytest.approx(300.0, rel=1e-7)
    assert _units_for_power(lambda n: 1.0, 2.0) == 2.0
    with pytest.raises(ConfigError, match="too small to detect"):
        _units_for_power(lambda n: -1.0, 2.0)


def test_repeated_looks_use_the_last_boundary() -> None:
    design, adj, fpr = _repeated_looks(1, "pocock", 0.02, 0.01, 0.05)
    assert design == "fixed" and all(math.isnan(v) for v in (*adj, fpr))
    design, (lo, hi, crit), fpr = _repeated_looks(4, "obrien_fleming", 0.02, 0.01, 0.05)
    expected = float(sequential_boundaries(4, alpha=0.05, design="obrien_fleming")[-1])
    assert design == "obrien_fleming" and crit == pytest.approx(expected)
    assert (lo, hi) == pytest.approx((0.02 - crit * 0.01, 0.02 + crit * 0.01))
    assert fpr == pytest.approx(repeated_testing_alpha(4, alpha=0.05))


def test_did_inputs_need_four_cells_of_finite_data() -> None:
    y, d, p = _did_inputs([1, 2, 3, 4], [0, 0, 1, 1], [0, 1, 0, 1])
    assert y.dtype == np.float64 and list(d) == [0.0, 0.0, 1.0, 1.0]
    assert list(p) == [0.0, 1.0, 0.0, 1.0]
    with pytest.raises(InsufficientDataError, match="test/after"):
        _did_inputs([1, 2, 3], [0, 0, 1], [0, 1, 0])
    with pytest.raises(ConfigError, match="NaN"):
        _did_inputs([1, np.nan, 3, 4], [0, 0, 1, 1], [0, 1, 0, 1])
    with pytest.raises(ConfigError, match="equal length"):
        _did_inputs([1, 2], [0, 0, 1], [0, 1, 0])


def test_robust_cov_matches_statsmodels_hc1_and_cluster() -> None:
    rng = np.random.default_rng(2)
    n = 120
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = X @ [1.0, 0.5, -0.3] + rng.normal(size=n) * (1 + X[:, 2])
    groups = np.repeat(np.arange(20), 6)
    XtX_inv = np.linalg.inv(X.T @ X)
    u = y - X @ (XtX_inv @ X.T @ y)
    cov, g, df = _robust_cov(X, u, XtX_inv, None)
    np.testing.assert_allclose(cov, sm.OLS(y, X).fit(cov_type="HC1").cov_params(), rtol=1e-10)
    assert (g, df) == (n, n - 3)
    cov, g, df = _robust_cov(X, u, XtX_inv, groups)
    ref = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups})
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-10)
    assert (g, df) == (20, 19)


def test_fit_and_recommend_stages_give_what_analyze_reports(ws: Workspace) -> None:
    d = demand_panel(6, [-0.5, -2.2], n_weeks=60, base_units=200, levels=(0.8, 1.0, 1.2))
    load(ws, d)
    res = pricing.analyze(ws)
    pdata = weekly_panel(ws.con)
    model = ElasticityModel()
    el = _fit_elasticities(model, pdata.panel)
    revenue = pdata.panel.groupby("sku")["revenue"].sum()
    np.testing.assert_allclose(el["revenue"], revenue.loc[el["sku"]].to_numpy())
    pd.testing.assert_frame_equal(el, res.elasticities)
    recs, channels, notes = _recommendations(ws, el, model.panel_, Guardrails(), 13)
    pd.testing.assert_frame_equal(recs, res.recommendations)
    pd.testing.assert_frame_equal(channels, res.channel_prices)
    assert set(notes) <= set(res.notes)
    asked = Guardrails(segment_discounts={"vip": 0.1})
    _, _, asked_notes = _recommendations(ws, el, model.panel_, asked, 13)
    assert asked_notes[-1].startswith("segment discounts were asked for but not opted in")
