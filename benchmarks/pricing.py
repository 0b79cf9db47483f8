"""Benchmark: two-way fixed-effects elasticity, levelfield vs pyfixest (and statsmodels).

The peer is pyfixest, the fastest tool an econometrician would use for this model:
``feols("y ~ x + promo | product + week", vcov={"CRV1": "product"})`` with its defaults
(MAP demeaner, Rust backend, ``fixef_tol=1e-6``), on the full 10,000 products x 156
weeks panel (1.56 M rows). levelfield runs ``fe_ols(..., ssc="nested")``, pyfixest's
small-sample convention, so coefficients and clustered standard errors agree (the
JSON records by how much).

Timings
    *warm*: both run alternately ``--repeat`` times (default 3) in this process after one
    untimed call each; the minimum wall and CPU seconds are reported (CPU = user+system
    of the process, all threads). *cold*: the first fit in a fresh Python process
    (a child process), after the package's import, which is reported apart
    (pyfixest imports lazily: most of its loading happens in the first fit). The load
    average is recorded before and after: on a shared machine wall ratios move with
    other load, CPU ratios much less.

Threads
    BLAS, OpenMP and Rayon (pyfixest's Rust backend) are pinned to ``--threads``
    (default 1) for both sides through the environment, before anything is imported.

Second peer
    linearmodels ``PanelOLS`` with entity and time effects, clustered by entity (warm,
    minimum of ``--repeat``; coefficient and SE differences recorded).

Reference row
    statsmodels OLS with product and week dummies and ``cov_type="cluster"``, the
    textbook regression, on a 200-product subset (its dense design matrix for the full
    panel would need 127 GB); levelfield ``fe_ols`` (``ssc="full"``, statsmodels'
    convention) on the same subset.

Usage: ``python benchmarks/pricing.py [--quick] [--repeat N] [--threads N]``; writes
``benchmarks/results/pricing.json``.
"""

from __future__ import annotations

import os
import sys

_THREADS = "1"
for _i, _a in enumerate(sys.argv):  # before NumPy/pyfixest start their thread pools
    if _a == "--threads" and _i + 1 < len(sys.argv):
        _THREADS = sys.argv[_i + 1]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")
for _v in _THREAD_VARS:
    os.environ[_v] = _THREADS

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "pricing.json"
FORMULA = "y ~ x + promo | product + week"


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


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _sizes(quick: bool) -> tuple[int, int, int]:
    return (500, 52, 50) if quick else (10_000, 156, 200)


