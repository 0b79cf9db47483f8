"""Covariates in the customer analysis: fit, likelihood-ratio test, effects in words.

``customers.analyze`` fits the chosen purchase model (BG/NBD or Pareto/NBD) again with
the customers' time-invariant covariates (:func:`customer_covariates`: acquisition
channel, first-order value, region, first product category) on the purchase and the
drop-out process, and tests it against the model without them (likelihood ratio,
chi-square with one degree of freedom per coefficient). The covariate model is kept
only when the test rejects the plain model at 5 %; then every customer's P(alive),
expected purchases and value come from their own parameters, with 90 % intervals from
the covariate model's parameter uncertainty (delta method in the fitted scale: log base
parameters, raw coefficients).

Each coefficient is stated as a multiplier against the reference customer (the most
common level of a category; for the first-order value, per doubling):

* purchase rate ``E[lambda] = r / alpha_i``, ``alpha_i = alpha exp(-g' z)``: ``exp(g)``;
* Pareto/NBD drop-out rate ``E[mu] = s / beta_i``, ``beta_i = beta exp(-g' z)``: ``exp(g)``;
* BG/NBD drop-out chance after a purchase ``E[p] = a_i / (a_i + b_i)``: the ratio of that
  chance to the reference's, with its interval by the delta method.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from levelfield.customers._covariates import (
    BetaGeoCovariateModel,
    ParetoNBDCovariateModel,
    customer_covariates,
)
from levelfield.customers._summary import CustomerSummary
from levelfield.customers._value import customer_lifetime_value
from levelfield.errors import ConvergenceWarning, DataError, ModelError, SmallSampleWarning
from levelfield.findings import Finding
from levelfield.findings import json_float as _f

__all__ = [
    "LR_ALPHA",
    "MIN_CUSTOMERS",
    "MIN_REPEAT",
    "CovariateEffects",
    "CovariatePredictions",
    "fit_covariate_effects",
]

Array = NDArray[np.float64]

#: significance level of the likelihood-ratio test that keeps the covariate model
LR_ALPHA = 0.05
#: customers (and repeat customers) needed before covariates are fitted at all
MIN_CUSTOMERS = 200
MIN_REPEAT = 50
_STEP = 1e-5

_WORDS = {
    "purchase": "purchase rate",
    "dropout": "drop-out rate",
    "dropout_p": "chance of dropping out after a purchase",
}


@dataclass(frozen=True)
class CovariateEffects:
    """The covariate model's test against the plain model and each covariate's effect.

    ``effects`` has one row per covariate and process: ``covariate``, ``process``
    (``purchase``, ``dropout`` or ``dropout_p``), ``coefficient``, ``std_error``,
    ``p_value`` and ``multiplier`` with its 95 % interval (``lower``, ``upper``).
    """

    model_name: str
    covariates: tuple[str, ...]
    lr_statistic: float
    lr_df: int
    lr_p_value: float
    kept: bool
    effects: pd.DataFrame
    params: dict[str, float]
    n_customers: int
    on_dropout: bool = True

    @property
    def verdict(self) -> str:
        """The test's result in plain words, with the p-value."""
        p = _p_text(self.lr_p_value)
        cols = ", ".join(self.covariates) + (
            "" if self.on_dropout else "; on the purchase rate only, as drop-out is not measurable"
        )
        if self.kept:
            return (
                f"Covariates ({cols}) improve the {self.model_name} fit: a likelihood-ratio "
                f"test gives {p} (chi-square {self.lr_statistic:.1f} on {self.lr_df} degrees "
                "of freedom), so customers differ by these traits beyond chance and each "
                "customer's figures use their own traits."
            )
        return (
            f"Covariates ({cols}) do not improve the {self.model_name} fit enough: a "
            f"likelihood-ratio test gives {p} (chi-square {self.lr_statistic:.1f} on "
            f"{self.lr_df} degrees of freedom), above {LR_ALPHA:.0%}, so differences by "
            "these traits could be chance and the model without covariates is used."
        )

    def effect_lines(self) -> list[str]:
        """One sentence per coefficient, each with its multiplier and interval."""
        return [_effect_text(row) for row in self.effects.itertuples(index=False)]

    def summary(self) -> dict[str, Any]:
        return {
            "covariates": list(self.covariates),
            "covariates_model": self.model_name,
            "covariates_lr_statistic": _f(self.lr_statistic),
            "covariates_lr_df": self.lr_df,
            "covariates_lr_p_value": _f(self.lr_p_value),
            "covariates_kept": self.kept,
            "covariates_on_dropout": self.on_dropout,
            "covariates_verdict": self.verdict,
            "covariate_effects": [
                {k: (_f(v) if isinstance(v, float) else v) for k, v in r.items()}
                for r in self.effects.to_dict("records")
            ],
        }

    def findings(self) -> list[Finding]:
        out = [
            Finding(
                "customers.covariates_lr_p_value",
                self.lr_p_value,
                "probability",
                self.verdict,
                "info",
                {
                    "kept": self.kept,
                    "statistic": self.lr_statistic,
                    "df": self.lr_df,
                    "model": self.model_name,
                },
            )
        ]
        for row in self.effects.itertuples(index=False):
            r: Any = row
            out.append(
                Finding(
                    "customers.covariate_effect",
                    float(r.multiplier),
                    "ratio",
                    _effect_text(row)
                    + ("" if self.kept else " (the covariate model was not kept)"),
                    "info",
                    {
                        "covariate": str(row.covariate),
                        "process": str(row.process),
                        "lower": _f(row.lower),
                        "upper": _f(row.upper),
                        "p_value": _f(row.p_value),
                        "kept": self.kept,
                    },
                )
            )
        return out


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "no p-value"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


