"""Pilot and A/B kernels: difference-in-differences, two-proportion test, Bayesian
probability to beat control, group-sequential boundaries and the pilot planner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, special, stats

from levelfield.errors import ConfigError, InsufficientDataError

__all__ = [
    "ABTestResult",
    "DiDEstimate",
    "PilotPlan",
    "conversion_ab_test",
    "difference_in_differences",
    "plan_pilot",
    "probability_to_beat",
    "ratio_difference_in_differences",
    "repeated_testing_alpha",
    "sequential_boundaries",
    "sequential_inflation",
    "two_proportion_ztest",
]

FloatArray = NDArray[np.float64]
SequentialDesign = Literal["pocock", "obrien_fleming"]
_DESIGNS = ("pocock", "obrien_fleming")


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    if not isinstance(alpha, int | float) or not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"{name} must be a number between 0 and 1 (e.g. 0.05), not {alpha!r}")
    return float(alpha)


def _check_looks(looks: int) -> int:
    if isinstance(looks, bool) or not isinstance(looks, int | np.integer) or looks < 1:
        raise ConfigError(
            f"looks must be a whole number >= 1 (how often results were read), not {looks!r}"
        )
    if looks > 50:
        raise ConfigError(f"looks={looks} is more than 50 interim analyses; group the looks")
    return int(looks)


# -- group-sequential boundaries (numerical integration, Armitage et al. 1969) ----------
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _phi(x: FloatArray) -> FloatArray:
    return np.asarray(np.exp(-0.5 * x * x) / _SQRT_2PI, dtype=np.float64)


def _crossing_probabilities(
    bounds: FloatArray, t: FloatArray, drift: float = 0.0, n_grid: int = 401
) -> FloatArray:
    """Probability of first crossing ``|Z_k| >= bounds[k]`` at each look.

    ``Z_k = S_k / sqrt(t_k)`` where ``S`` is Brownian motion with drift ``drift`` on
    the information scale ``t`` (fractions of the final information). The density of
    ``S_k`` on the continuation region is propagated look by look with Simpson's rule
    (Jennison & Turnbull 2000, ch. 19).
    """
    K = bounds.size
    out = np.zeros(K)
    ndtr = special.ndtr
    dt1 = t[0]
    sd = math.sqrt(dt1)
    hi = bounds[0] * sd
    out[0] = ndtr((drift * dt1 - hi) / sd) + ndtr((-hi - drift * dt1) / sd)
    if K == 1:
        return out
    n_grid = n_grid | 1  # odd for Simpson
    simpson = np.ones(n_grid)
    simpson[1:-1:2] = 4.0
    simpson[2:-1:2] = 2.0
    grid = np.linspace(-hi, hi, n_grid)
    wts = simpson * (grid[1] - grid[0]) / 3.0
    dens = _phi((grid - drift * dt1) / sd) / sd
    for k in range(1, K):  # looks, not data
        dk = t[k] - t[k - 1]
        sk = math.sqrt(dk)
        hk = bounds[k] * math.sqrt(t[k])
        mass = wts * dens
        shift = grid + drift * dk
        out[k] = float(mass @ (ndtr((shift - hk) / sk) + ndtr((-hk - shift) / sk)))
        if k < K - 1:
            grid = np.linspace(-hk, hk, n_grid)
            dens = _phi((grid[:, None] - shift[None, :]) / sk) @ mass / sk
            wts = simpson * (grid[1] - grid[0]) / 3.0
    return out


def _info(looks: int, information: Sequence[float] | None) -> FloatArray:
    if information is None:
        return np.arange(1, looks + 1) / looks
    t = np.asarray(information, dtype=np.float64)
    if t.size != looks or np.any(np.diff(t) <= 0) or t[0] <= 0:
        raise ConfigError(
            "information must list one increasing, positive value per look "
            f"(got {list(t)} for {looks} looks)"
        )
    return np.asarray(t / t[-1], dtype=np.float64)


def _shape(design: str, t: FloatArray) -> FloatArray:
    if design == "pocock":
        return np.ones_like(t)
    if design == "obrien_fleming":
        return 1.0 / np.sqrt(t)
    raise ConfigError(f"unknown sequential design {design!r}; choose one of {', '.join(_DESIGNS)}")


def sequential_boundaries(
    looks: int,
    *,
    alpha: float = 0.05,
    design: SequentialDesign = "obrien_fleming",
    information: Sequence[float] | None = None,
) -> FloatArray:
    """Two-sided critical values ``|Z_k|`` for a group-sequential test.

    Parameters
    ----------
    looks
        Number of analyses, the last one included.
    alpha
        Overall two-sided false-positive rate.
    design
        ``"pocock"`` (the same bound at every look) or ``"obrien_fleming"`` (bound
        proportional to ``1/sqrt(information fraction)``: strict early, close to the
        fixed-sample value at the end).
    information
        Information (e.g. sample size) at each look; equally spaced when omitted.

    Returns
    -------
    numpy.ndarray
        One critical value per look.

    References
    ----------
    Pocock, S. J. (1977). Group sequential methods in the design and analysis of
    clinical trials. *Biometrika* 64(2), 191–199.
    O'Brien, P. C. and Fleming, T. R. (1979). A multiple testing procedure for clinical
    trials. *Biometrics* 35(3), 549–556.
    Jennison, C. and Turnbull, B. W. (2000). *Group Sequential Methods with Applications
    to Clinical Trials*, Tables 2.1 and 2.3. Chapman & Hall/CRC.
    """
    a = _check_alpha(alpha)
    K = _check_looks(looks)
    t = _info(K, information)
    shape = _shape(design, t)
    if K == 1:
        return np.array([stats.norm.isf(a / 2)])

    def excess(c: float) -> float:
        return float(np.sum(_crossing_probabilities(c * shape, t)) - a)

    c = optimize.brentq(excess, 1.0, 6.0, xtol=1e-8)
    return np.asarray(c * shape, dtype=np.float64)


def repeated_testing_alpha(looks: int, *, alpha: float = 0.05) -> float:
    """Actual false-positive rate when a fixed-sample test is read at every look.

    Testing at the nominal two-sided ``alpha`` after each of ``looks`` equally spaced
    batches inflates the chance of a false "significant" result: about 0.083 for two
    looks and 0.142 for five at ``alpha = 0.05``.

    References
    ----------
    Armitage, P., McPherson, C. K. and Rowe, B. C. (1969). Repeated significance tests
    on accumulating data. *JRSS A* 132(2), 235–244.

    Examples
    --------
    Peeking five times at a 5 % test makes a false "winner" about three times likelier:

    >>> round(repeated_testing_alpha(5), 3)
    0.142
    """
    a = _check_alpha(alpha)
    K = _check_looks(looks)
    z = stats.norm.isf(a / 2)
    return float(np.sum(_crossing_probabilities(np.full(K, z), np.arange(1, K + 1) / K)))


def sequential_inflation(
    looks: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    design: SequentialDesign = "obrien_fleming",
) -> float:
    """Maximum sample size of a group-sequential design relative to a fixed design.

    References
    ----------
    Jennison, C. and Turnbull, B. W. (2000), Tables 2.2 and 2.4 (``R_P`` and ``R_B``).
    """
    a = _check_alpha(alpha)
    pw = _check_alpha(power, "power")
    K = _check_looks(looks)
    if K == 1:
        return 1.0
    t = np.arange(1, K + 1) / K
    bounds = sequential_boundaries(K, alpha=a, design=design)
    fixed = stats.norm.isf(a / 2) + stats.norm.isf(1 - pw)

    def shortfall(theta: float) -> float:
        return float(np.sum(_crossing_probabilities(bounds, t, drift=theta)) - pw)

    theta = optimize.brentq(shortfall, fixed * 0.9, fixed * 1.6, xtol=1e-8)
    return float((theta / fixed) ** 2)


# -- two-proportion tests ---------------------------------------------------------------
def _counts(conversions: Any, visitors: Any, arm: str) -> tuple[int, int]:
    for name, v in (("conversions", conversions), ("visitors", visitors)):
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise ConfigError(f"{arm} {name} must be a number, not {type(v).__name__}")
        if not math.isfinite(float(v)) or float(v) < 0 or float(v) != int(v):
            raise ConfigError(f"{arm} {name} must be a whole number >= 0, not {v!r}")
    c, n = int(conversions), int(visitors)
    if n == 0:
        raise InsufficientDataError(f"{arm} arm has no visitors; the test needs both arms")
    if c > n:
        raise ConfigError(f"{arm} arm has more conversions ({c}) than visitors ({n})")
    return c, n


def two_proportion_ztest(
    conversions_test: int, visitors_test: int, conversions_control: int, visitors_control: int
) -> tuple[float, float]:
    """Pooled two-proportion z statistic and two-sided p-value (test minus control).

    Same statistic as ``statsmodels.stats.proportion.proportions_ztest``.

    References
    ----------
    Fleiss, J. L., Levin, B. and Paik, M. C. (2003). *Statistical Methods for Rates and
    Proportions*, 3rd ed., §3.2. Wiley.

    Examples
    --------
    6.0 % of 1,000 visitors bought at the test price, 4.0 % of 1,000 at the old one:

    >>> z, p = two_proportion_ztest(60, 1000, 40, 1000)
    >>> round(z, 2), round(p, 3)
    (2.05, 0.04)
    """
    c1, n1 = _counts(conversions_test, visitors_test, "test")
    c0, n0 = _counts(conversions_control, visitors_control, "control")
    p1, p0 = c1 / n1, c0 / n0
    pp = (c1 + c0) / (n1 + n0)
    var = pp * (1 - pp) * (1 / n1 + 1 / n0)
    if var <= 0:
        return 0.0, 1.0
    z = (p1 - p0) / math.sqrt(var)
    return z, float(2 * stats.norm.sf(abs(z)))


def probability_to_beat(
    conversions_test: int,
    visitors_test: int,
    conversions_control: int,
    visitors_control: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
) -> float:
    """Posterior probability that the test arm converts better than control.

    Beta-binomial model with a ``Beta(a, b)`` prior on each arm's rate. With an
    integer posterior ``a`` for the test arm the closed form of Miller (2015) is used
    (a sum evaluated in logs, vectorized); otherwise one-dimensional quadrature.

    References
    ----------
    Miller, E. (2015). Formulas for Bayesian A/B testing.
    https://www.evanmiller.org/bayesian-ab-testing.html
    Cook, J. D. (2005). Exact calculation of beta inequalities. UT MD Anderson
    Cancer Center Technical Report.
    """
    c1, n1 = _counts(conversions_test, visitors_test, "test")
    c0, n0 = _counts(conversions_control, visitors_control, "control")
    a0p, b0p = prior
    if not (a0p > 0 and b0p > 0):
        raise ConfigError(f"prior must be two positive numbers (a, b), not {prior!r}")
    aB, bB = c1 + a0p, n1 - c1 + b0p
    aA, bA = c0 + a0p, n0 - c0 + b0p
    if float(aB).is_integer() and aB <= 5_000_000:
        i = np.arange(int(aB), dtype=np.float64)
        terms = (
            special.betaln(aA + i, bA + bB)
            - np.log(bB + i)
            - special.betaln(1 + i, bB)
            - special.betaln(aA, bA)
        )
        return float(min(1.0, max(0.0, np.exp(special.logsumexp(terms)))))

    def integrand(x: float) -> float:
        return float(stats.beta.pdf(x, aB, bB) * stats.beta.cdf(x, aA, bA))

    val, _ = integrate.quad(integrand, 0.0, 1.0, limit=200)
    return float(min(1.0, max(0.0, val)))


@dataclass(frozen=True)
class ABTestResult:
    """A conversion A/B test: frequentist and Bayesian reading side by side.

    Attributes
    ----------
    rate_test, rate_control
        Conversion rates (share 0–1).
    difference, ci_low, ci_high
        Test minus control (share points) and its Wald interval at ``1 - alpha``.
    relative_lift
        ``rate_test / rate_control - 1``.
    z, p_value
        Pooled two-proportion z-test.
    probability_to_beat
        Posterior probability that test converts better (beta-binomial).
    looks, sequential, design
        How often results were read and whether a sequential design was declared.
    adjusted_ci_low, adjusted_ci_high, adjusted_critical
        Repeated-confidence interval at the last look when ``looks > 1``.
    false_positive_rate
        Actual false-positive rate of the unadjusted test under repeated looks.
    """

    conversions_test: int
    visitors_test: int
    conversions_control: int
    visitors_control: int
    rate_test: float
    rate_control: float
    difference: float
    ci_low: float
    ci_high: float
    relative_lift: float
    z: float
    p_value: float
    probability_to_beat: float
    alpha: float
    looks: int = 1
    sequential: bool = False
    design: str = "fixed"
    adjusted_ci_low: float = float("nan")
    adjusted_ci_high: float = float("nan")
    adjusted_critical: float = float("nan")
    false_positive_rate: float = float("nan")
    notes: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        """Whether the (adjusted, when looks > 1) interval excludes zero."""
        if self.looks > 1:
            return bool(self.adjusted_ci_low > 0 or self.adjusted_ci_high < 0)
        return bool(self.p_value < self.alpha)

    @property
    def peeking_warning(self) -> str | None:
        """Plain-language warning when results were read more than once."""
        if self.looks <= 1:
            return None
        if self.sequential:
            return (
                f"results were read {self.looks} times under a declared {self.design} "
                "sequential design; use the adjusted interval "
                f"({self.adjusted_ci_low:+.4f} to {self.adjusted_ci_high:+.4f})"
            )
        return (
            f"results were read {self.looks} times without a sequential design: the "
            f"nominal {self.alpha:.0%} test really has a {self.false_positive_rate:.1%} "
            "false-positive rate; trust only the adjusted interval "
            f"({self.adjusted_ci_low:+.4f} to {self.adjusted_ci_high:+.4f})"
        )

    def summary(self) -> dict[str, Any]:
        return {
            "rate_test": self.rate_test,
            "rate_control": self.rate_control,
            "difference": self.difference,
            "ci": [self.ci_low, self.ci_high],
            "p_value": self.p_value,
            "probability_to_beat": self.probability_to_beat,
            "looks": self.looks,
            "adjusted_ci": None
            if self.looks <= 1
            else [self.adjusted_ci_low, self.adjusted_ci_high],
            "significant": self.significant,
        }

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "arm": ["test", "control"],
                "conversions": [self.conversions_test, self.conversions_control],
                "visitors": [self.visitors_test, self.visitors_control],
                "rate": [self.rate_test, self.rate_control],
            }
        )


def _repeated_looks(
    K: int, design: SequentialDesign, diff: float, se: float, a: float
) -> tuple[str, tuple[float, float, float], float]:
    """For a test read ``K`` times: the design, the interval at the design's last-look
    boundary ``(low, high, critical value)`` and the false-positive rate of reading a
    fixed test that often. One look: ``"fixed"`` and NaNs."""
    if K <= 1:
        return "fixed", (float("nan"), float("nan"), float("nan")), float("nan")
    crit = float(sequential_boundaries(K, alpha=a, design=design)[-1])
    return design, (diff - crit * se, diff + crit * se, crit), repeated_testing_alpha(K, alpha=a)


def conversion_ab_test(
    conversions_test: int,
    visitors_test: int,
    conversions_control: int,
    visitors_control: int,
    *,
    alpha: float = 0.05,
    prior: tuple[float, float] = (1.0, 1.0),
    looks: int = 1,
    sequential: bool = False,
    design: SequentialDesign = "obrien_fleming",
) -> ABTestResult:
    """Analyse a conversion A/B test (test arm against control).

    Parameters
    ----------
    conversions_test, visitors_test, conversions_control, visitors_control
        Counts per arm (whole numbers, conversions <= visitors).
    alpha
        Two-sided significance level.
    prior
        ``Beta(a, b)`` prior for both arms' conversion rates.
    looks
        How many times the results were read (interim looks plus the final one).
    sequential
        Whether a sequential design was declared before the test. Then the adjusted
        interval uses that ``design``'s boundary at the last look; without a declared
        design, repeated looks are peeking and the interval uses the (wider) Pocock
        boundary, the conservative repair.
    design
        ``"obrien_fleming"`` or ``"pocock"``: the declared design.

    Returns
    -------
    ABTestResult

    References
    ----------
    Jennison, C. and Turnbull, B. W. (2000), ch. 9 (repeated confidence intervals).
    """
    a = _check_alpha(alpha)
    K = _check_looks(looks)
    if design not in _DESIGNS:
        raise ConfigError(
            f"unknown sequential design {design!r}; choose one of {', '.join(_DESIGNS)}"
        )
    z, p = two_proportion_ztest(
        conversions_test, visitors_test, conversions_control, visitors_control
    )
    c1, n1 = int(conversions_test), int(visitors_test)
    c0, n0 = int(conversions_control), int(visitors_control)
    r1, r0 = c1 / n1, c0 / n0
    diff = r1 - r0
    se = math.sqrt(r1 * (1 - r1) / n1 + r0 * (1 - r0) / n0)
    zc = stats.norm.isf(a / 2)
    prob = probability_to_beat(c1, n1, c0, n0, prior=prior)
    notes: list[str] = []
    design_name, adj, fpr = _repeated_looks(K, design if sequential else "pocock", diff, se, a)
    if min(c1, c0, n1 - c1, n0 - c0) < 5:
        notes.append("fewer than 5 conversions or non-conversions in an arm: the z-test is rough")
    return ABTestResult(
        conversions_test=c1,
        visitors_test=n1,
        conversions_control=c0,
        visitors_control=n0,
        rate_test=r1,
        rate_control=r0,
        difference=diff,
        ci_low=diff - zc * se,
        ci_high=diff + zc * se,
        relative_lift=(r1 / r0 - 1) if r0 > 0 else float("nan"),
        z=z,
        p_value=p,
        probability_to_beat=prob,
        alpha=a,
        looks=K,
        sequential=bool(sequential),
        design=design_name,
        adjusted_ci_low=adj[0],
        adjusted_ci_high=adj[1],
        adjusted_critical=adj[2],
        false_positive_rate=fpr,
        notes=tuple(notes),
    )


# -- difference-in-differences ----------------------------------------------------------
@dataclass(frozen=True)
class DiDEstimate:
    """Difference-in-differences estimate with its interval.

    ``effect`` is ``(test post - test pre) - (control post - control pre)`` in the
    outcome's unit; ``relative_effect`` divides it by the test arm's counterfactual
    post mean (test pre + control change).
    """

    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    relative_effect: float
    counterfactual: float
    n_obs: int
    n_clusters: int
    df: int
    means: dict[str, float] = field(default_factory=dict)


def _did_inputs(
    y: ArrayLike, treated: ArrayLike, post: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Outcome, test and after indicators as floats; all four cells must have data."""
    yv = np.asarray(y, dtype=np.float64)
    d = np.asarray(treated, dtype=np.float64)
    p = np.asarray(post, dtype=np.float64)
    if not (yv.shape == d.shape == p.shape) or yv.ndim != 1:
        raise ConfigError(
            "difference_in_differences: y, treated and post must be 1-D of equal length"
        )
    if not np.all(np.isfinite(yv)):
        raise ConfigError("difference_in_differences: y has NaN or infinite values")
    cells = {(i, j): int(np.sum((d == i) & (p == j))) for i in (0, 1) for j in (0, 1)}
    missing = [
        f"{'test' if i else 'control'}/{'after' if j else 'before'}"
        for (i, j), c in cells.items()
        if c == 0
    ]
    if missing:
        raise InsufficientDataError(
            f"difference-in-differences needs data in all four cells; none in {', '.join(missing)}"
        )
    return yv, d, p