def _frame(data: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({k: data[k] for k in ("y", "x", "promo", "product", "week")})


def _pyfixest(df: pd.DataFrame) -> Any:
    import pyfixest as pf

    with warnings.catch_warnings():  # pyfixest 0.60 under pandas 3.1: reset_index(inplace)
        warnings.simplefilter("ignore")
        return pf.feols(FORMULA, data=df, vcov={"CRV1": "product"})


def _ours(df: pd.DataFrame, ssc: str = "nested") -> Any:
    """levelfield from the same DataFrame pyfixest gets (column extraction included)."""
    from levelfield.pricing import fe_ols

    X = df[["x", "promo"]].to_numpy(dtype=np.float64)
    p = df["product"].to_numpy()
    return fe_ols(df["y"].to_numpy(), X, p, df["week"].to_numpy(), p, ssc=ssc)


def _linearmodels(indexed: pd.DataFrame) -> Any:
    from linearmodels.panel import PanelOLS

    model = PanelOLS(indexed["y"], indexed[["x", "promo"]], entity_effects=True, time_effects=True)
    return model.fit(cov_type="clustered", cluster_entity=True)


def linearmodels_row(df: pd.DataFrame, ours: Any, repeat: int) -> dict[str, Any]:
    """linearmodels' PanelOLS (both effects absorbed, clustered by entity), warm."""
    try:
        lm_version = version("linearmodels")
    except PackageNotFoundError:  # an optional peer: record that it was not run
        return {"peer": "linearmodels PanelOLS", "not_run": "linearmodels is not installed"}
    indexed = df.set_index(["product", "week"])
    _linearmodels(indexed)
    runs = [_timed(lambda: _linearmodels(indexed)) for _ in range(repeat)]
    fit = runs[-1][0]
    ours_wall = min(_timed(lambda: _ours(df))[1] for _ in range(repeat))
    lm_se = fit.std_errors.to_numpy()
    return {
        "peer": "linearmodels PanelOLS(entity_effects, time_effects).fit(cov_type='clustered', "
        "cluster_entity=True), data indexed by (product, week) beforehand",
        "peer_version": lm_version,
        "peer_s": min(r[1] for r in runs),
        "peer_cpu_s": min(r[2] for r in runs),
        "ours_s": ours_wall,
        "ratio": min(r[1] for r in runs) / ours_wall,
        "coef_max_abs_diff_vs_peer": float(np.max(np.abs(ours.coef - fit.params.to_numpy()))),
        "se_peer": lm_se.tolist(),
        "se_max_rel_diff_vs_peer": float(np.max(np.abs(ours.se / lm_se - 1.0))),
        "se_note": "linearmodels applies its own small-sample convention (neither 'full' "
        "nor 'nested'); se_max_rel_diff_vs_peer is against ours with ssc='nested'",
    }


def cold_child(side: str, quick: bool) -> None:
    """Run in a fresh process: import the package, then time its first fit."""
    P, T, _ = _sizes(quick)
    df = _frame(make_panel(P, T))
    t0, c0 = time.perf_counter(), time.process_time()
    if side == "peer":
        import pyfixest  # noqa: F401  (lazy: most of it loads on the first fit)
    else:
        import levelfield.pricing  # noqa: F401
    imp = time.perf_counter() - t0
    _, wall, cpu = _timed(lambda: _pyfixest(df) if side == "peer" else _ours(df))
    total_cpu = time.process_time() - c0
    print(
        json.dumps(
            {
                "import_s": imp,
                "first_fit_s": wall,
                "first_fit_cpu_s": cpu,
                "cpu_s_with_import": total_cpu,
            }
        )
    )


def cold(side: str, quick: bool) -> dict[str, float]:
    """The first fit of ``side`` in a fresh interpreter (the package not yet imported)."""
    cmd = [sys.executable, __file__, "--cold-child", side] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def warm(data: dict[str, np.ndarray], repeat: int) -> dict[str, Any]:
    """Both sides alternately, after one untimed call each; minimum of ``repeat`` runs."""
    df = _frame(data)
    _ours(df)
    _pyfixest(df)
    ow, oc, pw, pc = [], [], [], []
    ours = peer = None
    for _ in range(repeat):
        ours, w, c = _timed(lambda: _ours(df))
        ow.append(w)
        oc.append(c)
        peer, w, c = _timed(lambda: _pyfixest(df))
        pw.append(w)
        pc.append(c)
    if ours is None or peer is None:
        raise RuntimeError("no timed run (repeat must be >= 1)")
    full = _ours(df, ssc="full")
    pcoef, pse = peer.coef().to_numpy(), peer.se().to_numpy()
    return {
        "ours_s": min(ow),
        "peer_s": min(pw),
        "ours_cpu_s": min(oc),
        "peer_cpu_s": min(pc),
        "ours_runs_s": ow,
        "peer_runs_s": pw,
        "ours_cpu_runs_s": oc,
        "peer_cpu_runs_s": pc,
        "coef_ours": ours.coef.tolist(),
        "coef_peer": pcoef.tolist(),
        "se_ours_nested": ours.se.tolist(),
        "se_ours_full": full.se.tolist(),
        "se_peer": pse.tolist(),
        "coef_max_abs_diff_vs_peer": float(np.max(np.abs(ours.coef - pcoef))),
        "se_max_rel_diff_vs_peer": float(np.max(np.abs(ours.se / pse - 1.0))),
        "se_full_over_nested": float(full.se[0] / ours.se[0]),
        "iterations": ours.iterations,
    }


def statsmodels_reference(data: dict[str, np.ndarray], n_sub: int, T: int) -> dict[str, Any]:
    """The textbook dummy-variable OLS on a subset, and levelfield on the same subset."""
    import statsmodels.api as sm

    from levelfield.pricing import fe_ols

    sub = data["product"] < n_sub
    ys, xs, ps, ts = data["y"][sub], data["x"][sub], data["product"][sub], data["week"][sub]
    prs = data["promo"][sub]

    def peer_fit() -> Any:
        X = np.column_stack(
            [
                xs,
                prs,
                np.ones(ys.size),
                (ps[:, None] == np.arange(1, n_sub)[None, :]).astype(np.float64),
                (ts[:, None] == np.arange(1, T)[None, :]).astype(np.float64),
            ]
        )
        return sm.OLS(ys, X).fit(cov_type="cluster", cov_kwds={"groups": ps})

    peer, peer_s, peer_cpu = _timed(peer_fit)
    ours, ours_s, ours_cpu = _timed(
        lambda: fe_ols(ys, np.column_stack([xs, prs]), ps, ts, ps, ssc="full")
    )
    return {
        "peer": "statsmodels OLS with product and week dummies, cov_type='cluster'",
        "peer_version": version("statsmodels"),
        "subset_rows": int(ys.size),
        "subset_products": n_sub,
        "ours_s": ours_s,
        "peer_s": peer_s,
        "ratio": peer_s / ours_s,
        "cpu_ratio": peer_cpu / max(ours_cpu, 1e-9),
        "coef_max_abs_diff_vs_peer": float(np.max(np.abs(ours.coef - peer.params[:2]))),
        "se_max_rel_diff_vs_peer": float(np.max(np.abs(ours.se / peer.bse[:2] - 1.0))),
    }


def full_model(data: dict[str, np.ndarray], P: int, T: int) -> dict[str, Any]:
    """levelfield's per-product elasticities and whole model on the full panel."""
    from levelfield.pricing import ElasticityModel, product_slopes

    slopes, slopes_s, _ = _timed(
        lambda: product_slopes(
            data["y"],
            data["x"],
            data["product"],
            data["week"],
            n_products=P,
            n_weeks=T,
            extra=data["promo"],
        )
    )
    err = slopes.slope - data["true_e"]
    weeks = pd.Timestamp("2023-01-02") + pd.to_timedelta(data["week"] * 7, unit="D")
    panel = pd.DataFrame(
        {
            "sku": pd.Categorical.from_codes(data["product"], [f"P{i:05d}" for i in range(P)]),
            "category": pd.Categorical.from_codes(
                data["product"] % 20, [f"c{i}" for i in range(20)]
            ),
            "week": weeks,
            "quantity": np.round(np.exp(data["y"]), 0),
            "posted_price": np.round(data["price"], 2),
            "promo": data["promo"].astype(bool),
        }
    )
    model, model_s, _ = _timed(lambda: ElasticityModel(estimator="ols").fit(panel))
    shrunk_err = model.elasticities_["elasticity"].to_numpy() - data["true_e"]
    return {
        "full_product_slopes_s": slopes_s,
        "full_product_elasticity_rmse": float(np.sqrt(np.mean(err**2))),
        "full_product_elasticity_max_abs_err": float(np.max(np.abs(err))),
        "full_model_fit_s": model_s,
        "full_model_elasticity_rmse": float(np.sqrt(np.nanmean(shrunk_err**2))),
    }


def run(quick: bool, repeat: int) -> dict[str, Any]:
    P, T, n_sub = _sizes(quick)
    load_before = list(os.getloadavg())
    cold_ours = cold("ours", quick)
    cold_peer = cold("peer", quick)
    data = make_panel(P, T)
    w = warm(data, repeat)
    lm = linearmodels_row(_frame(data), _ours(_frame(data)), repeat)
    ref = statsmodels_reference(data, n_sub, T)
    extra = full_model(data, P, T)
    return {
        "benchmark": "pricing: two-way FE OLS with product-clustered SEs (levelfield vs pyfixest)",
        "n": int(P * T),
        "n_products": P,
        "n_weeks": T,
        "peer": f'pyfixest feols("{FORMULA}", vcov={{"CRV1": "product"}}), defaults',
        "peer_version": version("pyfixest"),
        "ours": 'levelfield.pricing.fe_ols(..., ssc="nested")',
        "ours_s": w["ours_s"],
        "peer_s": w["peer_s"],
        "ratio": w["peer_s"] / w["ours_s"],
        "cpu_ratio": w["peer_cpu_s"] / w["ours_cpu_s"],
        "cold_ours_s": cold_ours["first_fit_s"],
        "cold_peer_s": cold_peer["first_fit_s"],
        "cold_ratio": cold_peer["first_fit_s"] / cold_ours["first_fit_s"],
        "cold_ours": cold_ours,
        "cold_peer": cold_peer,
        **{k: v for k, v in w.items() if k not in ("ours_s", "peer_s")},
        "small_sample_convention": (
            "ssc='nested': K = k + G1 + G2 - 1 - G_product + 1 (product effects nested in "
            "the product clusters are not counted), pyfixest/fixest default; ssc='full' "
            "counts every dummy (statsmodels); se_full_over_nested is the ratio"
        ),
        "linearmodels": lm,
        "statsmodels_reference": ref,
        **extra,
        "repeat": repeat,
        "threads": {v: os.environ[v] for v in _THREAD_VARS},
        "load_avg_before": load_before,
        "load_avg_after": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "peak_rss_mb": peak_rss_mb(),
        "quick": quick,
    }


def table(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the generated benchmark table (benchmarks/_table.py)."""
    from _common import table_row

    load = (out["load_avg_before"][0], out["load_avg_after"][0])
    size = f"{out['n_products']:,} products x {out['n_weeks']} weeks ({out['n']:,} rows)"
    what = "fixed-effects elasticity, product-clustered SEs"
    agree = (
        f"coef diff {out['coef_max_abs_diff_vs_peer']:.1e}, "
        f"SE rel diff {out['se_max_rel_diff_vs_peer']:.1e} (ssc='nested')"
    )
    lm, ref = out["linearmodels"], out["statsmodels_reference"]
    return [
        table_row(
            what + ", warm",
            size,
            f"pyfixest {out['peer_version']} feols",
            out["ratio"],
            out["cpu_ratio"],
            agree,
            load,
        ),
        table_row(
            what + ", cold first fit",
            size,
            f"pyfixest {out['peer_version']} feols",
            out["cold_ratio"],
            out["cold_peer"]["first_fit_cpu_s"] / out["cold_ours"]["first_fit_cpu_s"],
            agree,
            load,
            "first fit in a fresh process (pyfixest compiles)",
        ),
        table_row(
            what + ", warm",
            size,
            f"linearmodels {lm['peer_version']} PanelOLS",
            lm["ratio"],
            None,
            f"coef diff {lm['coef_max_abs_diff_vs_peer']:.1e}, SE rel diff "
            f"{lm['se_max_rel_diff_vs_peer']:.1e} (its own small-sample convention)",
            load,
        ),
        table_row(
            "same, textbook reference",
            f"{ref['subset_rows']:,} rows (subset)",
            f"statsmodels {ref['peer_version']} OLS with dummies",
            ref["ratio"],
            ref.get("cpu_ratio"),
            f"coef diff {ref['coef_max_abs_diff_vs_peer']:.1e}, SE rel diff "
            f"{ref['se_max_rel_diff_vs_peer']:.1e} (ssc='full')",
            load,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small panel for a smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per side (min taken)")
    parser.add_argument("--threads", type=int, default=1, help="threads for both sides")
    parser.add_argument("--cold-child", choices=("ours", "peer"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_child:
        cold_child(args.cold_child, args.quick)
        return 0
    out = run(args.quick, max(args.repeat, 1))
    out["table"] = table(out)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