_NOUNS = {
    "channel": ("acquired through", "channel"),
    "region": ("in", "region"),
    "first_category": ("whose first order was mostly", "first category"),
    "store": ("who first bought at", "store"),
}


def _effect_text(row: Any) -> str:
    m, lo, hi = float(row.multiplier), float(row.lower), float(row.upper)
    ci = (
        f"95 % interval {lo:.2f} to {hi:.2f}"
        if math.isfinite(lo) and math.isfinite(hi)
        else "the data cannot pin down an interval"
    )
    tail = f"({ci}; {_p_text(float(row.p_value))})."
    what = _WORDS[str(row.process)]
    if row.covariate == "first_order_value":
        return f"Per doubling of the first order's value, the {what} is {m:.2f} times {tail}"
    name, _, level = str(row.covariate).partition("=")
    verb, noun = _NOUNS.get(name, (f"with {name}", name))
    who = f"other {noun}s (each under 2 % of customers)" if level == "other" else level
    return (
        f"Customers {verb} {who} have a {what} {m:.2f} times that of the most common {noun} {tail}"
    )


def _effects(model: BetaGeoCovariateModel | ParetoNBDCovariateModel) -> pd.DataFrame:
    """Multipliers with 95 % intervals, one row per covariate and process."""
    table = model.summary()
    z = float(norm.ppf(0.975))
    rows: list[dict[str, Any]] = []
    for name in model.purchase_covariates_:
        rows.append(_log_row(table, f"purchase:{name}", name, "purchase", z))
    if isinstance(model, ParetoNBDCovariateModel):
        for name in model.dropout_covariates_:
            rows.append(_log_row(table, f"dropout:{name}", name, "dropout", z))
    else:
        for name in model.dropout_covariates_:
            rows.append(_bgnbd_dropout_row(model, name, z))
    out = pd.DataFrame(rows)
    per_doubling = out["covariate"] == "first_order_value"
    if per_doubling.any():
        # the covariate is the centred log value: a doubling adds ln 2
        scale = math.log(2.0)
        for c in ("multiplier", "lower", "upper"):
            out.loc[per_doubling, c] = out.loc[per_doubling, c] ** scale
    return out


def _log_row(table: pd.DataFrame, key: str, name: str, process: str, z: float) -> dict[str, Any]:
    row = table.loc[key].to_numpy(dtype=float)
    g, se, p = (float(row[table.columns.get_loc(c)]) for c in ("estimate", "std_error", "p_value"))
    return {
        "covariate": name,
        "process": process,
        "coefficient": g,
        "std_error": se,
        "p_value": p,
        "multiplier": _exp(g),
        "lower": _exp(g - z * se),
        "upper": _exp(g + z * se),
    }


