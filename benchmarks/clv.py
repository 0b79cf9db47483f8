"""BG/NBD and Gamma-Gamma fitting: levelfield vs lifetimes on the same simulated summary.

1,000,000 customers (``--quick``: 50,000) are drawn from a BG/NBD with known parameters
(ages uniform over a year, whole days, as a daily summary has them) and spend from a
Gamma-Gamma; both libraries fit the same arrays in the same run, alternately
``--repeat`` times (default 3; the minimum wall and CPU time compared, every run
reported).

Two ratios are reported apart: end to end (both from the raw million rows; levelfield
merges identical rows into weights itself, lifetimes does not) and kernel only (both
fit the same distinct rows with their counts as weights, lifetimes' ``weights=``), so
the speed of the likelihood and optimiser is not mixed with the gain from compression
(``peer_compression_ratio``: what compression alone does for the peer). BLAS thread pools
are limited to ``--blas-threads`` (default 1) for both sides alike: on a shared machine
OpenBLAS threads make tiny linear algebra (the optimizers' 4 x 4 updates) slow. Writes
``benchmarks/results/clv.json``. Peer path: ``lifetimes.BetaGeoFitter.fit`` and
``GammaGammaFitter.fit`` on the arrays (these run under pandas 3).

The parameter error vs truth is also given in standard errors (``ours_z``): with a
million customers the estimates still carry sampling error, the same for both libraries.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from _common import table_row, version
from levelfield.customers import (
    BetaGeoModel,
    GammaGammaModel,
    simulate_bgnbd_summary,
    simulate_gamma_gamma_spend,
)

TRUE_BG = {"r": 0.6, "alpha": 30.0, "a": 0.8, "b": 3.0}  # alpha in days
TRUE_GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}


def _rel_err(est: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    return {k: abs(est[k] - v) / v for k, v in truth.items()}


def _z(est: dict[str, float], se: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    return {k: (est[k] - v) / se[k] for k, v in truth.items()}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _compress(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Identical rows merged, with their counts as weights (what lifetimes' docs advise)."""
    uniq, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return [uniq[:, j].copy() for j in range(uniq.shape[1])], counts.astype(float)


def _gg_params(fitted: Any) -> dict[str, float]:
    return {k: float(fitted.params_[v]) for k, v in (("p", "p"), ("q", "q"), ("gamma", "v"))}


def _max_rel(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in b)


def _side(
    best: dict[str, float], cpu: dict[str, float], runs: dict[str, list[float]], m: str
) -> dict[str, Any]:
    """End-to-end, kernel-only (both on weighted unique rows) and compression ratios."""
    o, p, ow, pw = f"ours_{m}", f"peer_{m}", f"ours_{m}_w", f"peer_{m}_w"
    return {
        "ours_s": best[o],
        "peer_s": best[p],
        "ratio": best[p] / best[o],
        "cpu_ratio": cpu[p] / cpu[o],
        "ours_cpu_s": cpu[o],
        "peer_cpu_s": cpu[p],
        "kernel_ours_s": best[ow],
        "kernel_peer_s": best[pw],
        "kernel_ratio": best[pw] / best[ow],
        "kernel_cpu_ratio": cpu[pw] / cpu[ow],
        "peer_compression_ratio": best[p] / best[pw],
        "ours_runs_s": runs[o],
        "peer_runs_s": runs[p],
        "kernel_ours_runs_s": runs[ow],
        "kernel_peer_runs_s": runs[pw],
    }


