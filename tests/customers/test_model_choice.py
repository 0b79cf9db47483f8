"""Holdout model choice: BG/NBD or Pareto/NBD, whichever predicts the holdout better."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest

from levelfield.customers import (
    BetaGeoModel,
    CustomerSummary,
    ParetoNBDModel,
    choose_by_holdout,
    holdout_validation,
    simulate_calibration_holdout,
)
from levelfield.errors import ConfigError

CAL_END = dt.date(2024, 6, 30)
HOLDOUT_WEEKS = 39.0


def _summary(seed: int, model: str, params: dict[str, float], n: int = 4000) -> CustomerSummary:
    """A weekly calibration/holdout summary drawn from ``model``."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(20.0, 60.0, n)
    x, t_x, T, hold = simulate_calibration_holdout(model, params, T, HOLDOUT_WEEKS, rng)
    first = np.datetime64(CAL_END, "D") - (T * 7).astype("timedelta64[D]")
    return CustomerSummary(
        customer_id=np.array([f"c{i}" for i in range(n)]),
        frequency=x,
        recency=t_x,
        T=T,
        monetary_value=np.zeros(n),
        first_purchase=first,
        total_value=np.ones(n),
        time_unit="week",
        group_by="week",
        observation_end=CAL_END + dt.timedelta(weeks=int(HOLDOUT_WEEKS)),
        calibration_end=CAL_END,
        frequency_holdout=hold,
        duration_holdout=HOLDOUT_WEEKS,
    )


def _choice(summ: CustomerSummary, given: str | None = None):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {
            "bgnbd": BetaGeoModel().fit(summ.frequency, summ.recency, summ.T),
            "pareto_nbd": ParetoNBDModel().fit(summ.frequency, summ.recency, summ.T),
        }
    return choose_by_holdout({k: holdout_validation(m, summ) for k, m in fits.items()}, given)


@pytest.mark.parametrize(
    ("truth", "params"),
    [
        ("pareto_nbd", {"r": 0.5, "alpha": 10.0, "s": 1.5, "beta": 20.0}),
        ("bgnbd", {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}),
    ],
)
def test_holdout_choice_picks_the_model_that_generated_the_data(
    truth: str, params: dict[str, float]
) -> None:
    choice = _choice(_summary(1, truth, params))
    assert choice.chosen == truth
    assert choice.how == "holdout"
    other = "bgnbd" if truth == "pareto_nbd" else "pareto_nbd"
    assert choice.validations[truth].rmse < choice.validations[other].rmse
    # both holdout errors are reported, in the reason and in the table
    assert "BG/NBD" in choice.reason and "Pareto/NBD" in choice.reason
    table = choice.table()
    assert set(table["model"]) == {"BG/NBD", "Pareto/NBD"}
    assert table.loc[table["chosen"], "model"].item() == choice.label
    s = choice.summary()
    assert s["holdout_rmse_bgnbd"] > 0 and s["holdout_rmse_pareto_nbd"] > 0


def test_given_model_is_kept_and_both_errors_still_reported() -> None:
    summ = _summary(2, "pareto_nbd", {"r": 0.5, "alpha": 10.0, "s": 1.5, "beta": 20.0}, n=1500)
    choice = _choice(summ, given="bgnbd")
    assert (choice.chosen, choice.how) == ("bgnbd", "given")
    assert "as set" in choice.reason and "Pareto/NBD" in choice.reason


def test_equal_holdout_errors_keep_the_default() -> None:
    summ = _summary(3, "bgnbd", {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}, n=800)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = holdout_validation(BetaGeoModel().fit(summ.frequency, summ.recency, summ.T), summ)
    choice = choose_by_holdout({"pareto_nbd": v, "bgnbd": v}, None)
    assert choice.chosen == "bgnbd" and "equally well" in choice.reason


def test_choose_by_holdout_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        choose_by_holdout({}, None)
    summ = _summary(4, "bgnbd", {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}, n=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = holdout_validation(BetaGeoModel().fit(summ.frequency, summ.recency, summ.T), summ)
    with pytest.raises(ConfigError, match="models must be"):
        choose_by_holdout({"nbd": v}, None)
    with pytest.raises(ConfigError, match="models must be"):
        choose_by_holdout({"bgnbd": v}, "pareto")


def test_simulate_calibration_holdout_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="model"):
        simulate_calibration_holdout("nbd", {}, np.ones(3), 1.0, rng)
    with pytest.raises(ConfigError, match="lacks"):
        simulate_calibration_holdout("bgnbd", {"r": 1.0}, np.ones(3), 1.0, rng)
    with pytest.raises(ConfigError, match="positive age"):
        simulate_calibration_holdout("bgnbd", {}, np.array([1.0, -1.0]), 1.0, rng)
    with pytest.raises(ConfigError, match="holdout"):
        simulate_calibration_holdout("bgnbd", {}, np.ones(3), 0.0, rng)


def test_simulated_holdout_matches_the_models_own_prediction() -> None:
    """The simulator is exact: mean holdout purchases equal the true model's prediction."""
    truth = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}
    summ = _summary(5, "bgnbd", truth, n=40_000)
    m = BetaGeoModel()
    m.params_ = truth
    pred = m.conditional_expected_purchases(HOLDOUT_WEEKS, summ.frequency, summ.recency, summ.T)
    assert summ.frequency_holdout is not None
    assert summ.frequency_holdout.mean() == pytest.approx(pred.mean(), rel=0.03)
    p_truth = {"r": 0.5, "alpha": 10.0, "s": 1.5, "beta": 20.0}
    summ = _summary(6, "pareto_nbd", p_truth, n=40_000)
    pm = ParetoNBDModel()
    pm.params_ = p_truth
    pred = pm.conditional_expected_purchases(HOLDOUT_WEEKS, summ.frequency, summ.recency, summ.T)
    assert summ.frequency_holdout is not None
    assert summ.frequency_holdout.mean() == pytest.approx(pred.mean(), rel=0.03)