def _exp(x: float) -> float:
    """``exp(x)``, infinite instead of an ``OverflowError`` when ``x`` is past the float
    range (a near-boundary fit can have a standard error in the hundreds)."""
    return math.exp(x) if x < 709.0 else (math.nan if math.isnan(x) else math.inf)


def _bgnbd_dropout_row(model: BetaGeoCovariateModel, name: str, z: float) -> dict[str, Any]:
    """Ratio of the drop-out chance E[p] = a_i/(a_i+b_i) to the reference customer's."""
    keys = ["a", "b", f"dropout_a:{name}", f"dropout_b:{name}"]
    names = list(model.params_)
    idx = [names.index(k) for k in keys]
    theta = np.array([model.params_[k] for k in keys])
    cov = model.covariance_[np.ix_(idx, idx)]

    def log_ratio(t: Array) -> float:
        a, b, ga, gb = t
        ai, bi = a * math.exp(ga), b * math.exp(gb)
        return math.log(ai / (ai + bi)) - math.log(a / (a + b))

    lr = log_ratio(theta)
    grad = np.zeros(4)
    for j in range(4):  # four parameters
        step = _STEP * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += step
        dn[j] -= step
        grad[j] = (log_ratio(up) - log_ratio(dn)) / (2 * step)
    se = math.sqrt(max(float(grad @ cov @ grad), 0.0)) if np.isfinite(cov).all() else math.nan
    # Wald test of the ratio being 1 (log ratio 0)
    p = 2.0 * float(norm.sf(abs(lr) / se)) if se > 0 else math.nan
    return {
        "covariate": name,
        "process": "dropout_p",
        "coefficient": lr,
        "std_error": se,
        "p_value": p,
        "multiplier": _exp(lr),
        "lower": _exp(lr - z * se),
        "upper": _exp(lr + z * se),
    }


def fit_covariate_effects(
    ws: Any,
    summ: CustomerSummary,
    model_key: str,
    include: tuple[str, ...],
    currency: str,
    notes: list[str],
    *,
    on_dropout: bool = True,
) -> tuple[CovariateEffects, BetaGeoCovariateModel | ParetoNBDCovariateModel, pd.DataFrame]:
    """Fit the chosen model with covariates and test it against the plain model.

    With ``on_dropout`` False (the data show no measurable drop-out, so no trait can
    shift it) the covariates act on the purchase rate only.

    Raises
    ------
    DataError
        No covariate varies between customers, or they are collinear.
    ModelError
        The covariate model did not converge or its information matrix is singular.
    """
    z = customer_covariates(ws, summ.customer_id, include=include, currency=currency)
    if z.shape[1] == 0:
        raise DataError(f"none of the covariates ({', '.join(include)}) differs between customers")
    cls = BetaGeoCovariateModel if model_key == "bgnbd" else ParetoNBDCovariateModel
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = cls().fit(summ.frequency, summ.recency, summ.T, z, z if on_dropout else None)
    nb = len(model._base_names)
    coef_se = np.array(list(model.standard_errors_.values()))[nb:]
    # the base drop-out parameters may sit at their boundary (no measurable drop-out);
    # what must be determined are the coefficients
    if not model.converged_ or not (np.isfinite(coef_se).all() and (coef_se > 0).all()):
        raise ModelError(
            "the model with covariates did not converge or is weakly identified (a trait "
            "held by too few customers); choose fewer covariates with 'levelfield settings "
            "set customers.covariates ...'"
        )
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning | SmallSampleWarning):
            notes.append(f"covariate model: {w.message}")
    effects = _effects(model)
    kept = bool(model.lr_p_value_ < LR_ALPHA)
    result = CovariateEffects(
        model_name="BG/NBD" if model_key == "bgnbd" else "Pareto/NBD",
        covariates=tuple(include),
        lr_statistic=float(model.lr_statistic_),
        lr_df=int(model.lr_df_),
        lr_p_value=float(model.lr_p_value_),
        kept=kept,
        effects=effects,
        params=dict(model.params_),
        n_customers=len(summ.frequency),
        on_dropout=on_dropout,
    )
    return result, model, z