def _robust_cov(
    X: FloatArray, u: FloatArray, XtX_inv: FloatArray, cluster: ArrayLike | None
) -> tuple[FloatArray, int, int]:
    """OLS sandwich covariance: clustered (CR1, t with G - 1 df) or HC1 (n - k df).

    Returns ``(covariance, clusters or observations, degrees of freedom)``.
    """
    n, k = X.shape
    if cluster is not None:
        codes = np.unique(np.asarray(cluster), return_inverse=True)[1]
        G = int(codes.max()) + 1
        scores = np.column_stack(
            [np.bincount(codes, weights=X[:, j] * u, minlength=G) for j in range(k)]
        )
        factor = (G / max(G - 1, 1)) * ((n - 1) / max(n - k, 1))
        return factor * XtX_inv @ (scores.T @ scores) @ XtX_inv, G, max(G - 1, 1)
    meat = (X * (u * u)[:, None]).T @ X
    return (n / max(n - k, 1)) * XtX_inv @ meat @ XtX_inv, n, max(n - k, 1)


def difference_in_differences(
    y: ArrayLike,
    treated: ArrayLike,
    post: ArrayLike,
    *,
    cluster: ArrayLike | None = None,
    alpha: float = 0.05,
) -> DiDEstimate:
    """Two-by-two difference-in-differences by OLS with an interaction.

    ``y = b0 + b1 treated + b2 post + d treated*post + u``; ``d`` is the effect.
    Standard errors are clustered on ``cluster`` (the randomization unit: store,
    customer, channel) with the ``G/(G-1) (n-1)/(n-K)`` factor and a t reference with
    ``G - 1`` degrees of freedom; without clusters, HC1 with ``n - 4``.
    Same numbers as statsmodels ``OLS(...).fit(cov_type="cluster", use_t=True)``.

    References
    ----------
    Angrist, J. D. and Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, ch. 5.
    Bertrand, M., Duflo, E. and Mullainathan, S. (2004). How much should we trust
    differences-in-differences estimates? *QJE* 119(1), 249–275.
    """
    a = _check_alpha(alpha)
    yv, d, p = _did_inputs(y, treated, post)
    X = np.column_stack([np.ones_like(yv), d, p, d * p])
    n = X.shape[0]
    XtX_inv = np.linalg.inv(X.T @ X)
    beta = XtX_inv @ X.T @ yv
    u = yv - X @ beta
    cov, G, df = _robust_cov(X, u, XtX_inv, cluster)
    se = float(math.sqrt(max(cov[3, 3], 0.0)))
    eff = float(beta[3])
    tc = float(stats.t.isf(a / 2, df))
    pval = float(2 * stats.t.sf(abs(eff) / se, df)) if se > 0 else (0.0 if eff != 0 else 1.0)
    means = {
        "control_before": float(beta[0]),
        "control_after": float(beta[0] + beta[2]),
        "test_before": float(beta[0] + beta[1]),
        "test_after": float(beta.sum()),
    }
    cf = means["test_before"] + (means["control_after"] - means["control_before"])
    return DiDEstimate(
        effect=eff,
        se=se,
        ci_low=eff - tc * se,
        ci_high=eff + tc * se,
        p_value=pval,
        relative_effect=eff / cf if cf > 0 else float("nan"),
        counterfactual=cf,
        n_obs=n,
        n_clusters=G,
        df=df,
        means=means,
    )


