"""Pure kernels of the landscape analysis: distinctiveness, homogeneity, groups, map.

Every function takes arrays and returns arrays; nothing here reads a workspace.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import scipy.linalg
import scipy.sparse.linalg
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import cdist, squareform
from sklearn.metrics import silhouette_samples as sk_silhouette_samples
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from levelfield.errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    DataQualityWarning,
    InsufficientDataError,
)

__all__ = [
    "classical_mds",
    "combined_distance",
    "distinctiveness",
    "market_map",
    "normalize_shares",
    "silhouette_samples_precomputed",
    "smacof",
    "strategic_groups",
    "strategic_homogeneity",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def _square(D: FloatArray, what: str = "distance matrix") -> FloatArray:
    D = np.asarray(D, dtype=float)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise DataError(f"{what} must be square, got shape {D.shape}")
    if D.shape[0] and not np.isfinite(D).all():
        raise DataError(f"{what} has NaN or infinite entries; compute it with combined_distance")
    return D


def combined_distance(
    attribute_distance: FloatArray | None,
    text_distance: FloatArray | None,
    weights: Mapping[str, float] | None = None,
) -> tuple[FloatArray, int]:
    """Weighted mean of attribute and text distances, re-normalized per pair.

    ``D_ij = sum_m W_m delta_ijm D_ijm / sum_m W_m delta_ijm`` over the dimensions
    m in {attributes, text} that are defined (not NaN) for the pair; so a firm without a
    description is compared on attributes only, at full weight.

    Parameters
    ----------
    attribute_distance, text_distance
        (n, n) distances in [0, 1] with NaN where undefined; either may be None.
    weights
        ``{"attributes": wa, "text": wt}`` (default 0.5 each), finite and >= 0.

    Returns
    -------
    distance : ndarray
        Combined distance; pairs with no comparable dimension get the mean of the
        others (counted in the second return value and warned about).
    n_imputed : int
        Number of unordered pairs that had no comparable dimension.
    """
    w = {"attributes": 0.5, "text": 0.5}
    for key, value in (weights or {}).items():
        if key not in w:
            raise ConfigError(f"weights has unknown key {key!r}; use 'attributes' and 'text'")
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"weights[{key!r}] must be a number, not {value!r}") from None
        if not np.isfinite(x) or x < 0:
            raise ConfigError(f"weights[{key!r}] must be finite and >= 0, not {value!r}")
        w[key] = x
    if w["attributes"] + w["text"] <= 0:
        raise ConfigError("weights for attributes and text cannot both be 0")
    parts = [
        (m, wm)
        for m, wm in ((attribute_distance, w["attributes"]), (text_distance, w["text"]))
        if m is not None and wm > 0
    ]
    if not parts:
        raise DataError("no distance to combine: neither attributes nor texts are available")
    n = parts[0][0].shape[0]
    num = np.zeros((n, n))
    den = np.zeros((n, n))
    for m, wm in parts:
        ok = ~np.isnan(m)
        num += wm * np.where(ok, m, 0.0)
        den += wm * ok
    D = np.divide(num, den, out=np.full((n, n), np.nan), where=den > 0)
    np.fill_diagonal(D, 0.0)
    missing = np.isnan(D)
    n_imputed = int(missing.sum() // 2)
    if n_imputed:
        off = ~np.eye(n, dtype=bool) & ~missing
        fill = float(D[off].mean()) if off.any() else 1.0
        D[missing] = fill
        warnings.warn(
            f"{n_imputed} pair(s) of firms share no attribute and no text to compare; their "
            f"distance was set to the market average ({fill:.2f}); fill in more attributes",
            DataQualityWarning,
            stacklevel=2,
        )
    D = 0.5 * (D + D.T)
    return D, n_imputed


def distinctiveness(D: FloatArray, k: int = 5) -> tuple[FloatArray, IntArray, FloatArray]:
    """Mean distance of each firm to its k nearest rivals, and its percentile.

    Parameters
    ----------
    D
        (n, n) combined distance.
    k
        Number of nearest rivals (capped at n - 1).

    Returns
    -------
    score : ndarray, shape (n,)
        Distinctiveness in [0, 1] (0 = identical to its nearest rivals).
    nearest : ndarray, shape (n, k)
        Indices of the k nearest rivals, closest first.
    percentile : ndarray, shape (n,)
        Percentile of the score in the market (0 = least, 100 = most distinctive;
        ties share the average rank).
    """
    D = _square(D)
    n = D.shape[0]
    if n < 2:
        raise InsufficientDataError("distinctiveness needs at least two firms")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k must be a positive whole number of rivals, not {k!r}")
    k = int(min(k, n - 1))
    M = D.copy()
    np.fill_diagonal(M, np.inf)
    part = np.argpartition(M, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(M, part, axis=1)
    order = np.argsort(vals, axis=1, kind="stable")
    nearest = np.take_along_axis(part, order, axis=1).astype(np.intp)
    score = np.take_along_axis(vals, order, axis=1).mean(axis=1)
    from scipy.stats import rankdata

    ranks = rankdata(score, method="average")
    percentile = 100.0 * (ranks - 1.0) / (n - 1)
    return score, nearest, percentile


def normalize_shares(
    shares: FloatArray | None, names: tuple[str, ...] | None = None
) -> tuple[FloatArray, bool, list[str]]:
    """Market shares as weights that sum to one.

    Returns
    -------
    p : ndarray
        Shares summing to 1.
    given : bool
        False when no share was given and equal shares were assumed.
    notes : list of str
        What was repaired (missing shares filled, shares rescaled).

    Raises
    ------
    DataError
        A negative share, or shares that are all zero.
    """
    if shares is None:
        raise ConfigError("shares must be an array (NaN where unknown)")
    s = np.asarray(shares, dtype=float).copy()
    n = s.size

    def label(i: int) -> str:
        return repr(names[i]) if names else f"#{i}"

    neg = np.flatnonzero(s < 0)
    if neg.size:
        raise DataError(
            f"market_share is negative for {', '.join(label(i) for i in neg[:5])}; shares and "
            "their proxies (revenue, review count) must be zero or more"
        )
    if np.isinf(s).any():
        raise DataError("market_share has an infinite value; give finite shares")
    notes: list[str] = []
    known = ~np.isnan(s)
    if not known.any():
        warnings.warn(
            "no market shares given: every firm gets an equal share in the homogeneity "
            "index; add a market_share column (or a proxy such as review count) for a "
            "weighted index",
            DataQualityWarning,
            stacklevel=2,
        )
        return np.full(n, 1.0 / n), False, ["equal market shares assumed (none given)"]
    if not known.all():
        fill = float(np.median(s[known]))
        missing = np.flatnonzero(~known)
        s[~known] = fill
        notes.append(
            f"market share missing for {missing.size} firm(s) "
            f"({', '.join(label(i) for i in missing[:5])}); the median share was used"
        )
    total = float(s.sum())
    if total <= 0:
        raise DataError("market shares are all zero; give at least one positive share")
    if abs(total - 1.0) > 1e-6:
        notes.append(f"market shares summed to {total:.4g}, not 1; they were rescaled to sum to 1")
    return s / total, True, notes


def strategic_homogeneity(D: FloatArray, shares: FloatArray) -> tuple[float, float, float]:
    """Strategic homogeneity index (SHI), diversity index (SDI), effective strategies.

    ``SHI = 10,000 * sum_i sum_j p_i p_j s_ij`` with similarity ``s = 1 - D``: Rao's
    quadratic entropy in similarity form, which equals the Herfindahl-Hirschman index
    when ``s`` is the identity (every firm fully distinct). ``SDI = 1 - SHI / 10,000``
    and the effective number of distinct strategies is ``10,000 / SHI``.

    Parameters
    ----------
    D
        (n, n) distances in [0, 1] with a zero diagonal.
    shares
        Shares p summing to 1 (see :func:`normalize_shares`).

    Returns
    -------
    shi : float
        In (0, 10,000]; 10,000 when all firms are identical.
    sdi : float
        1 - SHI/10,000, in [0, 1).
    effective : float
        10,000/SHI, between 1 and 1/sum p_i^2.

    References
    ----------
    Rao, C. R. (1982). Diversity and dissimilarity coefficients: a unified approach.
    *Theoretical Population Biology*, 21(1), 24-43.
    Leinster, T., & Cobbold, C. A. (2012). Measuring diversity: the importance of
    species similarity. *Ecology*, 93(3), 477-489.

    Examples
    --------
    Two close rivals with 80 % of the market, one distant firm:

    >>> import numpy as np
    >>> D = np.array([[0.0, 0.2, 0.9], [0.2, 0.0, 0.8], [0.9, 0.8, 0.0]])
    >>> shi, sdi, equivalent = strategic_homogeneity(D, np.array([0.5, 0.3, 0.2]))
    >>> round(shi), round(sdi, 3), round(equivalent, 2)
    (6640, 0.336, 1.51)
    """
    D = _square(D)
    p = np.asarray(shares, dtype=float)
    if p.shape != (D.shape[0],):
        raise DataError(f"shares must have one entry per firm ({D.shape[0]}), got {p.shape}")
    if (p < 0).any() or not np.isfinite(p).all():
        raise DataError("shares must be finite and >= 0")
    if abs(p.sum() - 1.0) > 1e-6:
        raise DataError(f"shares must sum to 1 (got {p.sum():.6g}); use normalize_shares")
    S = 1.0 - np.clip(D, 0.0, 1.0)
    shi = float(10_000.0 * (p @ S @ p))
    shi = min(max(shi, 0.0), 10_000.0)
    return shi, 1.0 - shi / 10_000.0, (10_000.0 / shi if shi > 0 else float("inf"))


def silhouette_samples_precomputed(D: FloatArray, labels: npt.NDArray[np.integer]) -> FloatArray:
    """Silhouette width of each firm from a precomputed distance matrix.

    ``s(i) = (b(i) - a(i)) / max(a(i), b(i))`` with a(i) the mean distance to the
    other members of its group and b(i) the smallest mean distance to another group;
    0 for members of singleton groups (Rousseeuw 1987). Computed by scikit-learn's
    ``silhouette_samples(metric="precomputed")`` (agrees with the indicator-matrix
    product this module used to carry to 1e-15); this wrapper checks the group count
    and raises levelfield's error instead of scikit-learn's ``ValueError``.

    References
    ----------
    Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and
    validation of cluster analysis. *Journal of Computational and Applied
    Mathematics*, 20, 53-65.
    """
    D = _square(D)
    lab = np.unique(np.asarray(labels), return_inverse=True)[1].ravel()
    k = int(lab.max()) + 1 if lab.size else 0
    n = D.shape[0]
    if k < 2 or k > n - 1:
        raise ConfigError(f"silhouette needs 2 to n-1 groups, got {k} groups for {n} firms")
    return np.asarray(sk_silhouette_samples(D, lab, metric="precomputed"), dtype=float)


def strategic_groups(
    D: FloatArray, n_groups: int | None = None, *, max_groups: int = 8
) -> tuple[IntArray, dict[int, float]]:
    """Strategic groups by average-linkage (UPGMA) clustering of the distance matrix.

    Parameters
    ----------
    D
        (n, n) combined distance.
    n_groups
        Number of groups; None chooses the k in 2..max_groups with the highest mean
        silhouette width.
    max_groups
        Largest k tried when choosing.

    Returns
    -------
    labels : ndarray, shape (n,)
        Group of each firm, 0 = largest group.
    silhouette_by_k : dict
        Mean silhouette width for each k tried (only the chosen k when given).

    References
    ----------
    Sokal, R. R., & Michener, C. D. (1958). A statistical method for evaluating
    systematic relationships. *University of Kansas Science Bulletin*, 38, 1409-1438.
    Rousseeuw, P. J. (1987). Silhouettes. *J. Comput. Appl. Math.*, 20, 53-65.
    """
    D = _square(D)
    n = D.shape[0]
    if n < 3:
        raise InsufficientDataError(f"strategic groups need at least 3 firms, got {n}")
    if n_groups is not None:
        if isinstance(n_groups, bool) or not isinstance(n_groups, int | np.integer):
            raise ConfigError(f"n_groups must be a whole number, not {n_groups!r}")
        if not 2 <= n_groups <= n - 1:
            raise ConfigError(
                f"n_groups must be between 2 and {n - 1} for {n} firms, not {n_groups}"
            )
    if (
        isinstance(max_groups, bool)
        or not isinstance(max_groups, int | np.integer)
        or max_groups < 2
    ):
        raise ConfigError(f"max_groups must be a whole number >= 2, not {max_groups!r}")
    Z = linkage(squareform(D, checks=False), method="average")
    ks = [int(n_groups)] if n_groups is not None else list(range(2, min(max_groups, n - 1) + 1))
    scores: dict[int, float] = {}
    best: tuple[float, int, IntArray] | None = None
    for k in ks:  # at most max_groups candidate cuts, each fully vectorized
        lab = fcluster(Z, t=k, criterion="maxclust")
        if np.unique(lab).size < 2:
            continue
        s = float(silhouette_samples_precomputed(D, lab).mean())
        scores[k] = s
        if best is None or s > best[0] + 1e-12:
            best = (s, k, lab.astype(np.intp))
    if best is None:
        lab = np.zeros(n, dtype=np.intp)
        return lab, scores
    lab = best[2]
    # relabel 0..g-1 by decreasing size (ties: first appearance)
    uniq, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    first = np.array([np.flatnonzero(lab == u)[0] for u in uniq])
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.ravel()].astype(np.intp), scores


def classical_mds(D: FloatArray, dims: int = 2, *, seed: int = 0) -> FloatArray:
    """Classical (Torgerson) scaling: top eigenvectors of the double-centred squared distances.

    Uses a dense symmetric eigensolver for small n and Lanczos iterations (ARPACK) for
    large n, which only need matrix-vector products.

    References
    ----------
    Torgerson, W. S. (1952). Multidimensional scaling: I. Theory and method.
    *Psychometrika*, 17(4), 401-419.
    """
    D = _square(D)
    n = D.shape[0]
    if n <= dims:
        raise InsufficientDataError(f"a {dims}-D map needs more than {dims} firms, got {n}")
    D2 = D**2
    row = D2.mean(axis=1)
    B = -0.5 * (D2 - row[:, None] - row[None, :] + row.mean())
    if n <= 600:
        vals, vecs = scipy.linalg.eigh(B, subset_by_index=[n - dims, n - 1])
    else:
        v0 = np.random.default_rng(seed).standard_normal(n)
        vals, vecs = scipy.sparse.linalg.eigsh(B, k=dims, which="LA", v0=v0)
    order = np.argsort(vals)[::-1]
    vals = np.clip(vals[order], 0.0, None)
    vecs = vecs[:, order]
    # fix the sign so that the map is reproducible
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(dims)])
    signs[signs == 0] = 1.0
    return np.asarray(vecs * signs * np.sqrt(vals), dtype=float)


def smacof(
    D: FloatArray,
    init: FloatArray,
    *,
    max_iter: int = 300,
    tol: float = 1e-6,
) -> tuple[FloatArray, float, int, bool]:
    """Metric SMACOF: iterate Guttman transforms from ``init`` to minimise raw stress.

    Raw stress is ``sum_{i<j} (D_ij - d_ij(X))^2``; each Guttman transform
    ``X <- B(X) X / n`` never increases it (de Leeuw 1977).

    Why not ``sklearn.manifold.smacof``: from the same start and 100 iterations it
    reaches the same configuration (stress-1 equal to 1e-15 at 300 and 1,000 firms) but
    takes 1.6x the CPU time (0.17 s vs 0.10 s at 300 firms, 1.81 s vs 1.14 s at 1,000;
    one thread, 2026-12-03), and it stops on a criterion normalised by the
    configuration's size rather than on the relative decrease of stress used here.

    Returns
    -------
    X : ndarray, shape (n, dims)
    stress1 : float
        Kruskal's stress-1, ``sqrt(raw stress / sum_{i<j} D_ij^2)``.
    n_iter : int
    converged : bool
        True when the relative decrease of stress fell below ``tol``.

    References
    ----------
    de Leeuw, J. (1977). Applications of convex analysis to multidimensional scaling.
    In *Recent Developments in Statistics*, 133-145.
    Kruskal, J. B. (1964). Multidimensional scaling by optimizing goodness of fit to a
    nonmetric hypothesis. *Psychometrika*, 29(1), 1-27.
    """
    D = _square(D)
    n = D.shape[0]
    X = np.array(init, dtype=float, copy=True)
    total = float((D**2).sum() / 2.0)
    if total <= 0:
        return X * 0.0, 0.0, 0, True
    old = np.inf
    converged = False
    it = 0
    for step in range(1, max_iter + 1):  # iterations of one vectorized O(n^2) update
        it = step
        d = cdist(X, X)
        raw = float(((D - d) ** 2).sum() / 2.0)
        if old < np.inf and (old - raw) <= tol * old:
            converged = True
            break
        old = raw
        ratio = np.divide(D, d, out=np.zeros_like(D), where=d > 1e-12)
        X = (ratio.sum(axis=1)[:, None] * X - ratio @ X) / n
    else:
        d = cdist(X, X)
        raw = float(((D - d) ** 2).sum() / 2.0)
    return X, float(np.sqrt(raw / total)), it, converged


def market_map(
    D: FloatArray, *, max_iter: int | None = None, tol: float = 1e-5, seed: int = 0
) -> tuple[FloatArray, float, bool]:
    """Two-dimensional metric MDS map of the firms.

    Classical scaling gives the starting configuration; SMACOF then minimises the raw
    stress. ``max_iter`` defaults to ``1e8 / n^2`` iterations, between 30 and 1,000
    (1,000 for markets up to 316 firms, 100 at 1,000 firms, 30 at 5,000), so that a
    5,000-firm map stays within seconds; classical starts are usually close to the
    optimum and each iteration never increases the stress. A
    :class:`ConvergenceWarning` is raised when a market of up to 300 firms has not
    converged; beyond, the cap is deliberate and ``converged`` reports it.

    Returns
    -------
    coords : ndarray, shape (n, 2)
    stress1 : float
        Kruskal's stress-1 (0 perfect; < 0.1 good; > 0.2 poor).
    converged : bool
    """
    D = _square(D)
    n = D.shape[0]
    if max_iter is None:
        max_iter = min(1000, max(30, int(1e8 / n**2)))
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ConfigError(f"max_iter must be a positive whole number, not {max_iter!r}")
    # thin products (n x n times n x 2): BLAS threads only add synchronisation cost
    with threadpool_limits(limits=1, user_api="blas"):
        init = classical_mds(D, 2, seed=seed)
        X, stress, _, converged = smacof(D, init, max_iter=max_iter, tol=tol)
    X -= X.mean(axis=0)
    if not converged and n <= 300:
        warnings.warn(
            f"the market map (SMACOF) did not converge in {max_iter} iterations; its stress "
            f"is {stress:.3f}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return X, stress, converged