class CovariatePredictions:
    """Per-customer predictions of a fitted covariate model, with delta-method intervals.

    Intervals are formed in the fitted scale ``phi`` (log base parameters, raw
    coefficients), whose covariance is the covariate model's: coefficients can be 0 or
    negative, so the plain models' log-parameter steps do not apply.
    """

    def __init__(
        self,
        model: BetaGeoCovariateModel | ParetoNBDCovariateModel,
        z: pd.DataFrame,
        summ: CustomerSummary,
        units_per_month: float,
    ) -> None:
        self.model, self.z, self.summ, self.upm = model, z, summ, units_per_month
        self.zd = z if model.dropout_covariates_ else None
        nb = len(model._base_names)
        theta = np.array(list(model.params_.values()), dtype=float)
        jac = np.r_[theta[:nb], np.ones(len(theta) - nb)]
        self.theta, self.nb = theta, nb
        self.cov_phi = model.covariance_ / np.outer(jac, jac)

    def _twin(self, phi: Array) -> BetaGeoCovariateModel | ParetoNBDCovariateModel:
        theta = np.r_[np.exp(phi[: self.nb]), phi[self.nb :]]
        twin = type(self.model).__new__(type(self.model))
        twin.__dict__.update(self.model.__dict__)
        twin.__dict__["params_"] = {
            k: float(v) for k, v in zip(self.model.params_, theta, strict=True)
        }
        return twin

    def _phi(self) -> Array:
        out: Array = np.r_[np.log(self.theta[: self.nb]), self.theta[self.nb :]]
        return out

    def p_alive(self, m: Any | None = None) -> Array:
        m = m or self.model
        s = self.summ
        out: Array = m.probability_alive(s.frequency, s.recency, s.T, self.z, self.zd)
        return out

    def expected(self, days: float, unit_days: float, m: Any | None = None) -> Array:
        m = m or self.model
        s = self.summ
        out: Array = m.conditional_expected_purchases(
            days / unit_days, s.frequency, s.recency, s.T, self.z, self.zd
        )
        return out

    def discounted_purchases(self, months: int, rate: float, m: Any | None = None) -> Array:
        bound = _Bound(m or self.model, self.z, self.zd)
        s = self.summ
        return customer_lifetime_value(
            bound,
            s.frequency,
            s.recency,
            s.T,
            np.ones(len(s.frequency)),
            months=months,
            annual_discount_rate=rate,
            margin=1.0,
            units_per_month=self.upm,
        )

    def log_se(self, predict: Any) -> Array:
        """Delta-method standard error of ``log predict(model)`` per customer."""
        phi = self._phi()
        grads = []
        for j in range(len(phi)):  # one step per parameter, vectorized over customers
            up, dn = phi.copy(), phi.copy()
            up[j] += _STEP
            dn[j] -= _STEP
            with np.errstate(divide="ignore", invalid="ignore"):
                grads.append(
                    (np.log(predict(self._twin(up))) - np.log(predict(self._twin(dn))))
                    / (2 * _STEP)
                )
        g = np.nan_to_num(np.stack(grads))
        var = np.einsum("in,ij,jn->n", g, self.cov_phi, g)
        out: Array = np.sqrt(np.maximum(var, 0.0))
        return out


class _Bound:
    """A covariate model with each customer's covariates bound (the PurchaseModel shape)."""

    def __init__(self, model: Any, z: pd.DataFrame, zd: pd.DataFrame | None) -> None:
        self.model, self.z, self.zd = model, z, zd

    def conditional_expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Array:
        out: Array = self.model.conditional_expected_purchases(
            float(t), frequency, recency, T, self.z, self.zd
        )
        return out

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Array:
        out: Array = self.model.probability_alive(frequency, recency, T, self.z, self.zd)
        return out

    def survival(self, dt: float, frequency: Any, T: Any) -> Array:  # pragma: no cover
        raise ModelError("survival is not defined for the covariate models here")