def ratio_difference_in_differences(
    y: ArrayLike,
    treated: ArrayLike,
    post: ArrayLike,
    *,
    cluster: ArrayLike | None = None,
    alpha: float = 0.05,
) -> DiDEstimate:
    """Difference-in-differences in logs: the proportional effect on a count outcome.

    The saturated Poisson model ``E[y] = exp(b0 + b1 treated + b2 post + d treated*post)``
    gives ``d = log(m11/m10) - log(m01/m00)`` from the four cell means: the test arm's
    change relative to the control arm's, robust to arms of different size (parallel
    trends in proportions, not in levels). ``relative_effect = exp(d) - 1``. Standard
    errors are the cluster-robust Poisson sandwich (statsmodels' ``GLM(...,
    Poisson()).fit(cov_type="cluster")`` factor ``G/(G-1) (n-1)/(n-4)``); the interval
    uses a t reference with ``G - 1`` degrees of freedom (``n - 4`` without clusters).

    References
    ----------
    Santos Silva, J. M. C. and Tenreyro, S. (2006). The log of gravity. *REStat* 88(4).
    Wooldridge, J. M. (2023). Simple approaches to nonlinear difference-in-differences
    with panel data. *The Econometrics Journal* 26(3), C31–C66.
    """
    a = _check_alpha(alpha)
    yv = np.asarray(y, dtype=np.float64)
    d = np.asarray(treated, dtype=np.float64)
    p = np.asarray(post, dtype=np.float64)
    if not (yv.shape == d.shape == p.shape) or yv.ndim != 1:
        raise ConfigError(
            "ratio_difference_in_differences: y, treated and post must be 1-D of equal length"
        )
    if not np.all(np.isfinite(yv)) or np.any(yv < 0):
        raise ConfigError("ratio_difference_in_differences: y must be counts >= 0 without NaN")
    cell = (2 * d + p).astype(np.intp)  # 0 C-before, 1 C-after, 2 T-before, 3 T-after
    n_k = np.bincount(cell, minlength=4).astype(np.float64)
    s_k = np.bincount(cell, weights=yv, minlength=4)
    if np.any(n_k == 0) or np.any(s_k <= 0):
        raise InsufficientDataError(
            "a proportional difference-in-differences needs sales in all four cells "
            "(test/control x before/after)"
        )
    m = s_k / n_k
    sign = np.array([1.0, -1.0, -1.0, 1.0])
    eff = float(np.sum(sign * np.log(m)))
    n = yv.size
    if cluster is not None:
        codes = np.unique(np.asarray(cluster), return_inverse=True)[1]
        G = int(codes.max()) + 1
    else:
        codes = np.arange(n)
        G = n
    # influence of each observation on d: sign_k (y - m_k) / (n_k m_k)
    infl = sign[cell] * (yv - m[cell]) / (n_k[cell] * m[cell])
    score = np.bincount(codes, weights=infl, minlength=G)
    factor = (G / max(G - 1, 1)) * ((n - 1) / max(n - 4, 1))
    se = float(math.sqrt(factor * np.sum(score * score)))
    df = max(G - 1, 1) if cluster is not None else max(n - 4, 1)
    tc = float(stats.t.isf(a / 2, df))
    pval = float(2 * stats.t.sf(abs(eff) / se, df)) if se > 0 else (0.0 if eff != 0 else 1.0)
    cf = float(m[2] * m[1] / m[0])
    return DiDEstimate(
        effect=eff,
        se=se,
        ci_low=eff - tc * se,
        ci_high=eff + tc * se,
        p_value=pval,
        relative_effect=float(math.expm1(eff)),
        counterfactual=cf,
        n_obs=n,
        n_clusters=G,
        df=df,
        means={
            "control_before": float(m[0]),
            "control_after": float(m[1]),
            "test_before": float(m[2]),
            "test_after": float(m[3]),
        },
    )


