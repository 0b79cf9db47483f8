"""Benchmark: Shapley value of the buying-group game, levelfield vs plain Python.

Two headline figures, each against a plain Python implementation of the same formula:

* exact: 20 members, 1,000 items (2**20 coalitions). ours: ``BuyingGame.coalition_costs``
  (subset sums over bitmasks, vectorized over coalitions, chunked over items) and
  ``shapley_exact`` (vectorized over coalitions, one pass per member). peer: a loop over
  every coalition and item computing the same cost, then the Shapley formula as a loop
  over coalitions and members. The peer's cost stage is timed on ``PEER_ITEMS`` items and
  scaled linearly to all items (it is linear in items: one identical loop per item);
  ``peer_extrapolated`` says so, and ``subset_ratio`` is the fully measured ratio on those
  items alone. Both sides' Shapley values on the subset game are compared.
* sampled: 500 members, 100 items, permutation sampling. ours: ``shapley_sampled`` with
  ``BuyingGame.prefix_costs`` (batches of orders as arrays). peer: the same estimator in
  plain Python (one order at a time, running pooled volume per item), timed on
  ``PEER_PERMUTATIONS`` orders and scaled linearly (it is linear in orders). The standard
  error of our estimate is reported.

Every timed call keeps the minimum wall and CPU time of ``--repeats`` (3) runs; BLAS
threads are pinned to one. Writes ``benchmarks/results/cooperation.json``. ``--quick``
runs 12 members / 50 items and 100 members / 40 items.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import best_of, pin_threads, table_row
from levelfield.cooperation import (
    BuyingGame,
    buying_game,
    shapley_exact,
    shapley_sampled,
)
from levelfield.cooperation._inputs import check_price_breaks, check_purchases

PEER_ITEMS = 2
PEER_PERMUTATIONS = 20


def make_group(n: int, items: int, seed: int) -> BuyingGame:
    """Members buy 70 % of the items at 9-12 a unit; four all-units tiers per item."""
    rng = np.random.default_rng(seed)
    buys = rng.random((n, items)) < 0.7
    mi, ji = np.nonzero(buys)
    purchases = pd.DataFrame(
        {
            "member": [f"m{i:03d}" for i in mi],
            "supplier": "S",
            "item": [f"item{j:04d}" for j in ji],
            "annual_volume": rng.integers(10, 200, mi.size).astype(float),
            "unit_price": rng.uniform(9, 12, mi.size),
        }
    )
    tiers = [(0, 11.0), (20 * n, 10.0), (50 * n, 9.0), (90 * n, 8.5)]
    breaks = pd.DataFrame(
        [("S", f"item{j:04d}", lo, p) for j in range(items) for lo, p in tiers],
        columns=["supplier", "item", "min_volume", "unit_price"],
    )
    return buying_game(check_purchases(purchases), check_price_breaks(breaks))


def subgame(game: BuyingGame, items: int) -> BuyingGame:
    """The same members on the first ``items`` items only."""
    return BuyingGame(
        game.members,
        game.items[:items],
        game.volume[:, :items],
        game.alone[:, :items],
        game.spend[:, :items],
        game.thresholds[:items],
        game.prices[:items],
    )


def _plain_item_cost(
    volume: float, separate: float, thresholds: list[float], prices: list[float]
) -> float:
    if volume <= 0:
        return 0.0
    price = float("inf")
    for lo, p in zip(thresholds[1:], prices[1:], strict=True):
        if volume >= lo:
            price = p
    return min(volume * price, separate)


def plain_coalition_costs(game: BuyingGame) -> list[float]:
    n, m = game.volume.shape
    vol, alone = game.volume.tolist(), game.alone.tolist()
    thr, pri = game.thresholds.tolist(), game.prices.tolist()
    costs = [0.0] * (1 << n)
    for mask in range(1 << n):
        members = [i for i in range(n) if mask >> i & 1]
        total = 0.0
        for j in range(m):
            v = sum(vol[i][j] for i in members)
            a = sum(alone[i][j] for i in members)
            total += _plain_item_cost(v, a, thr[j], pri[j])
        costs[mask] = total
    return costs


def plain_shapley(costs: list[float], n: int) -> list[float]:
    import math

    weight = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    phi = [0.0] * n
    for mask in range(1 << n):
        size = bin(mask).count("1")
        for i in range(n):
            if not mask >> i & 1:
                phi[i] += weight[size] * (costs[mask | 1 << i] - costs[mask])
    return phi


def plain_sampled(game: BuyingGame, permutations: int, seed: int) -> list[float]:
    n, m = game.volume.shape
    vol, alone = game.volume.tolist(), game.alone.tolist()
    thr, pri = game.thresholds.tolist(), game.prices.tolist()
    rng = np.random.default_rng(seed)
    phi = [0.0] * n
    for _ in range(permutations):
        order = rng.permutation(n).tolist()
        pooled, separate, item_cost = [0.0] * m, [0.0] * m, [0.0] * m
        before = 0.0
        for player in order:
            for j in range(m):
                pooled[j] += vol[player][j]
                separate[j] += alone[player][j]
                item_cost[j] = _plain_item_cost(pooled[j], separate[j], thr[j], pri[j])
            after = sum(item_cost)
            phi[player] += after - before
            before = after
    return [p / permutations for p in phi]


REPEATS = 3  # runs per timed call; min wall and min CPU time are kept (--repeats)


def _timed(fn: Any) -> tuple[Any, float, float]:
    return best_of(fn, REPEATS)


def bench_exact(n: int, items: int) -> dict[str, Any]:
    game = make_group(n, items, seed=1)
    shap, ours_s, ours_cpu = _timed(lambda: shapley_exact(game.coalition_costs()))
    small = subgame(game, PEER_ITEMS)
    costs_py, cost_s, cost_cpu = _timed(lambda: plain_coalition_costs(small))
    phi_py, formula_s, formula_cpu = _timed(lambda: plain_shapley(costs_py, n))
    sub_ours, sub_s, _ = _timed(lambda: shapley_exact(small.coalition_costs()))
    scale = items / PEER_ITEMS
    peer_s = formula_s + cost_s * scale
    peer_cpu = formula_cpu + cost_cpu * scale
    return {
        "members": n,
        "items": items,
        "coalitions": 1 << n,
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ratio": round(peer_s / ours_s, 2),
        "cpu_s_ours": round(ours_cpu, 3),
        "cpu_s_peer": round(peer_cpu, 3),
        "cpu_ratio": round(peer_cpu / ours_cpu, 2),
        "peer_extrapolated": f"cost stage timed on {PEER_ITEMS} items, scaled x{scale:g}",
        "peer_items_timed": PEER_ITEMS,
        "subset_ours_s": round(sub_s, 3),
        "subset_peer_s": round(cost_s + formula_s, 3),
        "subset_ratio": round((cost_s + formula_s) / sub_s, 2),
        "subset_max_abs_diff": float(np.max(np.abs(np.array(phi_py) - sub_ours))),
        "efficiency_error": float(abs(shap.sum() - game.coalition_costs()[-1])),
    }


def bench_sampled(n: int, items: int, permutations: int) -> dict[str, Any]:
    game = make_group(n, items, seed=2)
    est, ours_s, ours_cpu = _timed(
        lambda: shapley_sampled(game.prefix_costs, n, permutations=permutations, seed=3)
    )
    _, peer_part_s, peer_part_cpu = _timed(lambda: plain_sampled(game, PEER_PERMUTATIONS, 3))
    scale = permutations / PEER_PERMUTATIONS
    peer_s, peer_cpu = peer_part_s * scale, peer_part_cpu * scale
    scale_of_shares = float(np.mean(np.abs(est.value)))
    return {
        "members": n,
        "items": items,
        "permutations": permutations,
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ratio": round(peer_s / ours_s, 2),
        "cpu_s_ours": round(ours_cpu, 3),
        "cpu_s_peer": round(peer_cpu, 3),
        "cpu_ratio": round(peer_cpu / ours_cpu, 2),
        "peer_extrapolated": f"timed on {PEER_PERMUTATIONS} orders, scaled x{scale:g}",
        "standard_error_mean": round(float(est.standard_error.mean()), 4),
        "standard_error_max": round(float(est.standard_error.max()), 4),
        "standard_error_relative_to_mean_share": round(
            float(est.standard_error.mean()) / scale_of_shares, 5
        ),
        "mean_abs_share": round(scale_of_shares, 2),
        "efficiency_error": float(
            abs(est.value.sum() - game.prefix_costs(np.arange(n)[None])[0, -1])
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timed call")
    args = parser.parse_args()
    global REPEATS
    REPEATS = args.repeats
    threads = pin_threads()
    load_before = os.getloadavg()[0]
    if args.quick:
        exact = bench_exact(12, 50)
        sampled = bench_sampled(100, 40, 200)
    else:
        exact = bench_exact(20, 1000)
        sampled = bench_sampled(500, 100, 1000)
    result = {
        "n": exact["members"],
        "what": "exact Shapley (headline ratio) and sampled Shapley of the buying-group game",
        "ours_s": exact["ours_s"],
        "peer_s": exact["peer_s"],
        "ratio": exact["ratio"],
        "exact": exact,
        "sampled": sampled,
        "peer": "plain Python implementation of the same formulas (in this file)",
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg_1min_before": round(load_before, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "quick": args.quick,
        "repeats": REPEATS,
        "threads": threads,
    }
    load = (result["load_avg_1min_before"], result["load_avg_1min_after"])
    peer = "plain Python, same formulas"
    result["table"] = [
        table_row(
            "exact Shapley cost shares of a buying group",
            f"{exact['members']} members x {exact['items']:,} items",
            peer,
            exact["ratio"],
            exact["cpu_ratio"],
            f"max abs diff {exact['subset_max_abs_diff']:.1e} on the timed subset",
            load,
            exact["peer_extrapolated"],
        ),
        table_row(
            "sampled Shapley cost shares",
            f"{sampled['members']} members x {sampled['items']} items",
            peer,
            sampled["ratio"],
            sampled["cpu_ratio"],
            f"standard error {sampled['standard_error_relative_to_mean_share']:.2%} of the "
            "mean share",
            load,
            sampled["peer_extrapolated"],
        ),
    ]
    if not args.quick:
        out = Path(__file__).parent / "results" / "cooperation.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
