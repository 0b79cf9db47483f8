"""Distinctiveness, homogeneity index, strategic groups and the market map."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist
from sklearn.manifold import MDS
from sklearn.metrics import adjusted_rand_score, silhouette_samples

from levelfield.errors import (
    ConfigError,
    DataError,
    DataQualityWarning,
    InsufficientDataError,
)
from levelfield.landscape import (
    classical_mds,
    combined_distance,
    distinctiveness,
    market_map,
    normalize_shares,
    silhouette_samples_precomputed,
    smacof,
    strategic_groups,
    strategic_homogeneity,
)


def _blobs(seed: int, sizes: tuple[int, ...] = (8, 7, 6), spread: float = 0.05) -> tuple:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.9], [1.2, 1.1]])[: len(sizes)]
    labels = np.repeat(np.arange(len(sizes)), sizes)
    X = centres[labels] + rng.normal(0, spread, (labels.size, 2))
    D = cdist(X, X)
    return X, D / D.max(), labels


def _random_distance(rng: np.random.Generator, n: int) -> np.ndarray:
    X = rng.random((n, 3))
    D = cdist(X, X, "cityblock") / 3.0
    return D


# -- homogeneity index -------------------------------------------------------------------

shares_strategy = arrays(
    np.float64, st.integers(2, 12), elements=st.floats(0.01, 1.0, allow_nan=False)
)


@given(shares_strategy)
@settings(max_examples=60, deadline=None)
def test_shi_with_identity_similarity_is_the_hhi(raw: np.ndarray) -> None:
    p = raw / raw.sum()
    D = 1.0 - np.eye(p.size)  # every firm fully distinct
    shi, sdi, eff = strategic_homogeneity(D, p)
    hhi = 10_000 * float((p**2).sum())
    assert shi == pytest.approx(hhi, rel=1e-9)
    assert eff == pytest.approx(1.0 / float((p**2).sum()), rel=1e-9)
    assert sdi == pytest.approx(1 - hhi / 10_000, abs=1e-12)


@given(shares_strategy)
@settings(max_examples=40, deadline=None)
def test_shi_of_identical_firms_is_10000(raw: np.ndarray) -> None:
    p = raw / raw.sum()
    shi, sdi, eff = strategic_homogeneity(np.zeros((p.size, p.size)), p)
    assert shi == pytest.approx(10_000)
    assert sdi == pytest.approx(0.0, abs=1e-12)
    assert eff == pytest.approx(1.0)


@given(st.integers(2, 10), st.integers(0, 10_000), st.floats(0.01, 0.5))
@settings(max_examples=50, deadline=None)
def test_adding_a_distinct_entrant_lowers_shi(n: int, seed: int, entrant_share: float) -> None:
    rng = np.random.default_rng(seed)
    D = _random_distance(rng, n)
    raw = rng.uniform(0.1, 1.0, n)
    p = raw / raw.sum()
    before, _, _ = strategic_homogeneity(D, p)
    D2 = np.ones((n + 1, n + 1))
    D2[:n, :n] = D
    D2[n, n] = 0.0
    p2 = np.append(p * (1 - entrant_share), entrant_share)
    after, _, _ = strategic_homogeneity(D2, p2)
    assert after < before


def test_shi_bounds_and_bad_shares() -> None:
    D = _random_distance(np.random.default_rng(0), 5)
    shi, _, eff = strategic_homogeneity(D, np.full(5, 0.2))
    assert 2000 <= shi <= 10_000  # at least the equal-share HHI
    assert 1.0 <= eff <= 5.0
    with pytest.raises(DataError, match="sum to 1"):
        strategic_homogeneity(D, np.full(5, 0.3))
    with pytest.raises(DataError, match="one entry per firm"):
        strategic_homogeneity(D, np.full(4, 0.25))
    with pytest.raises(DataError, match="NaN"):
        strategic_homogeneity(np.full((3, 3), np.nan), np.full(3, 1 / 3))


def test_normalize_shares_rescales_fills_and_rejects() -> None:
    p, given_, notes = normalize_shares(np.array([2.0, 1.0, 1.0]))
    np.testing.assert_allclose(p, [0.5, 0.25, 0.25])
    assert given_ and any("rescaled" in n for n in notes)
    p, _, notes = normalize_shares(np.array([0.5, np.nan, 0.3]), ("A", "B", "C"))
    assert p.sum() == pytest.approx(1.0) and any("'B'" in n for n in notes)
    with pytest.warns(DataQualityWarning, match="equal share"):
        p, given_, _ = normalize_shares(np.full(4, np.nan))
    np.testing.assert_allclose(p, 0.25)
    assert not given_
    with pytest.raises(DataError, match="negative"):
        normalize_shares(np.array([0.5, -0.1, 0.6]), ("A", "B", "C"))
    with pytest.raises(DataError, match="all zero"):
        normalize_shares(np.zeros(3))


# -- distinctiveness ---------------------------------------------------------------------


def test_distinctiveness_orders_planted_outliers_first() -> None:
    _, D, _ = _blobs(0)
    n = D.shape[0]
    # plant two loners far from every group, one farther than the other
    D2 = np.full((n + 2, n + 2), 0.0)
    D2[:n, :n] = D * 0.5
    D2[n, :n] = D2[:n, n] = 0.8
    D2[n + 1, :n] = D2[:n, n + 1] = 1.0
    D2[n, n + 1] = D2[n + 1, n] = 0.9
    score, nearest, pct = distinctiveness(D2, 5)
    assert np.argsort(score)[-2:].tolist() == [n, n + 1]
    assert pct[n + 1] == 100.0
    assert nearest.shape == (n + 2, 5)
    assert (nearest != np.arange(n + 2)[:, None]).all()  # never its own rival
    # score is the mean of the k smallest off-diagonal distances
    M = D2 + np.diag(np.full(n + 2, np.inf))
    np.testing.assert_allclose(score, np.sort(M, axis=1)[:, :5].mean(axis=1))


def test_distinctiveness_caps_k_and_checks_input() -> None:
    D = _random_distance(np.random.default_rng(1), 4)
    _, nearest, _ = distinctiveness(D, 10)
    assert nearest.shape == (4, 3)
    with pytest.raises(ConfigError):
        distinctiveness(D, 0)
    with pytest.raises(ConfigError):
        distinctiveness(D, 2.5)  # type: ignore[arg-type]
    with pytest.raises(InsufficientDataError):
        distinctiveness(np.zeros((1, 1)), 5)
    with pytest.raises(DataError, match="square"):
        distinctiveness(np.zeros((3, 4)), 2)


# -- groups ------------------------------------------------------------------------------


def test_silhouette_matches_sklearn_rousseeuw_1987() -> None:
    _, D, labels = _blobs(2, spread=0.2)
    labels = labels.copy()
    labels[0] = 2  # a misfit
    ours = silhouette_samples_precomputed(D, labels)
    peer = silhouette_samples(D, labels, metric="precomputed")
    np.testing.assert_allclose(ours, peer, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_planted_groups_are_recovered(seed: int) -> None:
    _, D, labels = _blobs(seed, sizes=(9, 7, 6, 5))
    found, scores = strategic_groups(D)
    assert adjusted_rand_score(labels, found) >= 0.9
    assert max(scores, key=lambda k: scores[k]) == 4
    assert scores[4] > 0.7
    sizes = np.bincount(found)
    assert (np.diff(sizes) <= 0).all()  # group 0 is the largest


def test_groups_can_be_overridden_and_bad_counts_rejected() -> None:
    _, D, _ = _blobs(1)
    found, scores = strategic_groups(D, n_groups=2)
    assert np.unique(found).size == 2 and list(scores) == [2]
    with pytest.raises(ConfigError):
        strategic_groups(D, n_groups=1)
    with pytest.raises(ConfigError):
        strategic_groups(D, n_groups=D.shape[0])
    with pytest.raises(ConfigError):
        strategic_groups(D, max_groups=1)
    with pytest.raises(InsufficientDataError):
        strategic_groups(np.zeros((2, 2)))


# -- map ---------------------------------------------------------------------------------


def test_classical_mds_recovers_a_planar_configuration_torgerson_1952() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2))
    D = cdist(X, X)
    Y = classical_mds(D)
    np.testing.assert_allclose(cdist(Y, Y), D, atol=1e-8)
    # the Lanczos path for large n gives the same distances
    X = rng.normal(size=(700, 2))
    D = cdist(X, X)
    Y = classical_mds(D)
    np.testing.assert_allclose(cdist(Y, Y), D, atol=1e-6)


def test_smacof_stress_is_no_worse_than_sklearn_mds_kruskal_1964() -> None:
    _, D, _ = _blobs(3, sizes=(8, 8, 8), spread=0.15)
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 0.2, D.shape)
    D = np.clip(D + (noise + noise.T) / 2, 0, None)
    np.fill_diagonal(D, 0.0)
    X, stress1, converged = market_map(D)
    assert converged

    def stress_of(Y: np.ndarray) -> float:
        d = cdist(Y, Y)
        return float(np.sqrt(((D - d) ** 2).sum() / (D**2).sum()))

    assert stress1 == pytest.approx(stress_of(X), rel=1e-6)
    peer = MDS(
        n_components=2,
        metric="precomputed",
        metric_mds=True,
        n_init=4,
        init="random",
        random_state=0,
        max_iter=1000,
        eps=1e-9,
        normalized_stress=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        Y = peer.fit_transform(D)
    assert stress1 <= stress_of(Y) * 1.02


def test_smacof_never_increases_stress_and_perfect_fit_is_zero() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20, 2))
    D = cdist(X, X)
    init = X + rng.normal(0, 0.3, X.shape)
    stresses = [smacof(D, init, max_iter=m, tol=0.0)[1] for m in (1, 5, 20, 80)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(stresses))
    _, s, _ = market_map(D)
    assert s < 1e-4


def test_map_input_errors() -> None:
    with pytest.raises(InsufficientDataError):
        classical_mds(np.zeros((2, 2)))
    with pytest.raises(ConfigError):
        market_map(np.ones((4, 4)) - np.eye(4), max_iter=0)


# -- combined distance ---------------------------------------------------------------------


def test_combined_distance_renormalizes_weights_per_pair() -> None:
    A = np.array([[0, 0.2, 0.4], [0.2, 0, 0.6], [0.4, 0.6, 0]])
    T = np.array([[0, 1.0, np.nan], [1.0, 0, np.nan], [np.nan, np.nan, np.nan]])
    D, imputed = combined_distance(A, T, {"attributes": 3, "text": 1})
    assert imputed == 0
    assert D[0, 1] == pytest.approx((3 * 0.2 + 1 * 1.0) / 4)
    assert D[0, 2] == pytest.approx(0.4)  # no text for firm 2: attributes at full weight
    np.testing.assert_allclose(D, D.T)


def test_combined_distance_imputes_incomparable_pairs_with_warning() -> None:
    A = np.array([[0, np.nan, 0.4], [np.nan, 0, 0.6], [0.4, 0.6, 0]])
    with pytest.warns(DataQualityWarning, match="1 pair"):
        D, imputed = combined_distance(A, None)
    assert imputed == 1 and D[0, 1] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "weights", [{"attributes": -1}, {"txt": 1}, {"attributes": 0, "text": 0}, {"text": "a"}]
)
def test_combined_distance_rejects_bad_weights(weights: dict) -> None:
    A = np.zeros((3, 3))
    with pytest.raises(ConfigError):
        combined_distance(A, A, weights)