# -- planner ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PilotPlan:
    """A pilot design: how many units per arm to detect an effect of a given size.

    Attributes
    ----------
    units_per_arm, units_control, total_units
        Units (stores, customers, weeks) to assign; whole numbers, rounded up.
    kind
        ``"conversion"`` (two proportions) or ``"mean"`` (e.g. weekly units per store).
    minimum_effect
        Smallest relative effect worth detecting (0.05 = 5 %).
    effect_size
        Standardised effect (Cohen's h for rates, d for means).
    design, looks, inflation, boundaries
        Sequential design, interim looks, sample-size inflation and critical values.
    """

    kind: str
    units_per_arm: int
    units_control: int
    total_units: int
    minimum_effect: float
    effect_size: float
    alpha: float
    power: float
    ratio: float
    design: str
    looks: int
    inflation: float
    boundaries: tuple[float, ...]
    baseline: float
    units_available: int | None = None

    @property
    def feasible(self) -> bool:
        """Whether the units available (when given) are enough."""
        return self.units_available is None or self.total_units <= self.units_available

    def describe(self) -> str:
        """One plain-language sentence for the owner."""
        what = "visitors" if self.kind == "conversion" else "units (stores, customers or weeks)"
        text = (
            f"To detect a {self.minimum_effect:.0%} change with {self.power:.0%} power at "
            f"{self.alpha:.0%} significance, assign {self.units_per_arm:,} {what} to the test "
            f"arm and {self.units_control:,} to control"
        )
        if self.looks > 1:
            text += (
                f", reading results {self.looks} times under a {self.design.replace('_', '-')} "
                f"design (sample {self.inflation:.3f}x a single look)"
            )
        if not self.feasible:
            text += f"; only {self.units_available:,} are available, so aim for a larger effect"
        return text + "."

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "units_per_arm": self.units_per_arm,
            "units_control": self.units_control,
            "total_units": self.total_units,
            "minimum_effect": self.minimum_effect,
            "alpha": self.alpha,
            "power": self.power,
            "design": self.design,
            "looks": self.looks,
            "inflation": self.inflation,
            "feasible": self.feasible,
        }


