"""The customer charts stay light on big workspaces and keep what they show."""

from __future__ import annotations

import numpy as np
import pytest

from levelfield.customers import _charts
from levelfield.customers._analyze import analyze
from levelfield.workspace import Workspace


def _values(trace_attr: object) -> np.ndarray:
    return np.asarray(trace_attr, dtype=float)


def test_charts_sample_points_and_keep_the_curve_ends(
    sim_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = analyze(sim_ws)
    n = len(result.customers)
    monkeypatch.setattr(_charts, "_MAX_POINTS", 50)
    monkeypatch.setattr(_charts, "_CURVE_POINTS", 40)
    assert n > 50
    curve = _charts.value_distribution_chart(result).data[0]
    x, y = _values(curve.x), _values(curve.y)
    assert len(x) <= 40
    # Thinned, the curve still starts at nobody and ends with everybody holding everything.
    assert (x[0], y[0]) == (0.0, 0.0)
    assert x[-1] == pytest.approx(1.0) and y[-1] == pytest.approx(1.0)
    assert np.all(np.diff(y) >= -1e-12)  # cumulative shares never fall
    if result.dropout_measured:
        scatter = _charts.p_alive_chart(result).data[0]
        assert len(scatter.x) == 50 and len(scatter.text) == 50
