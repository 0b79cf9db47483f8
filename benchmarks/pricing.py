"""Benchmark: two-way fixed-effects elasticity estimation, levelfield vs statsmodels.

The peer is statsmodels OLS with product and week dummy variables and standard errors
clustered by product — the textbook way to fit the model. Both run on the same subset
of the panel (the dummy regression cannot run on the full panel: its design matrix for
10,000 products x 156 weeks would be 1.56 M x 10,156 doubles = 127 GB); levelfield
then fits the full panel (pooled elasticity, per-product elasticities with partial
pooling) and the peak resident memory of the whole run is recorded.

Usage: ``python benchmarks/pricing.py [--quick]``; writes
``benchmarks/results/pricing.json``. BLAS runs single-threaded for both sides.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from levelfield.pricing import ElasticityModel, fe_ols, product_slopes

RESULTS = Path(__file__).resolve().parent / "results" / "pricing.json"


def make_panel(n_products: int, n_weeks: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Log-log demand with known product elasticities, product/week effects, promotions."""
    rng = np.random.default_rng(seed)
    P, T = n_products, n_weeks
    e = rng.uniform(-3.5, -0.3, P)
    a = rng.normal(4.0, 0.5, P)
    g = rng.normal(0.0, 0.2, T)
    block = 6
    levels = np.array([0.8, 0.9, 1.0, 1.1, 1.2])
    mult = np.repeat(rng.choice(levels, size=(P, -(-T // block))), block, axis=1)[:, :T]
    base = np.exp(rng.normal(2.5, 0.5, P))
    logp = np.log(base[:, None] * mult)
    promo = (rng.random((P, T)) < 0.1).astype(np.float64)
    y = (
        a[:, None]
        + g[None, :]
        + e[:, None] * (logp - np.log(base)[:, None])
        + 0.4 * promo
        + rng.normal(0.0, 0.15, (P, T))
    )
    return {
        "y": y.ravel(),
        "x": logp.ravel(),
        "promo": promo.ravel(),
        "product": np.repeat(np.arange(P), T).astype(np.intp),
        "week": np.tile(np.arange(T), P).astype(np.intp),
        "price": np.exp(logp).ravel(),
        "true_e": e,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(quick: bool) -> dict[str, object]:
    import statsmodels.api as sm

    n_products, n_weeks = (500, 52) if quick else (10_000, 156)
    n_sub = 50 if quick else 200
    data = make_panel(n_products, n_weeks)
    sub = data["product"] < n_sub
    ys, xs, ps, ts = data["y"][sub], data["x"][sub], data["product"][sub], data["week"][sub]
    prs = data["promo"][sub]

    # peer: dummy-variable OLS with clustered SEs on the subset
    t0 = time.perf_counter()
    X = np.column_stack(
        [
            xs,
            prs,
            np.ones(ys.size),
            (ps[:, None] == np.arange(1, n_sub)[None, :]).astype(np.float64),
            (ts[:, None] == np.arange(1, n_weeks)[None, :]).astype(np.float64),
        ]
    )
    peer = sm.OLS(ys, X).fit(cov_type="cluster", cov_kwds={"groups": ps})
    peer_s = time.perf_counter() - t0
    del X

    # levelfield on the same subset: the same model, same clustered SEs
    t0 = time.perf_counter()
    ours = fe_ols(ys, np.column_stack([xs, prs]), ps, ts, ps)
    ours_s = time.perf_counter() - t0
    coef_diff = float(np.max(np.abs(ours.coef - peer.params[:2])))
    se_rel = float(np.max(np.abs(ours.se / peer.bse[:2] - 1.0)))

    # levelfield on the full panel: pooled model and per-product elasticities
    t0 = time.perf_counter()
    full = fe_ols(
        data["y"],
        np.column_stack([data["x"], data["promo"]]),
        data["product"],
        data["week"],
        data["product"],
    )
    pooled_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    slopes = product_slopes(
        data["y"],
        data["x"],
        data["product"],
        data["week"],
        n_products=n_products,
        n_weeks=n_weeks,
        extra=data["promo"],
    )
    slopes_s = time.perf_counter() - t0
    err = slopes.slope - data["true_e"]

    # the whole elasticity model (stock-outs, outliers, partial pooling) on the full panel
    weeks = pd.Timestamp("2023-01-02") + pd.to_timedelta(data["week"] * 7, unit="D")
    panel = pd.DataFrame(
        {
            "sku": pd.Categorical.from_codes(
                data["product"], [f"P{i:05d}" for i in range(n_products)]
            ),
            "category": pd.Categorical.from_codes(
                data["product"] % 20, [f"c{i}" for i in range(20)]
            ),
            "week": weeks,
            "quantity": np.round(np.exp(data["y"]), 0),
            "posted_price": np.round(data["price"], 2),
            "promo": data["promo"].astype(bool),
        }
    )
    t0 = time.perf_counter()
    model = ElasticityModel(estimator="ols").fit(panel)
    model_s = time.perf_counter() - t0
    est = model.elasticities_
    shrunk_err = est["elasticity"].to_numpy() - data["true_e"]

    return {
        "benchmark": "pricing: two-way fixed-effects elasticity (levelfield vs statsmodels dummy OLS)",
        "n": int(n_products * n_weeks),
        "n_products": n_products,
        "n_weeks": n_weeks,
        "subset_rows": int(ys.size),
        "subset_products": n_sub,
        "ours_s": ours_s,
        "peer_s": peer_s,
        "ratio": peer_s / ours_s,
        "peak_rss_mb": peak_rss_mb(),
        "coef_max_abs_diff_vs_peer": coef_diff,
        "se_max_rel_diff_vs_peer": se_rel,
        "full_pooled_fe_s": pooled_s,
        "full_pooled_elasticity": float(full.coef[0]),
        "full_pooled_iterations": full.iterations,
        "full_product_slopes_s": slopes_s,
        "full_product_elasticity_rmse": float(np.sqrt(np.mean(err**2))),
        "full_product_elasticity_max_abs_err": float(np.max(np.abs(err))),
        "full_model_fit_s": model_s,
        "full_model_elasticity_rmse": float(np.sqrt(np.nanmean(shrunk_err**2))),
        "blas_threads": 1,
        "peer": "statsmodels OLS with product and week dummies, cov_type='cluster'",
        "quick": quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small panel for a smoke run")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=1, user_api="blas"):
        out = run(args.quick)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
