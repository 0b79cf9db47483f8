"""Empirical-Bayes partial pooling of product elasticities toward their category mean."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ShrinkageFit", "shrink_to_group_means"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class ShrinkageFit:
    """Partially pooled estimates.

    Attributes
    ----------
    estimate, se
        Posterior mean and standard deviation per item.
    weight
        Weight on the item's own estimate, ``tau2 / (tau2 + se_raw^2)`` (0–1; 1 means
        no pooling).
    group_mean, group_se
        Random-effects mean per group and its standard error.
    tau2
        Between-item variance around the group means (shared by all groups).
    """

    estimate: FloatArray
    se: FloatArray
    weight: FloatArray
    group_mean: FloatArray
    group_se: FloatArray
    tau2: float


def shrink_to_group_means(
    estimate: FloatArray, se: FloatArray, group: IntArray, *, n_groups: int
) -> ShrinkageFit:
    """Shrink noisy estimates toward their group's mean (normal–normal empirical Bayes).

    Model: ``b_i ~ N(beta_i, s_i^2)``, ``beta_i ~ N(mu_g, tau^2)``. ``tau^2`` is the
    DerSimonian–Laird moment estimator generalised to several group means
    (``Q`` about the fixed-effect group means with ``k - G`` degrees of freedom); the
    group means are the random-effects weighted means. A group with a single item
    cannot estimate its own mean and is pooled with all items (``mu`` over every
    item). The posterior variance includes the uncertainty of the group mean
    (Morris 1983, eq. 3.4).

    Parameters
    ----------
    estimate, se
        Raw estimates and standard errors (finite, ``se > 0``).
    group
        Dense group codes ``0..n_groups-1`` (e.g. product category).
    n_groups
        Number of groups.

    References
    ----------
    DerSimonian, R. and Laird, N. (1986). Meta-analysis in clinical trials.
    *Controlled Clinical Trials* 7(3), 177–188.
    Morris, C. N. (1983). Parametric empirical Bayes inference: theory and applications.
    *JASA* 78(381), 47–55.
    """
    b = np.asarray(estimate, dtype=np.float64)
    s2 = np.asarray(se, dtype=np.float64) ** 2
    k = b.size
    if k == 0:
        empty = np.zeros(0)
        return ShrinkageFit(
            empty, empty, empty, np.full(n_groups, np.nan), np.full(n_groups, np.nan), 0.0
        )
    size = np.bincount(group, minlength=n_groups)
    # singleton groups join a pooled group (code n_groups)
    g = np.where(size[group] >= 2, group, n_groups)
    G = n_groups + 1
    w = 1.0 / s2
    sw = np.bincount(g, weights=w, minlength=G)
    mu_fe = np.bincount(g, weights=w * b, minlength=G) / np.where(sw > 0, sw, 1.0)
    Q = float(np.sum(w * (b - mu_fe[g]) ** 2))
    used = int(np.sum(np.bincount(g, minlength=G) > 0))
    sw2 = np.bincount(g, weights=w * w, minlength=G)
    denom = float(np.sum(sw) - np.sum(sw2 / np.where(sw > 0, sw, 1.0)))
    tau2 = max(0.0, (Q - (k - used)) / denom) if denom > 0 else 0.0
    wr = 1.0 / (s2 + tau2)
    swr = np.bincount(g, weights=wr, minlength=G)
    mu = np.bincount(g, weights=wr * b, minlength=G) / np.where(swr > 0, swr, 1.0)
    var_mu = 1.0 / np.where(swr > 0, swr, np.inf)
    # singleton-category items pool toward the mean of all items
    if np.any(g == n_groups):
        wr_all = float(np.sum(wr))
        mu[n_groups] = float(np.sum(wr * b) / wr_all)
        var_mu[n_groups] = 1.0 / wr_all
    lam = tau2 / (tau2 + s2)
    post = mu[g] + lam * (b - mu[g])
    post_var = lam * s2 + (1.0 - lam) ** 2 * var_mu[g]
    group_mean = np.where(
        size >= 2, mu[:n_groups], mu[n_groups] if np.any(g == n_groups) else np.nan
    )
    group_se = np.where(size >= 2, np.sqrt(var_mu[:n_groups]), np.nan)
    group_mean = np.where(size > 0, group_mean, np.nan)
    return ShrinkageFit(post, np.sqrt(post_var), lam, group_mean, group_se, tau2)
