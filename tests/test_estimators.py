"""One conformance check run over every estimator (scikit-learn's ``check_estimator`` idea).

Each estimator: options are keyword arguments of ``__init__`` stored unchanged (nothing
else set there); ``get_params``/``set_params``/``clone`` round-trip, also through
``sklearn.base.clone``; before ``fit`` a method needing the fit raises levelfield's
NotFittedError; ``fit`` returns ``self``, sets only ``name_`` attributes and leaves the
options alone; a bad option is a ConfigError at ``fit``; and the same data and options give
the same fitted parameters after a clone.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.base

from levelfield._estimator import Estimator, check_is_fitted, clone
from levelfield.customers import (
    BetaGeoBetaBinomModel,
    BetaGeoCovariateModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDCovariateModel,
    ParetoNBDModel,
    ShiftedBetaGeometricModel,
)
from levelfield.errors import ConfigError, LevelfieldError, NotFittedError
from levelfield.pricing import ElasticityModel

DATA = os.path.join(os.path.dirname(__file__), "data", "cdnow")


def _cdnow() -> tuple[Any, ...]:
    d = pd.read_csv(os.path.join(DATA, "cdnow_customers_summary.csv")).head(800)
    return (d["frequency"], d["recency"], d["T"])


def _cdnow_covariates() -> tuple[Any, ...]:
    d = pd.read_csv(os.path.join(DATA, "cdnow_customers_summary.csv")).head(300)
    flag = pd.DataFrame({"odd": (np.arange(len(d)) % 2).astype(float)})
    return (d["frequency"], d["recency"], d["T"], flag)


def _cdnow_spend() -> tuple[Any, ...]:
    d = pd.read_csv(os.path.join(DATA, "cdnow_customers_summary_with_transactions.csv"))
    d = d[d["x"] > 0]
    return (d["x"], d["zbar"])


def _donations() -> tuple[Any, ...]:
    d = pd.read_csv(os.path.join(DATA, "donations.csv"))
    return (d["frequency"], d["recency"], d["periods"], d["weights"])


def _subscriptions() -> tuple[Any, ...]:
    # Hardie's "regular" cohort (Fader & Hardie 2007, table 1) as per-customer records.
    alive = [1000, 631, 468, 382, 326, 289, 262, 241]
    lost = -np.diff(alive)
    periods = np.concatenate([np.repeat(np.arange(1, 8), lost), np.full(alive[-1], 7)])
    churned = np.concatenate([np.ones(lost.sum()), np.zeros(alive[-1])])
    return (periods, churned)


def _panel() -> tuple[Any, ...]:
    rng = np.random.default_rng(3)
    rows = []
    for k, e in enumerate((-0.8, -1.5, -2.2)):
        price = 10.0 * np.exp(rng.normal(0, 0.12, 30))
        q = np.round(np.exp(5 + e * np.log(price / 10) + rng.normal(0, 0.1, 30)))
        week = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(30) * 7, unit="D")
        rows.append(
            pd.DataFrame({"sku": f"S{k}", "week": week, "quantity": q, "posted_price": price})
        )
    return (pd.concat(rows, ignore_index=True),)


@dataclass(frozen=True)
class Case:
    make: type[Estimator]
    data: Callable[[], tuple[Any, ...]]
    use: Callable[[Any], object]  # a call that needs the fit
    bad: dict[str, Any]  # an option fit must reject
    learned: Callable[[Any], object]  # what the fit learned, compared after a clone


_count_use = lambda m: m.probability_alive([1], [2.0], [10.0])  # noqa: E731
_cov_use = lambda m: m.probability_alive([1], [2.0], [10.0], [[1.0]])  # noqa: E731
CASES = [
    Case(BetaGeoModel, _cdnow, _count_use, {"max_iter": -1}, lambda m: m.params_),
    Case(ParetoNBDModel, _cdnow, _count_use, {"penalizer": -1.0}, lambda m: m.params_),
    Case(BetaGeoCovariateModel, _cdnow_covariates, _cov_use, {"tol": 0.0}, lambda m: m.params_),
    Case(ParetoNBDCovariateModel, _cdnow_covariates, _cov_use, {"max_iter": 0},
         lambda m: m.params_),
    Case(GammaGammaModel, _cdnow_spend, lambda m: m.mean_spend(), {"tol": 2.0}, lambda m: m.params_),
    Case(ShiftedBetaGeometricModel, _subscriptions, lambda m: m.survival([1, 2]), {"tol": 0.0},
         lambda m: m.params_),
    Case(BetaGeoBetaBinomModel, _donations, lambda m: m.expected_purchases(3.0),
         {"max_iter": 0}, lambda m: m.params_),
    Case(ElasticityModel, _panel, lambda m: m.elasticity("S0"), {"estimator": "lasso"},
         lambda m: m.elasticities_["elasticity"].round(10).tolist()),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.make.__name__)
def test_estimator_contract(case: Case) -> None:
    est = case.make()
    assert isinstance(est, Estimator)
    # options in __init__ only: keyword-only, with defaults, stored unchanged, nothing else
    sig = inspect.signature(case.make.__init__)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params)
    assert est.get_params() == {p.name: p.default for p in params}
    assert set(vars(est)) == {p.name for p in params}
    # get_params / set_params / clone, and scikit-learn's clone on the same contract
    assert est.set_params(**est.get_params()) is est
    with pytest.raises(ConfigError, match="no option 'not_an_option'"):
        est.set_params(not_an_option=1)
    for copy in (clone(est), sklearn.base.clone(est)):
        assert type(copy) is case.make and copy is not est
        assert copy.get_params() == est.get_params()
    # before fit: levelfield's NotFittedError (a LevelfieldError, so the CLI says it plainly)
    with pytest.raises(NotFittedError, match="not fitted"):
        case.use(est)
    with pytest.raises(LevelfieldError):
        check_is_fitted(est)
    # fit returns self, adds only name_ attributes, keeps the options
    data = case.data()
    before = est.get_params()
    assert est.fit(*data) is est
    added = set(vars(est)) - set(before)
    assert added and all(a.endswith("_") and not a.startswith("_") for a in added)
    assert est.get_params() == before
    check_is_fitted(est)
    case.use(est)
    # a clone is unfitted and, refitted, learns the same
    fresh = clone(est)
    assert set(vars(fresh)) == set(before)
    assert case.learned(fresh.fit(*data)) == case.learned(est)
    # a bad option is a ConfigError at fit, named, not a bare ValueError
    bad = clone(est).set_params(**case.bad)
    with pytest.raises(ConfigError, match=next(iter(case.bad))):
        bad.fit(*data)


def test_get_params_rejects_var_keyword_init() -> None:
    class Loose(Estimator):
        def __init__(self, **options: Any) -> None:
            self.options = options

    with pytest.raises(TypeError, match="explicitly"):
        Loose().get_params()
