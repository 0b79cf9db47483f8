"""sBG, BG/BB and BG/NBD with covariates: levelfield vs PyMC-Marketing's MAP, one run.

Three fits on simulated data with known parameters:

* ``sbg``: 10,000 subscription cohorts of 100 customers, 12 monthly renewal decisions,
  one sBG per cohort (levelfield ``fit_sbg_cohorts``: vectorized Newton over cohorts;
  PyMC-Marketing ``ShiftedBetaGeoModel`` with cohort-level ``alpha``, ``beta``).
* ``bgbb``: 1,000,000 customers, 6 discrete opportunities (``BetaGeoBetaBinomModel``
  on both sides).
* ``bgnbd_cov``: 1,000,000 customers with 3 covariates (a channel flag, a centred
  first-order value, a region flag) on purchase and drop-out (levelfield
  ``BetaGeoCovariateModel``, including the plain fit for its LR test; PyMC-Marketing
  ``BetaGeoModel`` with ``purchase_covariate_cols`` and ``dropout_covariate_cols``).

PyMC-Marketing runs in its own environment, ``benchmarks/.venv-pymc`` (pymc, pytensor
compiling with g++; too heavy for ``dev``), made by ``make bench-pymc-venv`` (``make
bench`` depends on it; ``make test`` never does), as a subprocess
(``benchmarks/peers/pymc_clv.py``) on the same data written to Parquet. Flat priors
make its MAP the maximum likelihood estimate levelfield computes. Its time is model build
plus ``fit(method="map")`` (pytensor compilation and the optimizer; ``fit_only`` ratios
leave the build out), wall and CPU, with the load average before and after.

On a loaded 2-core machine PyMC-Marketing's MAP at full size does not finish in a usable
time, so the peer runs on the first ``--peer-fraction`` of each data set (default 10 %:
1,000 cohorts, 100,000 customers) and levelfield is timed on that same subset for the
ratio, as well as on the full size. Agreement: largest relative parameter difference
(coefficients: absolute difference), and the log-likelihood of each side's estimates
under levelfield's likelihood (``ll_ours - ll_peer`` >= 0 means ours is at least as
good). Writes ``benchmarks/results/clv_models.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levelfield.customers import BetaGeoBetaBinomModel, BetaGeoCovariateModel
from levelfield.customers._bgbb import bgbb_loglik
from levelfield.customers._covariates import bgnbd_row_derivatives
from levelfield.customers._sbg import fit_sbg_cohorts

ROOT = Path(__file__).resolve().parent
PEER_PY = ROOT / ".venv-pymc" / "bin" / "python"
PEER_SCRIPT = ROOT / "peers" / "pymc_clv.py"
DATA_DIR = ROOT / "data" / "clv_models"
TRUE_BGBB = {"alpha": 1.2, "beta": 0.75, "gamma": 0.65, "delta": 2.8}
TRUE_COV = {
    "r": 0.8,
    "alpha": 6.0,
    "a": 0.6,
    "b": 2.5,
    "purchase": np.array([-0.5, 0.3, 0.2]),
    "dropout_a": np.array([0.6, 0.0, -0.3]),
    "dropout_b": np.array([-0.2, 0.1, 0.0]),
}
COVS = ["z_channel", "z_value", "z_region"]


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


# -- data -----------------------------------------------------------------------------
def sbg_data(cohorts: int, rng: np.random.Generator) -> pd.DataFrame:
    size, renewals = 100, 12
    al = rng.uniform(0.5, 2.0, cohorts)
    be = rng.uniform(2.0, 8.0, cohorts)
    theta = rng.beta(np.repeat(al, size), np.repeat(be, size))
    life = rng.geometric(theta)  # paid periods
    churned = life <= renewals
    return pd.DataFrame(
        {
            "customer_id": np.arange(cohorts * size),
            "cohort": np.repeat(np.arange(cohorts), size).astype(str),
            # PyMC-Marketing: period of the last payment, T for the still active
            "recency": np.where(churned, life, renewals + 1),
            "T": renewals + 1,
        }
    )


def bgbb_data(n: int, rng: np.random.Generator, opportunities: int = 6) -> pd.DataFrame:
    p = rng.beta(TRUE_BGBB["alpha"], TRUE_BGBB["beta"], n)
    theta = rng.beta(TRUE_BGBB["gamma"], TRUE_BGBB["delta"], n)
    death = rng.geometric(theta)  # first opportunity at whose start the customer is gone
    t = np.arange(1, opportunities + 1)[None, :]
    buys = (t < death[:, None]) & (rng.random((n, opportunities)) < p[:, None])
    x = buys.sum(axis=1)
    t_x = np.where(x > 0, opportunities - np.argmax(buys[:, ::-1], axis=1), 0)
    return pd.DataFrame(
        {"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": opportunities}
    )


def bgnbd_cov_data(n: int, rng: np.random.Generator) -> pd.DataFrame:
    z = np.column_stack(
        [(rng.random(n) < 0.4) * 1.0, rng.normal(0.0, 1.0, n), (rng.random(n) < 0.3) * 1.0]
    )
    alpha = TRUE_COV["alpha"] * np.exp(-z @ TRUE_COV["purchase"])
    a = TRUE_COV["a"] * np.exp(z @ TRUE_COV["dropout_a"])
    b = TRUE_COV["b"] * np.exp(z @ TRUE_COV["dropout_b"])
    lam = rng.gamma(TRUE_COV["r"], 1.0 / alpha)
    p = rng.beta(a, b)
    T = np.round(rng.uniform(4.0, 52.0, n), 1)  # weeks, as a weekly summary has them
    alive_for = rng.geometric(p)  # purchases until drop-out (the last one included)
    x = np.zeros(n)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    active = np.ones(n, dtype=bool)
    for k in range(1, 200):  # purchase rounds, vectorized over customers
        clock = clock + rng.exponential(1.0, n) / lam
        buy = active & (clock <= T)
        x = x + buy
        t_x = np.where(buy, clock, t_x)
        active = buy & (k < alive_for)
        if not active.any():
            break
    t_x = np.where(x > 0, np.clip(np.round(t_x, 1), 0.1, T), 0.0)
    out = pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": T})
    for j, c in enumerate(COVS):
        out[c] = z[:, j]
    return out


# -- levelfield side --------------------------------------------------------------------
def ours_sbg(df: pd.DataFrame) -> pd.DataFrame:
    churned = (df["recency"] < df["T"]).to_numpy(float)
    periods = np.where(churned == 1, df["recency"], df["T"] - 1).astype(float)
    return fit_sbg_cohorts(periods, churned, df["cohort"].to_numpy())


def ours_bgbb(df: pd.DataFrame) -> dict[str, float]:
    m = BetaGeoBetaBinomModel().fit(df["frequency"], df["recency"], df["T"])
    return dict(m.params_)


def ours_bgnbd_cov(df: pd.DataFrame) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BetaGeoCovariateModel().fit(df["frequency"], df["recency"], df["T"], df[COVS], df[COVS])
    return dict(m.params_)


# -- agreement --------------------------------------------------------------------------
def _sbg_ll(df: pd.DataFrame, al: np.ndarray, be: np.ndarray) -> np.ndarray:
    codes, _ = pd.factorize(df["cohort"], sort=True)
    churned = (df["recency"] < df["T"]).to_numpy(float)
    periods = np.where(churned == 1, df["recency"], df["T"] - 1).astype(float)
    ll = np.empty(len(df))
    for c in (0.0, 1.0):  # two record kinds, each vectorized over customers
        sel = churned == c
        a1 = al[codes[sel]]
        b1 = be[codes[sel]]
        ll[sel] = _betaln(a1 + c, b1 + periods[sel] - c) - _betaln(a1, b1)
    return np.bincount(codes, weights=ll)


def _betaln(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.special import betaln

    out: np.ndarray = betaln(a, b)
    return out


def agreement_sbg(df: pd.DataFrame, ours: pd.DataFrame, peer: dict[str, Any]) -> dict[str, Any]:
    # PyMC-Marketing orders cohorts as they first appear, levelfield sorts them
    order = np.argsort(pd.Index(df["cohort"].unique()).to_numpy())
    pa, pb = np.asarray(peer["alpha"])[order], np.asarray(peer["beta"])[order]
    oa, ob = ours["alpha"].to_numpy(), ours["beta"].to_numpy()
    interior = (~ours["boundary"].to_numpy()) & (pa < 1e3) & (pb < 1e4) & np.isfinite(oa)
    rel = np.maximum(np.abs(oa - pa) / pa, np.abs(ob - pb) / pb)[interior]
    ll_ours = _sbg_ll(df, np.nan_to_num(oa, nan=1.0), np.nan_to_num(ob, nan=1.0))
    ll_peer = _sbg_ll(df, pa, pb)
    return {
        "cohorts": len(pa),
        "cohorts_interior_both": int(interior.sum()),
        "median_rel_param_diff_interior": float(np.median(rel)) if rel.size else None,
        "p95_rel_param_diff_interior": float(np.quantile(rel, 0.95)) if rel.size else None,
        "share_cohorts_ll_ours_ge_peer": float(np.mean(ll_ours >= ll_peer - 1e-6)),
        "total_ll_ours_minus_peer": float(ll_ours.sum() - ll_peer.sum()),
    }


def _rel_diff(ours: dict[str, float], peer: dict[str, float]) -> dict[str, float]:
    out = {}
    for k, v in peer.items():
        if ":" in k:
            out[k] = abs(ours[k] - v)
        else:
            out[k] = abs(ours[k] - v) / abs(v)
    return out


def agreement_bgbb(
    df: pd.DataFrame, ours: dict[str, float], peer: dict[str, float]
) -> dict[str, Any]:
    args = (df["frequency"].to_numpy(float), df["recency"].to_numpy(float), df["T"].to_numpy(float))

    def ll(p: dict[str, float]) -> float:
        return float(bgbb_loglik(p["alpha"], p["beta"], p["gamma"], p["delta"], *args)[0].sum())

    diff = _rel_diff(ours, peer)
    return {
        "max_rel_param_diff": max(diff.values()),
        "param_diff": diff,
        "ll_ours_minus_peer": ll(ours) - ll(peer),
        "truth": TRUE_BGBB,
    }


def agreement_cov(
    df: pd.DataFrame, ours: dict[str, float], peer: dict[str, float]
) -> dict[str, Any]:
    z = df[COVS].to_numpy(float)
    args = (df["frequency"].to_numpy(float), df["recency"].to_numpy(float), df["T"].to_numpy(float))

    def ll(p: dict[str, float]) -> float:
        g = {
            k: np.array([p[f"{k}:{c}"] for c in COVS])
            for k in ("purchase", "dropout_a", "dropout_b")
        }
        al = p["alpha"] * np.exp(-z @ g["purchase"])
        a = p["a"] * np.exp(z @ g["dropout_a"])
        b = p["b"] * np.exp(z @ g["dropout_b"])
        return float(bgnbd_row_derivatives(p["r"], al, a, b, *args)[0].sum())

    diff = _rel_diff(ours, peer)
    return {
        "max_param_diff": max(diff.values()),
        "param_diff": diff,
        "ll_ours_minus_peer": ll(ours) - ll(peer),
    }


# -- runs -------------------------------------------------------------------------------
def run_peer(task: str, df: pd.DataFrame) -> dict[str, Any]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    data = DATA_DIR / f"{task}.parquet"
    out = DATA_DIR / f"{task}_peer.json"
    df.to_parquet(data)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([str(PEER_PY), str(PEER_SCRIPT), task, str(data), str(out)], check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res: dict[str, Any] = json.loads(out.read_text())
    res["process_wall_s"] = wall
    res["process_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return res


def _task(
    name: str,
    full: pd.DataFrame,
    peer_df: pd.DataFrame,
    ours: Callable[[pd.DataFrame], Any],
    agree: Callable[[pd.DataFrame, Any, Any], dict[str, Any]],
    skip_peer: bool,
) -> dict[str, Any]:
    load_before = os.getloadavg()
    _, full_s, full_cpu = _timed(lambda: ours(full))
    ours_sub, sub_s, sub_cpu = _timed(lambda: ours(peer_df))
    res: dict[str, Any] = {
        "n_full": len(full),
        "ours_full_s": full_s,
        "ours_full_cpu_s": full_cpu,
        "n_peer": len(peer_df),
        "ours_s": sub_s,
        "ours_cpu_s": sub_cpu,
    }
    if not skip_peer:
        peer = run_peer(name, peer_df)
        peer_s = peer["build_s"] + peer["fit_s"]
        peer_cpu = peer["build_cpu_s"] + peer["fit_cpu_s"]
        res.update(
            peer_s=peer_s,
            peer_cpu_s=peer_cpu,
            peer_fit_only_s=peer["fit_s"],
            peer_process_wall_s=peer["process_wall_s"],
            peer_peak_rss_mb=peer["peak_rss_mb"],
            ratio=peer_s / sub_s,
            cpu_ratio=peer_cpu / max(sub_cpu, 1e-9),
            ratio_fit_only=peer["fit_s"] / sub_s,
            agreement=agree(peer_df, ours_sub, peer["params"]),
        )
    res["load_average_before"] = load_before
    res["load_average_after"] = os.getloadavg()
    print(name, {k: v for k, v in res.items() if k != "agreement"}, flush=True)
    return res


WHAT = {
    "sbg": ("sBG per cohort (10,000 cohorts full size)", "ShiftedBetaGeoModel"),
    "bgbb": ("BG/BB (1M customers full size)", "BetaGeoBetaBinomModel"),
    "bgnbd_cov": ("BG/NBD with 3 covariates (1M customers full size)", "BetaGeoModel"),
}


def _agreement_text(a: dict[str, Any]) -> str:
    keys = (
        "median_rel_param_diff_interior",
        "share_cohorts_ll_ours_ge_peer",
        "max_rel_param_diff",
        "max_param_diff",
        "ll_ours_minus_peer",
    )
    return "; ".join(f"{k} {a[k]:.2g}" for k in keys if isinstance(a.get(k), int | float))


def _table(results: dict[str, Any]) -> list[dict[str, Any]]:
    from _common import table_row

    rows = []
    version = results.get("peer_version") or ""
    for name, r in results["tasks"].items():
        what, cls = WHAT[name]
        if "ratio" not in r:
            continue
        rows.append(
            table_row(
                what,
                f"peer subset n = {r['n_peer']:,} (ours on {r['n_full']:,}: "
                f"{r['ours_full_s']:.1f} s wall, {r['ours_full_cpu_s']:.1f} s CPU)",
                f"PyMC-Marketing {cls} fit(method='map'), flat priors ({version})",
                r["ratio"],
                r["cpu_ratio"],
                _agreement_text(r["agreement"]),
                (r["load_average_before"][0], r["load_average_after"][0]),
                "peer time = model build + compile + MAP",
            )
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 % sizes")
    ap.add_argument("--peer-fraction", type=float, default=0.1)
    ap.add_argument("--skip-peer", action="store_true", help="levelfield only")
    ap.add_argument("--tasks", default="sbg,bgbb,bgnbd_cov")
    args = ap.parse_args()
    if not args.skip_peer and not PEER_PY.exists():
        sys.exit(
            f"{PEER_PY} is missing: run 'make bench-pymc-venv' first (PyMC-Marketing in "
            "its own environment), or pass --skip-peer"
        )
    scale = 0.01 if args.quick else 1.0
    rng = np.random.default_rng(22)
    makers = {
        "sbg": (lambda: sbg_data(int(10_000 * scale), rng), ours_sbg, agreement_sbg, "cohort"),
        "bgbb": (lambda: bgbb_data(int(1_000_000 * scale), rng), ours_bgbb, agreement_bgbb, None),
        "bgnbd_cov": (
            lambda: bgnbd_cov_data(int(1_000_000 * scale), rng),
            ours_bgnbd_cov,
            agreement_cov,
            None,
        ),
    }
    out = ROOT / "results" / ("clv_models-quick.json" if args.quick else "clv_models.json")
    results: dict[str, Any] = {"peer": "pymc-marketing MAP (flat priors)", "tasks": {}}
    if out.exists() and set(args.tasks.split(",")) != set(makers):
        # a rerun of some tasks keeps the others' results (each has its own load average)
        results["tasks"] = json.loads(out.read_text()).get("tasks", {})
    for name in args.tasks.split(","):
        make, ours, agree, group = makers[name]
        full = make()
        if group:
            keep = (
                full[group]
                .drop_duplicates()
                .iloc[: max(1, int(full[group].nunique() * args.peer_fraction))]
            )
            peer_df = full[full[group].isin(keep)].reset_index(drop=True)
        else:
            peer_df = full.iloc[: int(len(full) * args.peer_fraction)].reset_index(drop=True)
        results["tasks"][name] = _task(name, full, peer_df, ours, agree, args.skip_peer)
    results["peer_version"] = (
        subprocess.run(
            [
                str(PEER_PY),
                "-c",
                "import pymc_marketing, pymc; print(pymc_marketing.__version__, pymc.__version__)",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if PEER_PY.exists()
        else None
    )
    results["quick"] = bool(args.quick)
    results["table"] = _table(results)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
