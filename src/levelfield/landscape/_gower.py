"""Gower distance for mixed attributes, vectorized over pairs.

Gower (1971) averages per-attribute dissimilarities d_ijk in [0, 1] over the
attributes both firms can be compared on::

    d_ij = sum_k w_k delta_ijk d_ijk / sum_k w_k delta_ijk

with delta_ijk = 0 when either value is missing (and, for asymmetric capability flags,
when neither firm has the capability: a shared absence says nothing about strategy).
Numeric attributes use |x_i - x_j| / range, ordinal attributes the same on their ranks
(Podani 1999), categories 0/1 mismatch, multi-label sets the Jaccard distance
1 - |A ∩ B| / |A ∪ B|. Categories, flags and sets are computed by matrix products;
numerics by broadcasting over blocks of rows, so no Python loop runs over pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import cdist
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from levelfield.errors import ConfigError
from levelfield.landscape._profiles import EncodedAttribute

__all__ = ["attribute_weights", "gower_components", "gower_matrix"]

FloatArray = npt.NDArray[np.float64]

#: Elements per temporary block (rows x firms); bounds peak memory of the numeric step.
_BLOCK_ELEMENTS = 1_000_000


def attribute_weights(
    attributes: Sequence[EncodedAttribute], weights: Mapping[str, float] | None
) -> FloatArray:
    """Weight per attribute (default 1), checked: finite, >= 0, names known."""
    w = np.ones(len(attributes))
    if not weights:
        return w
    known = {a.name: i for i, a in enumerate(attributes)}
    for name, value in weights.items():
        if name not in known:
            raise ConfigError(
                f"attribute_weights names {name!r}, which is not an attribute; choose from "
                f"{', '.join(sorted(known)) or '(none)'}"
            )
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"attribute weight for {name!r} must be a number, not {value!r}"
            ) from None
        if not np.isfinite(x) or x < 0:
            raise ConfigError(
                f"attribute weight for {name!r} must be finite and >= 0, not {value!r}"
            )
        w[known[name]] = x
    return w


def _rows(n: int, rows: npt.NDArray[np.intp] | None) -> npt.NDArray[np.intp]:
    return np.arange(n, dtype=np.intp) if rows is None else np.asarray(rows, dtype=np.intp)


def _range(values: FloatArray) -> float:
    ok = values[~np.isnan(values)]
    if ok.size == 0:
        return 0.0
    return float(ok.max() - ok.min())


def gower_matrix(
    attributes: Sequence[EncodedAttribute],
    weights: FloatArray | None = None,
    *,
    rows: npt.NDArray[np.intp] | None = None,
    asymmetric_flags: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Gower distances between ``rows`` and every firm.

    Parameters
    ----------
    attributes
        Encoded attributes (see :class:`~levelfield.landscape.EncodedAttribute`).
    weights
        Weight per attribute (default all 1).
    rows
        Firms to compute distances from (default all: a square matrix).
    asymmetric_flags
        When True, a pair where neither firm has a capability flag does not count
        for that flag (Gower 1971's treatment of dichotomous characters).

    Returns
    -------
    distance : ndarray, shape (len(rows), n)
        Gower distance in [0, 1]; NaN where a pair shares no comparable attribute.
    weight : ndarray, shape (len(rows), n)
        sum_k w_k delta_ijk: how much evidence each distance rests on (0 = none).

    References
    ----------
    Gower, J. C. (1971). A general coefficient of similarity and some of its
    properties. *Biometrics*, 27(4), 857-871.
    Podani, J. (1999). Extending Gower's general coefficient of similarity to ordinal
    characters. *Taxon*, 48(2), 331-340.
    """
    if not attributes:
        raise ConfigError("gower_matrix needs at least one attribute")
    n = len(attributes[0].available)
    w = np.ones(len(attributes)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(attributes),):
        raise ConfigError(f"weights must have one entry per attribute ({len(attributes)})")
    r = _rows(n, rows)
    num = np.zeros((r.size, n))
    den = np.zeros((r.size, n))
    kernels = _prepare(attributes, w, asymmetric_flags)
    block = max(1, _BLOCK_ELEMENTS // max(n, 1))
    # The products here are thin (few labels per attribute): BLAS threads only add
    # synchronisation cost, which on a busy machine dominates (measured 10-100x).
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, r.size, block):  # blocks of rows bound the temporaries
            rb = r[start : start + block]
            for kernel in kernels:
                kernel(rb, num[start : start + block], den[start : start + block])

    dist = np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)
    np.clip(dist, 0.0, 1.0, out=dist)
    if rows is None:
        np.fill_diagonal(dist, np.where(np.diag(den) > 0, 0.0, np.nan))
    return dist, den


