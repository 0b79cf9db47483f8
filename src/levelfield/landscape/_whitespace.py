"""Binary strategy features, group profiles and white-space candidates.

White space is searched two ways, and each candidate is worded as a hypothesis to test
with customers, never as a finding of demand:

1. **Under-served combinations**: for every pair of features from different attributes
   (e.g. *premium tier* and *delivery*), the observed number of firms offering both is
   compared with the number expected if the two choices were independent,
   ``E = K_a K_b / N``. A one-sided hypergeometric (Fisher exact) test gives the chance
   of seeing so few under independence; Benjamini-Hochberg q-values control the false
   discovery rate over all pairs tried.
2. **Empty regions of the map**: on the segment between two strategic groups' centres,
   the point of lowest firm density (Gaussian kernel, Scott's bandwidth) is a candidate
   when no firm lies within twice the typical neighbour spacing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from scipy.stats import hypergeom, norm, spearmanr

from levelfield.landscape._profiles import EncodedAttribute

__all__ = [
    "BinaryFeatures",
    "PortfolioSize",
    "binary_features",
    "group_profiles",
    "map_gaps",
    "portfolio_size",
    "underserved_combinations",
]

#: A numeric attribute whose Spearman rank correlation with the portfolio size is at
#: least this counts the portfolio (e.g. "number of beers" next to a set of styles): a
#: white-space pair with it would restate the size, not a positioning choice.
SIZE_CORRELATION = 0.5
#: At most this many portfolio-size strata (quantile bins of the size).
SIZE_STRATA = 4

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class BinaryFeatures:
    """Attributes expanded into yes/no strategy features.

    ``present[i, f]`` is True when firm i has feature f; ``available[i, f]`` is False
    when firm i's value of the feature's attribute is missing. ``attribute[f]`` is the
    source attribute (pairs within one attribute are never tested).
    """

    present: npt.NDArray[np.bool_]
    available: npt.NDArray[np.bool_]
    labels: tuple[str, ...]
    attribute: tuple[str, ...]


def binary_features(attributes: Sequence[EncodedAttribute]) -> BinaryFeatures:
    """Expand attributes into features: category and ordinal levels, flags, set members,
    and the top and bottom thirds of numeric attributes."""
    cols: list[npt.NDArray[np.bool_]] = []
    avail: list[npt.NDArray[np.bool_]] = []
    labels: list[str] = []
    source: list[str] = []
    for a in attributes:
        av = a.available
        if a.kind == "flag":
            cols.append((np.nan_to_num(a.values) > 0) & av)
            avail.append(av)
            labels.append(a.name)
            source.append(a.name)
        elif a.kind in ("category", "ordinal"):
            levels = a.labels if a.kind == "category" else a.spec.levels
            codes = np.where(av, np.nan_to_num(a.values.astype(float), nan=-1), -1).astype(int)
            onehot = codes[:, None] == np.arange(len(levels))[None, :]
            for j, lv in enumerate(levels):
                cols.append(onehot[:, j])
                avail.append(av)
                labels.append(f"{a.name} = {lv}")
                source.append(a.name)
        elif a.kind == "set":
            for j, lv in enumerate(a.labels):
                cols.append(a.values[:, j] & av)
                avail.append(av)
                labels.append(f"{a.name}: {lv}")
                source.append(a.name)
        elif a.kind == "numeric":
            x = a.values.astype(float)
            ok = x[av]
            if ok.size < 3 or np.unique(ok).size < 3:
                continue
            lo, hi = np.quantile(ok, [1 / 3, 2 / 3])
            if hi > lo:
                cols.append(av & (np.nan_to_num(x, nan=-np.inf) > hi))
                avail.append(av)
                labels.append(f"high {a.name} (> {hi:.3g})")
                source.append(a.name)
                cols.append(av & (np.nan_to_num(x, nan=np.inf) < lo))
                avail.append(av)
                labels.append(f"low {a.name} (< {lo:.3g})")
                source.append(a.name)
    n = len(attributes[0].available) if attributes else 0
    if not cols:
        return BinaryFeatures(np.zeros((n, 0), bool), np.zeros((n, 0), bool), (), ())
    return BinaryFeatures(
        np.column_stack(cols), np.column_stack(avail), tuple(labels), tuple(source)
    )


@dataclass(frozen=True, eq=False)
class PortfolioSize:
    """How big each firm's portfolio is, and what white-space tests must allow for.

    ``size[i]`` is the number of set members firm i lists over all set attributes (e.g.
    its styles); ``strata[i]`` its size stratum (quantile bins, -1 when unknown) and
    ``bins`` each stratum's smallest and largest size; ``counting`` the numeric
    attributes that count the portfolio (rank correlation with ``size`` >= 0.5), with
    their correlation.
    """

    size: FloatArray
    strata: npt.NDArray[np.intp]
    counting: dict[str, float]
    bins: tuple[tuple[float, float], ...]

    def describe(self) -> str:
        """One sentence for the notes."""
        bins = ", ".join(f"{lo:g}-{hi:g}" if hi > lo else f"{lo:g}" for lo, hi in self.bins)
        text = (
            f"white space is tested within portfolio-size strata ({bins} set items per "
            "firm, Cochran-Mantel-Haenszel), so a niche is about positioning, not about "
            "how many items a firm lists"
        )
        if self.counting:
            text += "; left out as measures of portfolio size: " + ", ".join(
                f"{k} (rank correlation {v:.2f})" for k, v in self.counting.items()
            )
        return text


def portfolio_size(attributes: Sequence[EncodedAttribute]) -> PortfolioSize | None:
    """The portfolio size of each firm from its set attributes (None without any).

    A firm with more products lists more set members, so it combines more features by
    arithmetic alone; white-space tests conditioned on this size (and without the numeric
    attributes that count the portfolio) test positioning instead.
    """
    sets = [a for a in attributes if a.kind == "set"]
    if not sets:
        return None
    size = np.zeros(len(sets[0].available))
    known = np.zeros(len(sets[0].available), dtype=bool)
    for a in sets:
        size += (a.values & a.available[:, None]).sum(axis=1)
        known |= a.available
    if np.unique(size[known]).size < 2:
        return None
    counting: dict[str, float] = {}
    for a in attributes:
        if a.kind != "numeric":
            continue
        ok = a.available & known & np.isfinite(a.values.astype(float))
        if ok.sum() < 3 or np.unique(a.values[ok]).size < 2:
            continue
        rho = float(spearmanr(a.values[ok].astype(float), size[ok]).statistic)
        if np.isfinite(rho) and abs(rho) >= SIZE_CORRELATION:
            counting[a.name] = rho
    q = np.quantile(size[known], np.linspace(0, 1, SIZE_STRATA + 1))
    inner = np.unique(q[1:-1])
    strata = np.searchsorted(inner, size, side="right").astype(np.intp)
    strata[~known] = -1
    bins = tuple(
        (float(size[strata == k].min()), float(size[strata == k].max()))
        for k in range(inner.size + 1)
        if (strata == k).any()
    )
    return PortfolioSize(size, strata, counting, bins)


def _bh(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values)."""
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


