"""PyMC-Marketing's MAP fits for benchmarks/clv_models.py (run by benchmarks/.venv-pymc).

Usage: ``python pymc_clv.py TASK DATA.parquet OUT.json``; TASK is ``sbg``, ``bgbb`` or
``bgnbd_cov``. Flat priors (``HalfFlat`` for positive parameters, ``Flat`` for
coefficients) make the MAP the maximum likelihood estimate, the same target levelfield
fits. Times: model build (graph) and ``fit(method="map")`` (pytensor compilation plus the
optimizer), wall and CPU of this process and the compilers it runs.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd


def _cpu() -> float:
    """CPU seconds of this process and of the compilers it ran (g++ for pytensor)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def _value(idata, name):
    return np.asarray(idata.posterior[name]).reshape(-1)


def main() -> None:
    task, data_path, out_path = sys.argv[1:4]
    warnings.simplefilter("ignore")
    t_import = time.perf_counter()
    from pymc_marketing.clv import BetaGeoBetaBinomModel, BetaGeoModel, ShiftedBetaGeoModel
    from pymc_marketing.prior import Prior

    df = pd.read_parquet(data_path)
    import_s = time.perf_counter() - t_import
    t0, c0 = time.perf_counter(), _cpu()
    if task == "sbg":
        cfg = {
            "alpha": Prior("HalfFlat", dims="cohort"),
            "beta": Prior("HalfFlat", dims="cohort"),
        }
        model = ShiftedBetaGeoModel(model_config=cfg)
    elif task == "bgbb":
        cfg = {k: Prior("HalfFlat") for k in ("alpha", "beta", "gamma", "delta")}
        model = BetaGeoBetaBinomModel(model_config=cfg)
    elif task == "bgnbd_cov":
        covs = [c for c in df.columns if c.startswith("z_")]
        cfg = {
            "r": Prior("HalfFlat"),
            "alpha": Prior("HalfFlat"),
            "a": Prior("HalfFlat"),
            "b": Prior("HalfFlat"),
            "purchase_coefficient": Prior("Flat"),
            "dropout_coefficient": Prior("Flat"),
            "purchase_covariate_cols": covs,
            "dropout_covariate_cols": covs,
        }
        model = BetaGeoModel(model_config=cfg)
    else:
        raise SystemExit(f"unknown task {task}")
    model.build_model(df)
    build_s, build_cpu = time.perf_counter() - t0, _cpu() - c0
    t1, c1 = time.perf_counter(), _cpu()
    idata = model.fit(method="map", progressbar=False)
    fit_s, fit_cpu = time.perf_counter() - t1, _cpu() - c1
    post = idata
    if task == "sbg":
        params = {"alpha": _value(post, "alpha").tolist(), "beta": _value(post, "beta").tolist()}
    elif task == "bgbb":
        params = {k: float(_value(post, k)[0]) for k in ("alpha", "beta", "gamma", "delta")}
    else:
        params = {k: float(_value(post, k)[0]) for k in ("r",)}
        for k in ("alpha_scale", "a_scale", "b_scale"):
            params[k.replace("_scale", "")] = float(_value(post, k)[0])
        for name, var in (
            ("purchase", "purchase_coefficient_alpha"),
            ("dropout_a", "dropout_coefficient_a"),
            ("dropout_b", "dropout_coefficient_b"),
        ):
            for c, v in zip(covs, _value(post, var), strict=True):
                params[f"{name}:{c}"] = float(v)
    with open(out_path, "w") as fh:
        json.dump(
            {
                "task": task,
                "n_rows": len(df),
                "import_s": import_s,
                "build_s": build_s,
                "build_cpu_s": build_cpu,
                "fit_s": fit_s,
                "fit_cpu_s": fit_cpu,
                "params": params,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
            fh,
        )


if __name__ == "__main__":
    main()