def _rows(out: dict[str, Any], load: tuple[float, float]) -> list[dict[str, Any]]:
    rows = []
    for key, name in (("bgnbd", "BG/NBD fit"), ("gamma_gamma", "Gamma-Gamma fit")):
        d = out[key]
        size = f"{d['rows']:,} customers ({d['compressed_rows']:,} distinct rows)"
        agree = (
            f"params vs peer: max rel diff {d['max_rel_diff_vs_peer']:.1e} "
            f"(weighted: {d['max_rel_diff_vs_peer_weighted']:.1e})"
        )
        rows.append(
            table_row(
                f"{name}, from the raw rows",
                size,
                out["peer"] + " on the raw rows",
                d["ratio"],
                d["cpu_ratio"],
                agree,
                load,
                f"of which compression: peer raw / peer weighted "
                f"{d['peer_compression_ratio']:.1f}x",
            )
        )
        rows.append(
            table_row(
                f"{name}, kernel only",
                size,
                out["peer"] + " on the same distinct rows with weights=",
                d["kernel_ratio"],
                d["kernel_cpu_ratio"],
                agree,
                load,
                "both sides fit the same compressed rows",
            )
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="50,000 customers")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--blas-threads", type=int, default=1)
    args = ap.parse_args()
    n = args.n or (50_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(2024)
    T = rng.integers(1, 366, n).astype(float)
    x, t_x, T = simulate_bgnbd_summary(n, *TRUE_BG.values(), T, rng)
    t_x = np.where(x > 0, np.maximum(np.round(t_x), 1.0), 0.0)  # whole days, as summaries
    t_x = np.minimum(t_x, T)
    z = np.round(simulate_gamma_gamma_spend(x, *TRUE_GG.values(), rng), 2)
    z = np.where(x > 0, np.maximum(z, 0.01), 0.0)
    rep = x > 0

    from lifetimes import BetaGeoFitter, GammaGammaFitter

    # The same identical-row compression for the peer: lifetimes' own ``weights=``.
    (ux, ut, uT), w_bg = _compress([x, t_x, T])
    (gx, gz), w_gg = _compress([x[rep], z[rep]])

    def quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn()

        return run

    fits: dict[str, Callable[[], Any]] = {
        "ours_bg": lambda: BetaGeoModel().fit(x, t_x, T),
        "ours_gg": lambda: GammaGammaModel().fit(x, z),
        "peer_bg": quiet(lambda: BetaGeoFitter().fit(x, t_x, T)),
        "peer_gg": quiet(lambda: GammaGammaFitter().fit(x[rep], z[rep])),
        # kernel only: both sides fit the same compressed rows with weights
        "ours_bg_w": lambda: BetaGeoModel().fit(ux, ut, uT, weights=w_bg),
        "ours_gg_w": lambda: GammaGammaModel().fit(gx, gz, weights=w_gg),
        "peer_bg_w": quiet(lambda: BetaGeoFitter().fit(ux, ut, uT, weights=w_bg)),
        "peer_gg_w": quiet(lambda: GammaGammaFitter().fit(gx, gz, weights=w_gg)),
    }
    times: dict[str, list[float]] = {k: [] for k in fits}
    cpu: dict[str, list[float]] = {k: [] for k in fits}
    res: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    with threadpool_limits(args.blas_threads):
        for _ in range(args.repeat):  # alternately, so load changes hit both sides
            for key, fn in fits.items():
                res[key], wall, proc = _timed(fn)
                times[key].append(wall)
                cpu[key].append(proc)
    best = {k: min(v) for k, v in times.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    ours, ours_gg, peer, peer_gg = res["ours_bg"], res["ours_gg"], res["peer_bg"], res["peer_gg"]
    peer_bg = {k: float(peer.params_[k]) for k in TRUE_BG}
    peer_ggp = _gg_params(peer_gg)
    ours_s = best["ours_bg"] + best["ours_gg"]
    peer_s = best["peer_bg"] + best["peer_gg"]
    load = (round(load_before, 2), round(os.getloadavg()[0], 2))
    out = {
        "n": n,
        "repeat": args.repeat,
        "timing": "min wall and min CPU time of the runs, per fit",
        "blas_threads": args.blas_threads,
        "ours_s": ours_s,
        "peer_s": peer_s,
        "ratio": peer_s / ours_s,
        "cpu_ratio": (best_cpu["peer_bg"] + best_cpu["peer_gg"])
        / (best_cpu["ours_bg"] + best_cpu["ours_gg"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_avg": list(load),
        "cpus": os.cpu_count(),
        "bgnbd": {
            **_side(best, best_cpu, times, "bg"),
            "rows": n,
            "compressed_rows": len(ux),
            "truth": TRUE_BG,
            "ours_params": ours.params_,
            "ours_standard_errors": ours.standard_errors_,
            "peer_params": peer_bg,
            "peer_weighted_params": {k: float(res["peer_bg_w"].params_[k]) for k in TRUE_BG},
            "max_rel_diff_vs_peer": _max_rel(ours.params_, peer_bg),
            "max_rel_diff_vs_peer_weighted": _max_rel(
                res["ours_bg_w"].params_,
                {k: float(res["peer_bg_w"].params_[k]) for k in TRUE_BG},
            ),
            "ours_rel_error": _rel_err(ours.params_, TRUE_BG),
            "ours_z": _z(ours.params_, ours.standard_errors_, TRUE_BG),
            "peer_rel_error": _rel_err(peer_bg, TRUE_BG),
            "ours_log_likelihood": ours.log_likelihood_,
            "ours_n_iter": ours.n_iter_,
        },
        "gamma_gamma": {
            **_side(best, best_cpu, times, "gg"),
            "rows": int(rep.sum()),
            "n_repeat_customers": int(rep.sum()),
            "compressed_rows": len(gx),
            "truth": TRUE_GG,
            "ours_params": ours_gg.params_,
            "ours_standard_errors": ours_gg.standard_errors_,
            "peer_params": peer_ggp,
            "peer_weighted_params": _gg_params(res["peer_gg_w"]),
            "max_rel_diff_vs_peer": _max_rel(ours_gg.params_, peer_ggp),
            "max_rel_diff_vs_peer_weighted": _max_rel(
                res["ours_gg_w"].params_, _gg_params(res["peer_gg_w"])
            ),
            "ours_rel_error": _rel_err(ours_gg.params_, TRUE_GG),
            "ours_z": _z(ours_gg.params_, ours_gg.standard_errors_, TRUE_GG),
            "peer_rel_error": _rel_err(peer_ggp, TRUE_GG),
        },
        "peer": f"lifetimes {version('lifetimes')} BetaGeoFitter.fit / GammaGammaFitter.fit",
        "quick": bool(args.quick),
    }
    out["table"] = _rows(out, load)
    if not args.quick and args.n is None:
        path = Path(__file__).resolve().parent / "results" / "clv.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out["table"], indent=2))


if __name__ == "__main__":
    main()