def _stratified_counts(
    F: FloatArray, A: FloatArray, strata: npt.NDArray[np.intp]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Observed, expected and variance of pair co-occurrence summed over strata
    (Mantel-Haenszel): each ``(m, m)``; firms without a stratum (-1) are left out."""
    m = F.shape[1]
    obs, exp, var = np.zeros((m, m)), np.zeros((m, m)), np.zeros((m, m))
    for s in np.unique(strata[strata >= 0]):  # a handful of strata
        rows = strata == s
        Fs, As = F[rows], A[rows]
        both, N = Fs.T @ Fs, As.T @ As
        Ka = Fs.T @ As
        Kb = Ka.T
        with np.errstate(divide="ignore", invalid="ignore"):
            e = np.where(N > 0, Ka * Kb / N, 0.0)
            v = np.where(N > 1, Ka * (N - Ka) * Kb * (N - Kb) / (N**2 * (N - 1)), 0.0)
        obs += both
        exp += e
        var += v
    return obs, exp, var


def _pair_tests(
    features: BinaryFeatures,
    F: FloatArray,
    A: FloatArray,
    strata: npt.NDArray[np.intp] | None,
    exclude: Sequence[str],
) -> tuple[
    npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray, FloatArray, FloatArray, FloatArray
]:
    """One-sided tests of every testable feature pair (too few together).

    Pairs are of features of different attributes, not excluded, known for at least 3
    firms, each feature held by at least 2 and lacked by at least 1 of them. Without
    strata: Fisher's exact (hypergeometric) lower tail; with strata: the
    Cochran-Mantel-Haenszel z with continuity correction. Returns
    ``(i, j, observed, firms, expected, p)`` (p may hold NaN).
    """
    m = F.shape[1]
    both_counts = F.T @ F  # firms with both
    N = A.T @ A  # firms where both are known
    Ka = F.T @ A  # firms with a, among those where b is known
    Kb = Ka.T
    src = np.asarray(features.attribute, dtype=object)
    iu, ju = np.triu_indices(m, k=1)
    keep = (
        (src[iu] != src[ju]) & ~np.isin(src[iu], list(exclude)) & ~np.isin(src[ju], list(exclude))
    )
    iu, ju = iu[keep], ju[keep]
    o, nn, ka, kb = both_counts[iu, ju], N[iu, ju], Ka[iu, ju], Kb[iu, ju]
    valid = (nn >= 3) & (ka >= 2) & (kb >= 2) & (ka <= nn - 1) & (kb <= nn - 1)
    iu, ju, o, nn, ka, kb = iu[valid], ju[valid], o[valid], nn[valid], ka[valid], kb[valid]
    if iu.size == 0:
        return iu, ju, o, nn, o, o
    if strata is None:
        expected = ka * kb / nn
        p = hypergeom.cdf(o, nn, ka, kb)
    else:
        _, e_all, v_all = _stratified_counts(F, A, strata)
        expected, var = e_all[iu, ju], v_all[iu, ju]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (o - expected + 0.5) / np.sqrt(var)
        p = np.where(var > 0, norm.cdf(z), 1.0)
    return iu, ju, o, nn, expected, np.asarray(p, dtype=np.float64)


def underserved_combinations(
    features: BinaryFeatures,
    *,
    alpha: float = 0.05,
    max_candidates: int = 10,
    strata: npt.NDArray[np.intp] | None = None,
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """Feature pairs offered together by fewer firms than independence predicts.

    With ``strata`` (e.g. portfolio-size strata from :func:`portfolio_size`) the
    expectation is independence *within* each stratum and the test is the one-sided
    Cochran-Mantel-Haenszel test with continuity correction; features of the attributes
    in ``exclude`` are not tested.

    Returns
    -------
    DataFrame
        ``feature_a, feature_b, observed, expected, firms, p_value, q_value`` for the
        pairs whose Benjamini-Hochberg q-value (of the one-sided p) is <= ``alpha`` and
        that at least one firm fewer than expected offers,
        most significant first (at most ``max_candidates``).

    References
    ----------
    Fisher, R. A. (1922). On the interpretation of chi-square from contingency tables.
    *Journal of the Royal Statistical Society*, 85(1), 87-94.
    Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate.
    *Journal of the Royal Statistical Society B*, 57(1), 289-300.
    Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
    retrospective studies of disease. *J. National Cancer Institute*, 22(4), 719-748.
    """
    cols = ["feature_a", "feature_b", "observed", "expected", "firms", "p_value", "q_value"]
    F = features.present.astype(float)
    A = features.available.astype(float)
    m = F.shape[1]
    if m < 2:
        return pd.DataFrame(columns=cols)
    if strata is not None:
        A = A * (strata >= 0)[:, None]
        F = F * A
    iu, ju, o, nn, expected, p = _pair_tests(features, F, A, strata, exclude)
    if iu.size == 0:
        return pd.DataFrame(columns=cols)
    p = np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)
    q = _bh(p)
    cand = (q <= alpha) & (expected - o >= 1.0)
    labels = np.asarray(features.labels, dtype=object)
    out = pd.DataFrame(
        {
            "feature_a": labels[iu[cand]],
            "feature_b": labels[ju[cand]],
            "observed": o[cand].astype(int),
            "expected": expected[cand],
            "firms": nn[cand].astype(int),
            "p_value": p[cand],
            "q_value": q[cand],
        }
    )
    out["gap"] = out["expected"] - out["observed"]
    out = out.sort_values(["p_value", "gap"], ascending=[True, False], kind="stable")
    return out.drop(columns="gap").head(max_candidates).reset_index(drop=True)


def _attribute_lifts(
    features: BinaryFeatures, groups: npt.NDArray[np.intp], onehot: FloatArray, top: int
) -> pd.DataFrame:
    """Features a group's firms have much more often than the market (lift > 0.15
    and at least half the group), at most ``top`` per group, largest lift first."""
    P = features.present.astype(float)
    A = features.available.astype(float)
    g_share = np.divide(
        onehot.T @ P,
        onehot.T @ A,
        out=np.zeros((groups.size, P.shape[1])),
        where=(onehot.T @ A) > 0,
    )
    m_share = np.divide(P.sum(0), A.sum(0), out=np.zeros(P.shape[1]), where=A.sum(0) > 0)
    diff = g_share - m_share[None, :]
    gi, fi = np.meshgrid(np.arange(groups.size), np.arange(P.shape[1]), indexing="ij")
    table = pd.DataFrame(
        {
            "group": groups[gi.ravel()],
            "kind": "attribute",
            "feature": np.asarray(features.labels, dtype=object)[fi.ravel()],
            "group_share": g_share.ravel(),
            "market_share": m_share[fi.ravel()],
            "lift": diff.ravel(),
        }
    )
    table = table[(table["lift"] > 0.15) & (table["group_share"] >= 0.5)]
    table = table.sort_values(["group", "lift"], ascending=[True, False], kind="stable")
    return table.groupby("group", sort=False).head(top)


def _word_lifts(
    text_matrix: object,
    terms: tuple[str, ...],
    groups: npt.NDArray[np.intp],
    onehot: FloatArray,
    top: int,
) -> pd.DataFrame:
    """The ``top`` words whose mean TF-IDF weight in a group most exceeds the market's
    (positive lifts only)."""
    import scipy.sparse as sp

    X = sp.csr_matrix(text_matrix)
    sizes = onehot.sum(axis=0)
    g_mean = np.asarray((sp.csr_matrix(onehot.T) @ X).todense()) / sizes[:, None]
    m_mean = np.asarray(X.mean(axis=0)).ravel()
    lift = g_mean - m_mean[None, :]
    k = min(top, lift.shape[1])
    top_idx = np.argsort(-lift, axis=1, kind="stable")[:, :k]
    gw = np.repeat(np.arange(groups.size), k)
    ti = top_idx.ravel()
    words = pd.DataFrame(
        {
            "group": groups[gw],
            "kind": "word",
            "feature": np.asarray(terms, dtype=object)[ti],
            "group_share": g_mean[gw, ti],
            "market_share": m_mean[ti],
            "lift": lift[gw, ti],
        }
    )
    return words[words["lift"] > 0]


def group_profiles(
    features: BinaryFeatures,
    labels: npt.NDArray[np.intp],
    *,
    text_matrix: object | None = None,
    terms: tuple[str, ...] = (),
    top: int = 3,
) -> tuple[pd.DataFrame, dict[int, str]]:
    """What sets each strategic group apart: features and words over-represented in it.

    Returns
    -------
    profiles : DataFrame
        ``group, kind, feature, group_share, market_share, lift`` (kind ``attribute``:
        share of the group's firms with the feature; kind ``word``: mean TF-IDF weight
        in the group and in the market).
    descriptions : dict
        Group number -> one short description, e.g.
        ``"price_tier = premium (100% vs 30%); words: sourdough, rye"``.
    """
    groups = np.unique(labels)
    onehot = (labels[:, None] == groups[None, :]).astype(float)  # (n, g)
    rows: list[pd.DataFrame] = []
    desc: dict[int, list[str]] = {int(g): [] for g in groups}
    if features.present.shape[1]:
        table = _attribute_lifts(features, groups, onehot, top)
        rows.append(table)
        for g, sub in table.groupby("group", sort=True):
            desc[int(str(g))].extend(
                f"{f} ({gs:.0%} vs {ms:.0%})"
                for f, gs, ms in zip(
                    sub["feature"], sub["group_share"], sub["market_share"], strict=True
                )
            )
    if text_matrix is not None and terms:
        words = _word_lifts(text_matrix, terms, groups, onehot, top)
        rows.append(words)
        for g, sub in words.groupby("group", sort=True):
            desc[int(str(g))].append("words: " + ", ".join(sub["feature"]))
    cols = ["group", "kind", "feature", "group_share", "market_share", "lift"]
    profiles = (
        pd.concat([r for r in rows if len(r)], ignore_index=True)
        if any(len(r) for r in rows)
        else pd.DataFrame(columns=cols)
    )
    descriptions = {
        g: ("; ".join(parts) if parts else "no feature sets it apart") for g, parts in desc.items()
    }
    return profiles.reset_index(drop=True), descriptions


def map_gaps(
    coords: FloatArray,
    labels: npt.NDArray[np.intp],
    names: Sequence[str],
    *,
    steps: int = 13,
) -> pd.DataFrame:
    """Low-density points of the market map between pairs of strategic groups.

    Returns
    -------
    DataFrame
        ``group_a, group_b, x, y, density_ratio, nearest_firm, nearest_distance,
        spacing_ratio``: for each pair of groups whose connecting segment passes through
        empty ground, the emptiest point, its kernel density relative to the density at
        the two groups' centres, the nearest firm and its distance in map units relative
        to the median nearest-neighbour spacing.
    """
    cols = [
        "group_a",
        "group_b",
        "x",
        "y",
        "density_ratio",
        "nearest_firm",
        "nearest_distance",
        "spacing_ratio",
    ]
    n = coords.shape[0]
    groups = np.unique(labels)
    if n < 3 or groups.size < 2:
        return pd.DataFrame(columns=cols)
    onehot = (labels[:, None] == groups[None, :]).astype(float)
    centres = (onehot.T @ coords) / onehot.sum(axis=0)[:, None]
    sd = coords.std(axis=0, ddof=1).mean()
    h = max(float(sd) * n ** (-1.0 / 6.0), 1e-9)  # Scott's rule in two dimensions
    gi, gj = np.triu_indices(groups.size, k=1)
    t = np.linspace(0.2, 0.8, steps)
    pts = (
        centres[gi, None, :] * (1 - t)[None, :, None] + centres[gj, None, :] * t[None, :, None]
    )  # (pairs, steps, 2)
    flat = pts.reshape(-1, 2)

    def density(p: FloatArray) -> FloatArray:
        d2 = cdist(p, coords, "sqeuclidean")
        return np.asarray(np.exp(-0.5 * d2 / h**2).sum(axis=1))

    dens = density(flat).reshape(gi.size, steps)
    c_dens = density(centres)
    ref = np.minimum(c_dens[gi], c_dens[gj])
    low = dens.argmin(axis=1)
    best = pts[np.arange(gi.size), low]
    ratio = dens[np.arange(gi.size), low] / np.maximum(ref, 1e-300)
    dist_to_firms = cdist(best, coords)
    nearest = dist_to_firms.argmin(axis=1)
    nearest_d = dist_to_firms[np.arange(gi.size), nearest]
    nn_dist, _ = cKDTree(coords).query(coords, k=2)
    spacing = float(np.median(nn_dist[:, 1]))
    spacing_ratio = nearest_d / max(spacing, 1e-12)
    keep = (ratio < 0.5) & (spacing_ratio >= 2.0)
    out = pd.DataFrame(
        {
            "group_a": groups[gi[keep]],
            "group_b": groups[gj[keep]],
            "x": best[keep, 0],
            "y": best[keep, 1],
            "density_ratio": ratio[keep],
            "nearest_firm": np.asarray(names, dtype=object)[nearest[keep]],
            "nearest_distance": nearest_d[keep],
            "spacing_ratio": spacing_ratio[keep],
        }
    )
    return out.sort_values("spacing_ratio", ascending=False, kind="stable").reset_index(drop=True)
