"""The named stages of reading one pilot, each on its own small input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from levelfield.errors import DataError
from levelfield.pricing._experiments import DiDEstimate, repeated_testing_alpha
from levelfield.pricing._pilots import (
    _cluster_design,
    _implied_elasticity,
    _look_adjusted,
    _pilot_meta,
)


def _row(**kw: object) -> pd.Series:
    base: dict[str, object] = {
        "pilot_id": "p1",
        "name": None,
        "unit_type": "Store",
        "sku": None,
        "starts_on": "2025-03-03",
        "ends_on": "2025-03-30",
        "price_change": 0.1,
        "looks": 0,
        "sequential": False,
        "arms": ["test", "control"],
    }
    return pd.Series({**base, **kw})


def _est(effect: float, se: float = 0.1, df: int = 20, cf: float = 10.0) -> DiDEstimate:
    return DiDEstimate(
        effect=effect,
        se=se,
        ci_low=effect - 2 * se,
        ci_high=effect + 2 * se,
        p_value=0.5,
        relative_effect=effect / cf if cf else float("nan"),
        counterfactual=cf,
        n_obs=40,
        n_clusters=10,
        df=df,
        means={"test_before": cf},
    )


def test_pilot_meta_parses_a_row() -> None:
    m = _pilot_meta(_row())
    assert (m.pilot_id, m.name, m.unit_type, m.sku) == ("p1", "p1", "store", None)
    assert str(m.start) == "2025-03-03" and str(m.end) == "2025-03-30"
    assert m.price_change == pytest.approx(0.1) and m.looks == 1 and not m.sequential
    assert _pilot_meta(_row(price_change=float("nan"), sku="A-1")).price_change is None


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"unit_type": "region"}, "unit_type 'region'"),
        ({"ends_on": "2025-03-01"}, "before it starts"),
        ({"arms": ["test"]}, "arms must be"),
        ({"arms": ["test", "holdout"]}, "arms must be"),
    ],
)
def test_pilot_meta_bad_rows(kw: dict[str, object], match: str) -> None:
    with pytest.raises(DataError, match=match):
        _pilot_meta(_row(**kw))


def test_cluster_design_needs_two_units_per_arm() -> None:
    units = np.array(["a", "b", "c"])
    cluster, notes = _cluster_design(1, 5, units)
    assert cluster is None and "one unit in an arm" in notes[0]
    cluster, notes = _cluster_design(3, 3, units)
    assert cluster is units and notes == ["only 6 units: the interval is wide (t with 5 df)"]
    cluster, notes = _cluster_design(5, 5, units)
    assert cluster is units and notes == []


def test_look_adjusted_widens_by_the_boundary_and_t_reference() -> None:
    read = _est(0.3, se=0.1, df=12)
    assert _look_adjusted(read, 1, False, 0.05)[:3] == ("fixed", read.ci_low, read.ci_high)
    assert math.isnan(_look_adjusted(read, 1, False, 0.05)[3])
    design, lo, hi, fpr = _look_adjusted(read, 5, False, 0.05)
    assert design == "pocock"
    half = (hi - lo) / 2
    assert (lo + hi) / 2 == pytest.approx(0.3)
    # wider than the fixed t interval, by the Pocock boundary (2.41 for 5 looks)
    t_half = stats.t.isf(0.025, 12) * 0.1
    assert half / t_half == pytest.approx(2.413 / 1.95996, rel=1e-3)
    assert fpr == pytest.approx(repeated_testing_alpha(5, alpha=0.05))
    assert _look_adjusted(read, 5, True, 0.05)[0] == "obrien_fleming"


def test_implied_elasticity_from_the_proportional_read_or_the_unit_share() -> None:
    units = _est(-1.0, cf=10.0)  # -10 % of the counterfactual
    prop = _est(-0.2)
    assert _implied_elasticity(units, prop, 0.1) == pytest.approx(-0.2 / math.log1p(0.1))
    assert _implied_elasticity(units, None, 0.1) == pytest.approx(
        math.log1p(-0.1) / math.log1p(0.1)
    )
    for change in (None, 0.0, -1.0, -2.0):
        assert math.isnan(_implied_elasticity(units, prop, change))
    no_base = _est(-1.0, cf=0.0)
    assert math.isnan(_implied_elasticity(no_base, None, 0.1))
