"""Oracles and properties of the game-theory kernels (Shapley, core, nucleolus)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.cooperation import (
    core_check,
    least_core,
    nucleolus,
    popcount,
    shapley_exact,
    shapley_sampled,
    subset_sums,
)
from levelfield.errors import ConfigError


def _members(n: int) -> np.ndarray:
    masks = np.arange(1 << n)
    return ((masks[:, None] >> np.arange(n)) & 1).astype(bool)


def airport_game(costs: np.ndarray) -> np.ndarray:
    """c(S) = the largest runway any member of S needs (Littlechild & Owen 1973)."""
    return np.where(_members(costs.size), costs, 0.0).max(axis=1)


def airport_shapley_closed_form(costs: np.ndarray) -> np.ndarray:
    """Littlechild & Owen (1973): each runway segment is shared equally by its users."""
    order = np.argsort(costs, kind="stable")
    c = np.r_[0.0, costs[order]]
    n = costs.size
    per_segment = np.diff(c) / (n - np.arange(n))
    out = np.empty(n)
    out[order] = np.cumsum(per_segment)
    return out


def brute_force_shapley(values: np.ndarray, n: int) -> np.ndarray:
    """Average marginal contribution over all n! orders, in plain Python."""
    phi = [0.0] * n
    for order in itertools.permutations(range(n)):
        mask = 0
        for player in order:
            phi[player] += values[mask | (1 << player)] - values[mask]
            mask |= 1 << player
    return np.array(phi) / math.factorial(n)


def test_shapley_matches_littlechild_owen_1973_airport_game() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 9, 13):
        costs = rng.uniform(1, 100, n).round(1)
        costs[: n // 3] = costs[-1]  # ties: planes that need the same runway
        np.testing.assert_allclose(
            shapley_exact(airport_game(costs)), airport_shapley_closed_form(costs), rtol=1e-10
        )


def test_shapley_matches_brute_force_on_small_random_games() -> None:
    rng = np.random.default_rng(11)
    for n in range(1, 7):
        values = rng.normal(size=1 << n)
        values[0] = 0.0
        np.testing.assert_allclose(shapley_exact(values), brute_force_shapley(values, n))


games = st.integers(2, 7).flatmap(
    lambda n: st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1 << n, max_size=1 << n).map(
        lambda v: np.array([0.0, *v[1:]])
    )
)


@settings(max_examples=60, deadline=None)
@given(games)
def test_shapley_is_efficient(values: np.ndarray) -> None:
    assert shapley_exact(values).sum() == pytest.approx(values[-1], abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(games, st.data())
def test_shapley_null_player_gets_nothing(values: np.ndarray, data: st.DataObject) -> None:
    n = values.size.bit_length() - 1
    i = data.draw(st.integers(0, n))
    # insert a null player at position i: v(S) ignores whether i is in S
    masks = np.arange(1 << (n + 1))
    low = masks & ((1 << i) - 1)
    high = (masks >> (i + 1)) << i
    extended = values[low | high]
    phi = shapley_exact(extended)
    assert phi[i] == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(np.delete(phi, i), shapley_exact(values), atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(games, st.data())
def test_shapley_treats_symmetric_players_alike(values: np.ndarray, data: st.DataObject) -> None:
    n = values.size.bit_length() - 1
    i, j = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
    masks = np.arange(1 << n)
    bi, bj = (masks >> i) & 1, (masks >> j) & 1
    swapped = masks & ~((1 << i) | (1 << j)) | (bi << j) | (bj << i)
    symmetric = (values + values[swapped]) / 2  # v(S) = v(S with i and j swapped)
    phi = shapley_exact(symmetric)
    assert phi[i] == pytest.approx(phi[j], abs=1e-7)


def test_sampled_shapley_agrees_with_exact_within_its_standard_error() -> None:
    costs = np.random.default_rng(5).uniform(1, 50, 9)

    def prefix(perms: np.ndarray) -> np.ndarray:
        return np.maximum.accumulate(costs[perms], axis=1)

    est = shapley_sampled(prefix, costs.size, permutations=4000, seed=1)
    exact = airport_shapley_closed_form(costs)
    assert est.value.sum() == pytest.approx(costs.max())  # every order is efficient
    z = np.abs(est.value - exact) / np.maximum(est.standard_error, 1e-12)
    assert z.max() < 4.5
    assert np.all(est.standard_error < 0.05 * costs.max())


def test_subset_sums_and_popcount_enumerate_coalitions() -> None:
    x = np.arange(1.0, 5.0)[:, None]
    sums = subset_sums(x)[:, 0]
    members = _members(4)
    np.testing.assert_array_equal(sums, members @ x[:, 0])
    np.testing.assert_array_equal(popcount(4), members.sum(axis=1))


def bankruptcy_game(estate: float, claims: np.ndarray) -> np.ndarray:
    """v(S) = what is left for S after paying everyone else in full (O'Neill 1982)."""
    outside = (~_members(claims.size)) @ claims
    return np.maximum(0.0, estate - outside)


@pytest.mark.parametrize(
    ("estate", "talmud"),
    [(100, [33 + 1 / 3, 33 + 1 / 3, 33 + 1 / 3]), (200, [50, 75, 75]), (300, [50, 100, 150])],
)
def test_nucleolus_matches_aumann_maschler_1985_talmud_estates(
    estate: float, talmud: list[float]
) -> None:
    """Aumann & Maschler (1985), J. Econ. Theory 36: the Talmud's division of estates of
    100, 200, 300 among claims 100, 200, 300 is the nucleolus of the bankruptcy game."""
    worth = bankruptcy_game(estate, np.array([100.0, 200.0, 300.0]))
    np.testing.assert_allclose(-nucleolus(-worth), talmud, atol=1e-6)


def test_nucleolus_of_majority_game_with_empty_core() -> None:
    worth = (popcount(3) >= 2).astype(float)
    np.testing.assert_allclose(-nucleolus(-worth), [1 / 3] * 3, atol=1e-7)
    _, eps = least_core(-worth)
    assert eps == pytest.approx(1 / 3)
    assert not core_check(-worth, -np.full(3, 1 / 3)).in_core


def test_core_check_agrees_with_brute_force_on_random_games() -> None:
    rng = np.random.default_rng(2)
    for _ in range(30):
        n = int(rng.integers(2, 6))
        costs = rng.uniform(0, 10, 1 << n)
        costs[0] = 0.0
        x = rng.dirichlet(np.ones(n)) * costs[-1]
        members = _members(n)
        gains = members[1:-1] @ x - costs[1:-1]
        check = core_check(costs, x)
        assert check.in_core == bool(gains.max() <= 1e-6 * max(1, costs[-1]))
        assert check.max_gain == pytest.approx(gains.max())
        if not check.in_core:
            blocking = sum(1 << i for i in check.blocking)
            assert x[list(check.blocking)].sum() - costs[blocking] == pytest.approx(gains.max())


def test_nucleolus_and_least_core_lie_in_a_nonempty_core() -> None:
    costs = airport_game(np.array([2.0, 3.0, 3.0, 8.0, 9.0]))  # airport games have a core
    x, eps = least_core(costs)
    assert eps <= 1e-9 and core_check(costs, x).in_core
    nuc = nucleolus(costs)
    assert nuc.sum() == pytest.approx(costs[-1])
    assert core_check(costs, nuc).in_core


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros(0), np.array([0.0, np.nan])])
def test_kernels_reject_malformed_games(bad: np.ndarray) -> None:
    with pytest.raises(ConfigError):
        shapley_exact(bad)


def test_kernels_reject_too_large_games_and_bad_allocations() -> None:
    with pytest.raises(ConfigError, match="exact limit"):
        shapley_exact(np.zeros(1 << 21))
    with pytest.raises(ConfigError, match="up to 14"):
        nucleolus(np.zeros(1 << 15))
    with pytest.raises(ConfigError, match="allocation"):
        core_check(np.zeros(4), np.array([1.0, np.inf]))
    with pytest.raises(ConfigError):
        shapley_sampled(lambda p: p.astype(float), 3, permutations=1)
