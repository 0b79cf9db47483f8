"""Customer lifetime value, model-based retention, RFM and data-driven segments, NPS."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from levelfield.errors import ConfigError, DataError, InsufficientDataError, SmallSampleWarning

__all__ = [
    "NPS",
    "cluster_segments",
    "customer_lifetime_value",
    "model_monthly_retention",
    "net_promoter_score",
    "rfm_segments",
]

Array = NDArray[np.float64]

#: days in an average month (365.25 / 12)
DAYS_PER_MONTH = 30.4375


class PurchaseModel(Protocol):
    def conditional_expected_purchases(
        self, t: ArrayLike | float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Array: ...

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Array: ...

    def survival(self, dt: float, frequency: ArrayLike, T: ArrayLike) -> Array: ...


def customer_lifetime_value(
    model: PurchaseModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    spend_per_purchase: ArrayLike,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
    units_per_month: float = DAYS_PER_MONTH / 7.0,
) -> Array:
    """Discounted expected value of each customer's purchases over the next ``months``.

    ``CLV = margin * spend * sum_{i=1..months} (E[Y(i m)] - E[Y((i-1) m)]) / (1+d)^(i/12)``
    where ``E[Y(t)]`` is the model's conditional expected purchases, ``m`` the length of a
    month in the model's time unit and ``d`` the annual discount rate (the same
    month-by-month discounting as lifetimes' ``customer_lifetime_value``).

    Parameters
    ----------
    model
        A fitted :class:`BetaGeoModel` or :class:`ParetoNBDModel`.
    frequency, recency, T
        The customers' summary (in the model's time unit).
    spend_per_purchase
        Expected value of one purchase per customer (currency), e.g.
        :meth:`GammaGammaModel.conditional_expected_spend`.
    months
        Horizon in months (1-600).
    annual_discount_rate
        Discount rate per year (share, 0-1).
    margin
        Share of revenue kept as profit (0-1]; 1 gives revenue value.
    units_per_month
        Model time units per month: 30.4375 for days, 4.348 for weeks.

    Returns
    -------
    ndarray
        CLV per customer (currency).

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value
       curves for customer base analysis. Journal of Marketing Research 42(4), 415-430.
    """
    if not (isinstance(months, int | np.integer) and 0 < months <= 600):
        raise ConfigError(f"months must be a whole number from 1 to 600, not {months!r}")
    if not (isinstance(annual_discount_rate, int | float) and 0 <= annual_discount_rate < 1):
        raise ConfigError(
            "annual_discount_rate must be a share from 0 to 1 (e.g. 0.10), "
            f"not {annual_discount_rate!r}"
        )
    if not (isinstance(margin, int | float) and 0 < margin <= 1):
        raise ConfigError(f"margin must be a share in (0, 1], not {margin!r}")
    if not (isinstance(units_per_month, int | float) and units_per_month > 0):
        raise ConfigError(f"units_per_month must be > 0, not {units_per_month!r}")
    spend = np.asarray(spend_per_purchase, dtype=float)
    if not np.isfinite(spend).all():
        raise DataError("spend_per_purchase has missing or infinite values")
    clv = np.zeros(len(spend))
    prev = np.zeros(len(spend))
    # a loop over months (at most 600), each step vectorized over all customers
    for i in range(1, int(months) + 1):
        cum = model.conditional_expected_purchases(i * units_per_month, frequency, recency, T)
        clv += (cum - prev) / (1.0 + annual_discount_rate) ** (i / 12.0)
        prev = cum
    return margin * spend * clv


def model_monthly_retention(
    model: PurchaseModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    units_per_month: float,
) -> float:
    """Share of customers alive now who are still alive one month later (model-based).

    ``sum_i P(alive_i) S_i(month) / sum_i P(alive_i)`` with ``S_i`` the posterior
    probability of surviving one more month given alive now (see
    :meth:`BetaGeoModel.survival`).
    """
    p = model.probability_alive(frequency, recency, T)
    s = model.survival(units_per_month, frequency, T)
    total = float(p.sum())
    if total <= 0:
        return 0.0
    return float((p * s).sum() / total)


# -- RFM ---------------------------------------------------------------------------------
def _score(values: Array, higher_is_better: bool = True) -> NDArray[np.int64]:
    """Quintile score 1-5 from ranks, ties sharing a score."""
    v = values if higher_is_better else -values
    pct = rankdata(v, method="average") / len(v)
    out: NDArray[np.int64] = np.clip(np.ceil(pct * 5.0), 1, 5).astype(np.int64)
    return out


#: named RFM segments, checked in this order (R = recency score, FM = frequency-value score)
RFM_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("champions", "bought recently, buy often and spend the most"),
    ("loyal", "buy regularly and spend well"),
    ("new", "made their first purchase recently"),
    ("potential loyalists", "recent customers with average frequency"),
    ("promising", "recent buyers who have not spent much yet"),
    ("can't lose", "used to buy often and spend a lot but have not returned for a long time"),
    ("at risk", "spent well in the past but have not bought for a while"),
    ("need attention", "above-average customers who have not bought very recently"),
    ("about to sleep", "below-average recency and frequency"),
    ("hibernating", "last bought long ago, bought rarely and spent little"),
    ("lost", "lowest recency, frequency and value"),
)


def rfm_segments(
    days_since_last: ArrayLike, purchases: ArrayLike, value: ArrayLike
) -> pd.DataFrame:
    """RFM quintile scores and named segments.

    Parameters
    ----------
    days_since_last
        Days since each customer's last purchase (lower is better).
    purchases
        Number of purchases (periods with a purchase, first included).
    value
        Total value bought (currency).

    Returns
    -------
    DataFrame
        Columns ``r``, ``f``, ``m`` (1-5), ``segment`` (names in :data:`RFM_SEGMENTS`).

    References
    ----------
    .. [1] Hughes, A. M. (1994). Strategic Database Marketing. Probus.
    """
    rec = np.asarray(days_since_last, dtype=float)
    freq = np.asarray(purchases, dtype=float)
    val = np.asarray(value, dtype=float)
    if not (len(rec) == len(freq) == len(val)):
        raise DataError("days_since_last, purchases and value must have one entry per customer")
    if len(rec) == 0:
        raise InsufficientDataError("no customers to score")
    for name, arr in (("days_since_last", rec), ("purchases", freq), ("value", val)):
        if not np.isfinite(arr).all():
            raise DataError(f"{name} has missing values; summaries must be complete")
    if (rec < 0).any() or (freq < 1).any():
        raise DataError("days_since_last must be >= 0 and purchases >= 1")
    r = _score(rec, higher_is_better=False)
    f = _score(freq)
    m = _score(val)
    fm = (f + m) / 2.0
    conds = [
        (r >= 4) & (fm >= 4),
        (r >= 3) & (fm >= 3),
        (r >= 4) & (freq <= 1),
        (r >= 4) & (fm >= 2),
        r >= 4,
        (r <= 2) & (fm >= 4.5),
        (r <= 2) & (fm >= 3),
        (r == 3) & (fm >= 2.5),
        r == 3,
        r == 2,
    ]
    names = [s for s, _ in RFM_SEGMENTS]
    segment = np.select(conds, names[:-1], default=names[-1])
    return pd.DataFrame({"r": r, "f": f, "m": m, "segment": segment})


# -- clustering --------------------------------------------------------------------------
def cluster_segments(
    features: pd.DataFrame,
    *,
    k_range: tuple[int, int] = (2, 6),
    seed: int = 0,
    max_silhouette_sample: int = 4000,
) -> tuple[NDArray[np.int64], pd.DataFrame, int]:
    """Data-driven customer segments by k-means on standardized features.

    The number of segments is the ``k`` in ``k_range`` with the highest mean silhouette
    (computed on a seeded sample of at most ``max_silhouette_sample`` customers).

    Parameters
    ----------
    features
        One row per customer; numeric columns (e.g. log recency, log frequency, log
        value, log CLV, category shares).
    k_range
        Smallest and largest number of segments tried.
    seed
        Seed of k-means and of the silhouette sample.

    Returns
    -------
    labels : ndarray of int
    profile : DataFrame
        Per segment: ``size``, mean of each feature and its standardized difference from
        all customers (``z_<feature>``).
    k : int

    References
    ----------
    .. [1] Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and
       validation of cluster analysis. J. Comput. Appl. Math. 20, 53-65.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    X = features.to_numpy(dtype=float)
    n = len(X)
    if n == 0 or X.shape[1] == 0:
        raise InsufficientDataError("no customers or no features to cluster")
    if not np.isfinite(X).all():
        raise DataError("cluster features contain missing values")
    lo, hi = k_range
    if not (isinstance(lo, int) and isinstance(hi, int) and 2 <= lo <= hi):
        raise ConfigError(f"k_range must be two whole numbers 2 <= low <= high, not {k_range!r}")
    sd = X.std(axis=0)
    keep = sd > 0
    Z = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    n_distinct = len(np.unique(Z, axis=0)) if Z.shape[1] else 1
    hi = min(hi, n_distinct - 1)
    if hi < lo:
        labels = np.zeros(n, dtype=np.int64)
        k = 1
    else:
        rng = np.random.default_rng(seed)
        idx = rng.choice(n, size=min(n, max_silhouette_sample), replace=False)
        best: tuple[float, int, Any] = (-2.0, lo, None)
        for k_try in range(lo, hi + 1):  # a handful of candidate k, not customers
            km = KMeans(n_clusters=k_try, n_init=4, random_state=seed).fit(Z)
            lab = km.labels_
            if len(np.unique(lab[idx])) < 2:
                continue
            sc = float(silhouette_score(Z[idx], lab[idx]))
            if sc > best[0]:
                best = (sc, k_try, lab)
        if best[2] is None:
            labels = np.zeros(n, dtype=np.int64)
            k = 1
        else:
            labels = np.asarray(best[2], dtype=np.int64)
            k = best[1]
    # order segments by size, largest first
    sizes = np.bincount(labels, minlength=k)
    order = np.argsort(-sizes, kind="stable")
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    labels = relabel[labels]
    df = features.copy()
    df["_seg"] = labels
    means = df.groupby("_seg").mean()
    overall_mean = features.mean()
    overall_sd = features.std(ddof=0).replace(0.0, 1.0)
    z = (means - overall_mean) / overall_sd
    profile = means.copy()
    profile.insert(0, "size", np.bincount(labels, minlength=k))
    for c in features.columns:
        profile[f"z_{c}"] = z[c]
    profile.index.name = "cluster"
    return labels, profile, k