Kernel = Callable[[npt.NDArray[np.intp], FloatArray, FloatArray], None]


def _prepare(
    attributes: Sequence[EncodedAttribute], w: FloatArray, asymmetric_flags: bool
) -> list[Kernel]:
    """One accumulator per group of attributes: ``kernel(rows, num, den)`` adds the
    weighted dissimilarities and weights of ``rows`` against every firm.

    Attributes with weight 0 are left out; the groups are numeric/ordinal
    (:func:`_numeric_kernels`), categories (:func:`_category_kernels`, flags too when
    shared absence counts), asymmetric flags (:func:`_flag_kernels`) and sets
    (:func:`_set_kernels`).
    """
    used = [(a, float(wk)) for a, wk in zip(attributes, w, strict=True) if wk > 0]
    return [
        *_numeric_kernels(used),
        *_category_kernels(used, asymmetric_flags),
        *(_flag_kernels(used) if asymmetric_flags else []),
        *_set_kernels(used),
    ]


def _numeric_kernels(used: Sequence[tuple[EncodedAttribute, float]]) -> list[Kernel]:
    """Range-scaled city-block distance of numeric and ordinal attributes.

    Complete columns together in one weighted ``cdist`` (C loop); a column with
    missing values alone, counting only pairs where both firms have a value.
    """
    kernels: list[Kernel] = []
    # Complete numeric/ordinal columns: one weighted city-block distance (C loop).
    numeric = [(a, wk) for a, wk in used if a.kind in ("numeric", "ordinal")]
    complete = [(a, wk) for a, wk in numeric if a.available.all()]
    if complete:
        ranges = np.array([_range(a.values.astype(float)) for a, _ in complete])
        scale = np.array([wk for _, wk in complete]) / np.where(ranges > 0, ranges, 1.0)
        scale[ranges == 0] = 0.0
        Xs = np.column_stack([a.values.astype(float) for a, _ in complete]) * scale
        total = float(sum(wk for _, wk in complete))

        def numeric_complete(rb: npt.NDArray[np.intp], num: FloatArray, den: FloatArray) -> None:
            num += cdist(Xs[rb], Xs, "cityblock")
            den += total

        kernels.append(numeric_complete)
    for a, wk in numeric:
        if a.available.all():
            continue
        x = a.values.astype(float)
        rng = _range(x)
        avail = ~np.isnan(x)
        x0 = np.where(avail, x, 0.0)
        sc = wk / rng if rng > 0 else 0.0

        def numeric_missing(
            rb: npt.NDArray[np.intp],
            num: FloatArray,
            den: FloatArray,
            x0: FloatArray = x0,
            avail: npt.NDArray[np.bool_] = avail,
            sc: float = sc,
            wk: float = wk,
        ) -> None:
            both = avail[rb, None] & avail[None, :]
            num += np.abs(x0[rb, None] - x0[None, :]) * (sc * both)
            den += wk * both

        kernels.append(numeric_missing)
    return kernels


def _category_kernels(
    used: Sequence[tuple[EncodedAttribute, float]], asymmetric_flags: bool
) -> list[Kernel]:
    """Mismatch (0/1) of categories, and of flags when shared absence counts.

    Complete columns by weighted Hamming (C loop); columns with missing values by
    products of weighted one-hot codes, counting only pairs where both have a value.
    """
    kernels: list[Kernel] = []
    # Categories: complete ones by weighted Hamming (C loop), others by one-hot products.
    cats = [(a, wk) for a, wk in used if a.kind == "category"]
    if not asymmetric_flags:
        cats += [(a, wk) for a, wk in used if a.kind == "flag"]
    complete_c = [(a, wk) for a, wk in cats if a.available.all()]
    if complete_c:
        C = np.column_stack(
            [np.nan_to_num(a.values.astype(float), nan=-1.0) for a, _ in complete_c]
        )
        wc = np.array([wk for _, wk in complete_c])
        total_c = float(wc.sum())

        def category_complete(rb: npt.NDArray[np.intp], num: FloatArray, den: FloatArray) -> None:
            num += cdist(C[rb], C, "hamming", w=wc) * total_c
            den += total_c

        kernels.append(category_complete)
    partial = [(a, wk) for a, wk in cats if not a.available.all()]
    if partial:
        onehots = []
        avails = []
        for a, wk in partial:
            codes = np.nan_to_num(a.values.astype(float), nan=-1.0).astype(np.int64)
            levels = max(len(a.labels), 2) if a.kind == "category" else 2
            oh = np.zeros((n_rows(a), levels))
            ok = a.available & (codes >= 0)
            oh[np.flatnonzero(ok), codes[ok]] = np.sqrt(wk)
            onehots.append(oh)
            avails.append(a.available.astype(float) * np.sqrt(wk))
        OH = np.hstack(onehots)
        AV = np.column_stack(avails)

        def category_missing(rb: npt.NDArray[np.intp], num: FloatArray, den: FloatArray) -> None:
            both = AV[rb] @ AV.T
            num += both - OH[rb] @ OH.T
            den += both

        kernels.append(category_missing)
    return kernels


