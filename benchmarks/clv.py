"""BG/NBD and Gamma-Gamma fitting: levelfield vs lifetimes on the same simulated summary.

1,000,000 customers (``--quick``: 50,000) are drawn from a BG/NBD with known parameters
(ages uniform over a year, whole days, as a daily summary has them) and spend from a
Gamma-Gamma; both libraries fit the same arrays in the same run. Writes
``benchmarks/results/clv.json``. Peer path: ``lifetimes.BetaGeoFitter.fit`` and
``GammaGammaFitter.fit`` on the arrays (these run under pandas 3).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path

import numpy as np

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="50,000 customers")
    ap.add_argument("--n", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (50_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(2024)
    T = rng.integers(1, 366, n).astype(float)
    x, t_x, T = simulate_bgnbd_summary(n, *TRUE_BG.values(), T, rng)
    t_x = np.where(x > 0, np.maximum(np.round(t_x), 1.0), 0.0)  # whole days, as summaries
    t_x = np.minimum(t_x, T)
    z = np.round(simulate_gamma_gamma_spend(x, *TRUE_GG.values(), rng), 2)
    z = np.where(x > 0, np.maximum(z, 0.01), 0.0)

    t0 = time.perf_counter()
    ours = BetaGeoModel().fit(x, t_x, T)
    ours_bg_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_gg = GammaGammaModel().fit(x, z)
    ours_gg_s = time.perf_counter() - t0

    from lifetimes import BetaGeoFitter, GammaGammaFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        peer = BetaGeoFitter().fit(x, t_x, T)
        peer_bg_s = time.perf_counter() - t0
        rep = x > 0
        t0 = time.perf_counter()
        peer_gg = GammaGammaFitter().fit(x[rep], z[rep])
        peer_gg_s = time.perf_counter() - t0
    peer_bg = {k: float(peer.params_[k]) for k in TRUE_BG}
    peer_ggp = {
        "p": float(peer_gg.params_["p"]),
        "q": float(peer_gg.params_["q"]),
        "gamma": float(peer_gg.params_["v"]),
    }

    out = {
        "n": n,
        "ours_s": ours_bg_s + ours_gg_s,
        "peer_s": peer_bg_s + peer_gg_s,
        "ratio": (peer_bg_s + peer_gg_s) / (ours_bg_s + ours_gg_s),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bgnbd": {
            "ours_s": ours_bg_s,
            "peer_s": peer_bg_s,
            "ratio": peer_bg_s / ours_bg_s,
            "truth": TRUE_BG,
            "ours_params": ours.params_,
            "peer_params": peer_bg,
            "ours_rel_error": _rel_err(ours.params_, TRUE_BG),
            "peer_rel_error": _rel_err(peer_bg, TRUE_BG),
            "ours_log_likelihood": ours.log_likelihood_,
        },
        "gamma_gamma": {
            "n_repeat_customers": int((x > 0).sum()),
            "ours_s": ours_gg_s,
            "peer_s": peer_gg_s,
            "ratio": peer_gg_s / ours_gg_s,
            "truth": TRUE_GG,
            "ours_params": ours_gg.params_,
            "peer_params": peer_ggp,
            "ours_rel_error": _rel_err(ours_gg.params_, TRUE_GG),
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
