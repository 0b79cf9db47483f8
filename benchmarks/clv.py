"""BG/NBD and Gamma-Gamma fitting: levelfield vs lifetimes on the same simulated summary.

1,000,000 customers (``--quick``: 50,000) are drawn from a BG/NBD with known parameters
(ages uniform over a year, whole days, as a daily summary has them) and spend from a
Gamma-Gamma; both libraries fit the same arrays in the same run, alternately
``--repeat`` times (default 2; medians compared, every run reported). BLAS thread pools
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
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="50,000 customers")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2)
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

    def peer_bg_fit() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return BetaGeoFitter().fit(x, t_x, T)

    def peer_gg_fit() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return GammaGammaFitter().fit(x[rep], z[rep])

    times: dict[str, list[float]] = {k: [] for k in ("ours_bg", "ours_gg", "peer_bg", "peer_gg")}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    load_before = os.getloadavg()[0]
    with threadpool_limits(args.blas_threads):
        for _ in range(args.repeat):
            for key, fn in (
                ("ours_bg", lambda: BetaGeoModel().fit(x, t_x, T)),
                ("ours_gg", lambda: GammaGammaModel().fit(x, z)),
                ("peer_bg", peer_bg_fit),
                ("peer_gg", peer_gg_fit),
            ):
                result, wall, proc = _timed(fn)
                times[key].append(wall)
                cpu[key].append(proc)
                if key == "ours_bg":
                    ours = result
                elif key == "ours_gg":
                    ours_gg = result
                elif key == "peer_bg":
                    peer = result
                else:
                    peer_gg = result
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    peer_bg = {k: float(peer.params_[k]) for k in TRUE_BG}
    peer_ggp = {
        "p": float(peer_gg.params_["p"]),
        "q": float(peer_gg.params_["q"]),
        "gamma": float(peer_gg.params_["v"]),
    }
    ours_s = med["ours_bg"] + med["ours_gg"]
    peer_s = med["peer_bg"] + med["peer_gg"]
    out = {
        "n": n,
        "repeat": args.repeat,
        "blas_threads": args.blas_threads,
        "ours_s": ours_s,
        "peer_s": peer_s,
        "ratio": peer_s / ours_s,
        "cpu_ratio": (med_cpu["peer_bg"] + med_cpu["peer_gg"])
        / (med_cpu["ours_bg"] + med_cpu["ours_gg"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_avg": [load_before, os.getloadavg()[0]],
        "cpus": os.cpu_count(),
        "bgnbd": {
            "ours_s": med["ours_bg"],
            "peer_s": med["peer_bg"],
            "ratio": med["peer_bg"] / med["ours_bg"],
            "ours_runs_s": times["ours_bg"],
            "peer_runs_s": times["peer_bg"],
            "ours_cpu_s": med_cpu["ours_bg"],
            "peer_cpu_s": med_cpu["peer_bg"],
            "truth": TRUE_BG,
            "ours_params": ours.params_,
            "ours_standard_errors": ours.standard_errors_,
            "peer_params": peer_bg,
            "ours_rel_error": _rel_err(ours.params_, TRUE_BG),
            "ours_z": _z(ours.params_, ours.standard_errors_, TRUE_BG),
            "peer_rel_error": _rel_err(peer_bg, TRUE_BG),
            "ours_log_likelihood": ours.log_likelihood_,
            "ours_n_iter": ours.n_iter_,
        },
        "gamma_gamma": {
            "n_repeat_customers": int(rep.sum()),
            "ours_s": med["ours_gg"],
            "peer_s": med["peer_gg"],
            "ratio": med["peer_gg"] / med["ours_gg"],
            "ours_runs_s": times["ours_gg"],
            "peer_runs_s": times["peer_gg"],
            "ours_cpu_s": med_cpu["ours_gg"],
            "peer_cpu_s": med_cpu["peer_gg"],
            "truth": TRUE_GG,
            "ours_params": ours_gg.params_,
            "ours_standard_errors": ours_gg.standard_errors_,
            "peer_params": peer_ggp,
            "ours_rel_error": _rel_err(ours_gg.params_, TRUE_GG),
            "ours_z": _z(ours_gg.params_, ours_gg.standard_errors_, TRUE_GG),
            "peer_rel_error": _rel_err(peer_ggp, TRUE_GG),
        },
        "peer": "lifetimes 0.11.3 BetaGeoFitter.fit / GammaGammaFitter.fit on the same arrays",
        "quick": bool(args.quick),
    }
    path = Path(__file__).resolve().parent / "results" / "clv.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("n", "ours_s", "peer_s", "ratio", "peak_rss_mb")}))
    print("BG/NBD", out["bgnbd"]["ratio"], out["bgnbd"]["ours_rel_error"])
    print("GG", out["gamma_gamma"]["ratio"], out["gamma_gamma"]["ours_rel_error"])


if __name__ == "__main__":
    main()