def _t_power(d: float, n1: float, ratio: float, alpha: float) -> float:
    n2 = n1 * ratio
    df = n1 + n2 - 2
    nobs = 1.0 / (1.0 / n1 + 1.0 / n2)
    crit = stats.t.isf(alpha / 2, df)
    nc = d * math.sqrt(nobs)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def _z_power(h: float, n1: float, ratio: float, alpha: float) -> float:
    nobs = 1.0 / (1.0 / n1 + 1.0 / (n1 * ratio))
    crit = stats.norm.isf(alpha / 2)
    s = h * math.sqrt(nobs)
    return float(stats.norm.sf(crit - s) + stats.norm.cdf(-crit - s))


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a number, not {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} must be a positive number, not {value!r}")
    return v


def _pilot_effect(
    eff: float,
    r: float,
    a: float,
    baseline_rate: float | None,
    baseline_mean: float | None,
    baseline_sd: float | None,
) -> tuple[str, float, float, Callable[[float], float], float]:
    """The pilot's outcome kind, standardized effect size and power as a function of
    the test arm's units.

    A conversion rate uses Cohen's ``h`` (arcsine difference) with the normal test; a
    mean outcome uses Cohen's ``d = effect x mean / sd`` with the t test. Returns
    ``(kind, effect_size, baseline, power(n), smallest n)``.
    """
    if baseline_rate is not None:
        p0 = _positive(baseline_rate, "baseline_rate")
        if p0 >= 1:
            raise ConfigError(f"baseline_rate is a share between 0 and 1, not {baseline_rate!r}")
        p1 = p0 * (1 + eff)
        if p1 >= 1:
            raise ConfigError(
                f"a {eff:.0%} lift on a {p0:.1%} rate exceeds 100 %; "
                "choose a smaller minimum_effect"
            )
        h = abs(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0)))
        return "conversion", h, p0, lambda n: _z_power(h, n, r, a), 2.0
    if baseline_mean is not None and baseline_sd is not None:
        m = _positive(baseline_mean, "baseline_mean")
        s = _positive(baseline_sd, "baseline_sd")
        d = eff * m / s
        return "mean", d, m, lambda n: _t_power(d, n, r, a), 2.0 + 1e-9
    raise ConfigError(
        "plan_pilot needs baseline_rate (conversion test) or baseline_mean and "
        "baseline_sd (a mean outcome per unit)"
    )