# -- NPS ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NPS:
    """Net Promoter Score with a 95 % confidence interval (points, -100 to 100)."""

    score: float
    lower: float
    upper: float
    n: int
    promoters: float
    passives: float
    detractors: float

    def summary(self) -> dict[str, float | int]:
        return {
            "nps": self.score,
            "nps_lower": self.lower,
            "nps_upper": self.upper,
            "nps_n": self.n,
            "promoters": self.promoters,
            "detractors": self.detractors,
        }


def net_promoter_score(scores: ArrayLike, *, confidence: float = 0.95) -> NPS:
    """NPS = % promoters (9-10) - % detractors (0-6), with a Wald interval.

    The variance of the difference of two multinomial shares is
    ``(p_pro + p_det - (p_pro - p_det)^2) / n``.

    Raises
    ------
    DataError
        Scores outside 0-10, not whole numbers, or missing.
    InsufficientDataError
        No answers.

    References
    ----------
    .. [1] Reichheld, F. F. (2003). The one number you need to grow. Harvard Business
       Review 81(12), 46-54.
    .. [2] Rocks, B. (2016). Interval estimation for the "net promoter score". The
       American Statistician 70(4), 365-372.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # 8 answers: levelfield warns the interval is wide
    ...     nps = net_promoter_score([10, 9, 9, 8, 7, 6, 3, 10])
    >>> nps.score, nps.promoters, nps.detractors
    (25.0, 0.5, 0.25)
    """
    from scipy.stats import norm

    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        raise InsufficientDataError(
            "no survey answers; import them with 'levelfield import surveys FILE' (0-10 scores)"
        )
    if not np.isfinite(s).all():
        raise DataError("survey scores contain missing values")
    if ((s < 0) | (s > 10) | (s != np.round(s))).any():
        raise DataError(
            f"{int(((s < 0) | (s > 10) | (s != np.round(s))).sum()):,} survey score(s) are not "
            "whole numbers from 0 to 10; NPS uses the 0-10 'how likely to recommend' scale"
        )
    if not (0 < confidence < 1):
        raise ConfigError(f"confidence must be between 0 and 1, not {confidence!r}")
    n = int(s.size)
    if n < 30:
        warnings.warn(
            f"NPS rests on only {n} survey answers; its interval is wide",
            SmallSampleWarning,
            stacklevel=2,
        )
    pro = float((s >= 9).mean())
    det = float((s <= 6).mean())
    nps = pro - det
    var = max(pro + det - nps * nps, 0.0) / n
    zc = float(norm.ppf(0.5 + confidence / 2))
    half = zc * math.sqrt(var)
    return NPS(
        score=100 * nps,
        lower=100 * max(nps - half, -1.0),
        upper=100 * min(nps + half, 1.0),
        n=n,
        promoters=pro,
        passives=1.0 - pro - det,
        detractors=det,
    )