def _flag_kernels(used: Sequence[tuple[EncodedAttribute, float]]) -> list[Kernel]:
    """Asymmetric flags (Gower's dichotomous rule): a shared absence is no evidence."""
    kernels: list[Kernel] = []
    flags = [(a, wk) for a, wk in used if a.kind == "flag"]
    if flags:
        F = np.column_stack([np.nan_to_num(a.values, nan=0.0) for a, _ in flags])
        A = np.column_stack([a.available for a, _ in flags]).astype(float)
        wf = np.array([wk for _, wk in flags])
        pos = F * A
        neg = (1.0 - F) * A
        posw, negw, Aw = pos * wf, neg * wf, A * wf

        def flag_kernel(rb: npt.NDArray[np.intp], num: FloatArray, den: FloatArray) -> None:
            num += posw[rb] @ neg.T
            num += negw[rb] @ pos.T
            den += Aw[rb] @ A.T
            den -= negw[rb] @ neg.T

        kernels.append(flag_kernel)
    return kernels


def _set_kernels(used: Sequence[tuple[EncodedAttribute, float]]) -> list[Kernel]:
    """Jaccard distance of set attributes (one kernel per set; empty sets are no evidence)."""
    kernels: list[Kernel] = []
    for a, wk in used:
        if a.kind != "set":
            continue
        B = a.values.astype(float)
        size = B.sum(axis=1)
        avail = a.available

        def set_kernel(
            rb: npt.NDArray[np.intp],
            num: FloatArray,
            den: FloatArray,
            B: FloatArray = B,
            size: FloatArray = size,
            avail: npt.NDArray[np.bool_] = avail,
            wk: float = wk,
        ) -> None:
            inter = B[rb] @ B.T
            union = size[rb, None] + size[None, :] - inter
            ok = (union > 0) & avail[rb, None] & avail[None, :]
            np.divide(inter, union, out=inter, where=ok)
            inter[~ok] = 1.0  # no evidence: contributes 0 below
            num += wk * (1.0 - inter)
            den += wk * ok

        kernels.append(set_kernel)
    return kernels


def n_rows(a: EncodedAttribute) -> int:
    return len(a.available)


def gower_components(
    attributes: Sequence[EncodedAttribute],
    row: int,
    *,
    asymmetric_flags: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Per-attribute dissimilarity of firm ``row`` to every firm.

    Returns
    -------
    d : ndarray, shape (n_attributes, n)
        d_ijk in [0, 1] (0 where not comparable).
    delta : ndarray, shape (n_attributes, n)
        1 where attribute k compares the pair, else 0.
    """
    n = len(attributes[0].available) if attributes else 0
    d = np.zeros((len(attributes), n))
    delta = np.zeros((len(attributes), n))
    for k, a in enumerate(attributes):
        both = a.available[row] & a.available
        if a.kind in ("numeric", "ordinal"):
            x = np.nan_to_num(a.values.astype(float))
            rng = _range(a.values.astype(float))
            d[k] = np.abs(x - x[row]) / rng if rng > 0 else 0.0
        elif a.kind == "category":
            d[k] = (a.values != a.values[row]).astype(float)
        elif a.kind == "flag":
            x = np.nan_to_num(a.values)
            d[k] = (x != x[row]).astype(float)
            if asymmetric_flags:
                both = both & ((x > 0) | (x[row] > 0))
        else:
            B = a.values.astype(float)
            inter = B @ B[row]
            union = B.sum(axis=1) + B[row].sum() - inter
            both = both & (union > 0)
            d[k] = 1.0 - np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
        delta[k] = both
        d[k] *= both
    return d, delta