def _units_for_power(gap: Callable[[float], float], lo: float) -> float:
    """The (fractional) units per arm where ``gap`` (power minus target) reaches 0.

    Brackets the root by growing the upper end fourfold, then Brent's method; ``lo``
    itself when even the smallest pilot has the power.
    """
    hi = 10.0
    while gap(hi) < 0:  # a few bracket steps, not a loop over data
        hi *= 4
        if hi > 1e12:
            raise ConfigError("the effect is too small to detect with any realistic pilot")
    return lo if gap(lo) >= 0 else float(optimize.brentq(gap, lo, hi, xtol=1e-8))


def plan_pilot(
    *,
    minimum_effect: float,
    baseline_rate: float | None = None,
    baseline_mean: float | None = None,
    baseline_sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    looks: int = 1,
    design: SequentialDesign = "obrien_fleming",
    units_available: int | None = None,
) -> PilotPlan:
    """Sample size for the next pilot or A/B test.

    Give either ``baseline_rate`` (a conversion test: share 0–1 of visitors who buy)
    or ``baseline_mean`` and ``baseline_sd`` (a test on a mean outcome per unit, e.g.
    weekly units per store; for a difference-in-differences pilot give the SD of each
    unit's before-to-after change). ``minimum_effect`` is the smallest *relative*
    change worth detecting (0.10 = 10 %).

    For rates the power is that of the two-sided z-test on Cohen's ``h``
    (arcsine-transformed difference), for means that of the two-sample t-test
    (noncentral t), as in ``statsmodels.stats.power.NormalIndPower`` and
    ``TTestIndPower``. With ``looks > 1`` the fixed sample is multiplied by the
    group-sequential inflation factor of ``design`` (:func:`sequential_inflation`).

    Parameters
    ----------
    minimum_effect
        Smallest relative effect to detect (share, > 0).
    baseline_rate, baseline_mean, baseline_sd
        The outcome today (see above).
    alpha, power
        Two-sided significance level and the power wanted.
    ratio
        Control units per test unit.
    looks, design
        Planned analyses and the sequential design used to read them.
    units_available
        Units that exist (stores, customers per period); sets ``feasible``.

    Returns
    -------
    PilotPlan

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.,
    ch. 2 and 6. Erlbaum.
    Jennison, C. and Turnbull, B. W. (2000), §2.5.
    """
    a = _check_alpha(alpha)
    pw = _check_alpha(power, "power")
    K = _check_looks(looks)
    eff = _positive(minimum_effect, "minimum_effect")
    r = _positive(ratio, "ratio")
    if design not in _DESIGNS:
        raise ConfigError(
            f"unknown sequential design {design!r}; choose one of {', '.join(_DESIGNS)}"
        )
    kind, es, base, power_at, lo = _pilot_effect(
        eff, r, a, baseline_rate, baseline_mean, baseline_sd
    )
    n1 = _units_for_power(lambda n: power_at(n) - pw, lo)
    infl = sequential_inflation(K, alpha=a, power=pw, design=design) if K > 1 else 1.0
    bounds = tuple(float(b) for b in sequential_boundaries(K, alpha=a, design=design))
    n_test = math.ceil(n1 * infl - 1e-9)
    n_ctrl = math.ceil(n1 * infl * r - 1e-9)
    avail = None if units_available is None else int(_positive(units_available, "units_available"))
    return PilotPlan(
        kind=kind,
        units_per_arm=n_test,
        units_control=n_ctrl,
        total_units=n_test + n_ctrl,
        minimum_effect=eff,
        effect_size=float(es),
        alpha=a,
        power=pw,
        ratio=r,
        design=design if K > 1 else "fixed",
        looks=K,
        inflation=infl,
        boundaries=bounds,
        baseline=base,
        units_available=avail,
    )
