"""The stages of the scenario simulation tested alone."""

from __future__ import annotations

import numpy as np
import pytest

from levelfield.errors import ConfigError
from levelfield.scenarios._simulate import _check_simulation_inputs, _Results


def test_record_case_fills_outcomes_and_kept_paths() -> None:
    class _Model:
        opening_cash = 100.0

    out = _Results.empty(["baseline"], [], n_trials=3, keep=2, m=3)
    # months x trials: trial 0 loses 60 a month (cash negative in month 2), trial 1
    # earns, trial 2 breaks even
    profit = np.array([[-60.0, 10.0, 0.0], [-60.0, 10.0, 0.0], [-60.0, 10.0, 0.0]])
    first_year = out.record_case("baseline", _Model(), profit, year=2, done=0, keep=2)  # type: ignore[arg-type]
    np.testing.assert_allclose(first_year, [-120.0, 20.0, 0.0])
    np.testing.assert_allclose(out.annual["baseline"], [-120.0, 20.0, 0.0])
    np.testing.assert_allclose(out.total["baseline"], [-180.0, 30.0, 0.0])
    np.testing.assert_allclose(out.min_cash["baseline"], [-80.0, 110.0, 100.0])
    assert out.first_neg["baseline"].tolist() == [2, 0, 0]
    np.testing.assert_allclose(out.c_paths["baseline"][0], [40.0, -20.0, -80.0])
    np.testing.assert_allclose(out.p_paths["baseline"][1], [10.0, 10.0, 10.0])


def test_check_simulation_inputs() -> None:
    assert _check_simulation_inputs(10, 5, 3, 1, (), ()) == (10, 5, 3)
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        _check_simulation_inputs(10, 5, 3, True, (), ())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="is not a Scenario"):
        _check_simulation_inputs(10, 5, 3, 0, ("tariff",), ())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="is not a Strategy"):
        _check_simulation_inputs(10, 5, 3, 0, (), ("push",))  # type: ignore[arg-type]
