"""Fleet: Spark local[2] vs multiprocessing.Pool(2) over the same kernels and Parquet.

A demo fleet of each size (default 1,000, 3,000 and 10,000 businesses; ``--quick``: 40
and 120) is written once; then the same per-business kernel
(``levelfield.fleet._kernels.safe_business_metrics``: customer summary, BG/NBD fit and
monthly retention, customer and channel concentration) runs

* on Spark ``local[2]`` (``levelfield.fleet.run``: read Parquet, ``groupBy.applyInPandas``,
  write ``fleet_findings``), and
* on the plainest fast floor: ``multiprocessing.Pool(2)``, each worker reading one Parquet
  file of the same dataset with pyarrow, grouping by business and calling the kernel, the
  parent writing the rows as Parquet.

Both sides use two cores and one BLAS thread per process; each keeps the minimum wall
and CPU time (the whole process tree) of ``--repeats`` (3) runs. Writes
``benchmarks/results/fleet.json``: businesses/s both sides, ``ratio`` = floor time /
Spark time, time per business at each size (Spark's should stay flat), peak RSS of the
driver and of the children (Spark's Python workers and the JVM count as children), and
the load average before and after, which on a shared machine moves every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from _common import pin_threads, table_row, tree_cpu_s
from levelfield.fleet import demo_fleet, run, spark_session
from levelfield.fleet._kernels import safe_business_metrics


def _one_file(path: str) -> pd.DataFrame:
    orders = pq.read_table(path).to_pandas()
    parts = [safe_business_metrics(g) for _, g in orders.groupby("business_id", sort=False)]
    return pd.concat(parts, ignore_index=True)


def _floor(directory: Path, out: Path) -> float:
    files = sorted(str(p) for p in (directory / "orders").glob("*.parquet"))
    t0 = time.perf_counter()
    with Pool(2) as pool:
        rows = pd.concat(pool.map(_one_file, files, chunksize=1), ignore_index=True)
    rows.to_parquet(out, index=False)
    return time.perf_counter() - t0


def _best(fn: Any, repeats: int) -> tuple[Any, float, float]:
    """Min wall and min CPU time (whole process tree) over ``repeats`` runs."""
    out, walls, cpus = None, [], []
    for _ in range(max(1, repeats)):
        w, c = time.perf_counter(), tree_cpu_s()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(tree_cpu_s() - c)
    return out, min(walls), min(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="40 and 120 businesses")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/levelfield-bench-fleet"))
    ap.add_argument("--repeats", type=int, default=3, help="runs per side (min is kept)")
    args = ap.parse_args()
    threads = pin_threads()  # one BLAS thread per process, both sides
    sizes = args.sizes or ([40, 120] if args.quick else [1_000, 3_000, 10_000])
    load_before = os.getloadavg()
    spark = spark_session("local[2]", app_name="levelfield-bench")
    runs = []
    for n in sizes:
        directory = args.work / f"fleet-{n}"
        made = demo_fleet(n, directory, seed=0, chunk=max(25, n // 16))
        result, spark_s, spark_cpu = _best(
            lambda d=directory: run(d, spark=spark, full=False), args.repeats
        )
        _, floor_s, floor_cpu = _best(
            lambda d=directory: _floor(d, d / "floor_findings.parquet"), args.repeats
        )
        runs.append(
            {
                "n_businesses": n,
                "n_orders": made.n_orders,
                "spark_s": spark_s,
                "floor_s": floor_s,
                "spark_cpu_s": spark_cpu,
                "floor_cpu_s": floor_cpu,
                "cpu_ratio": floor_cpu / spark_cpu,
                "spark_businesses_per_s": n / spark_s,
                "floor_businesses_per_s": n / floor_s,
                "ratio": floor_s / spark_s,
                "spark_ms_per_business": 1000 * spark_s / n,
                "floor_ms_per_business": 1000 * floor_s / n,
                "error_rows": result.n_error_rows,
            }
        )
        print(json.dumps(runs[-1]), flush=True)
    spark.stop()
    per = [r["spark_ms_per_business"] for r in runs]
    out = {
        "n": sizes[-1],
        "ours_s": runs[-1]["spark_s"],
        "peer_s": runs[-1]["floor_s"],
        "ratio": runs[-1]["ratio"],
        "cpu_ratio": runs[-1]["cpu_ratio"],
        "repeats": args.repeats,
        "timing": "min wall and min CPU time (this process and all descendants: the JVM, "
        "Spark's Python workers, the pool's workers) of the runs, per side",
        "threads": {**threads, "spark": "local[2]", "pool": 2},
        "peer": "multiprocessing.Pool(2) over the same kernel and Parquet",
        "runs": runs,
        "spark_per_business_spread": max(per) / min(per) - 1,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
    }
    out["table"] = [
        table_row(
            "fleet: per-business kernels on Spark local[2]"
            + (" (quick run)" if args.quick else ""),
            f"{sizes[-1]:,} businesses",
            "multiprocessing.Pool(2), same kernel and Parquet (floor)",
            out["ratio"],
            out["cpu_ratio"],
            f"error rows {runs[-1]['error_rows']}",
            (round(load_before[0], 2), round(os.getloadavg()[0], 2)),
            f"Spark time per business spread across sizes {out['spark_per_business_spread']:.0%}",
        )
    ]
    dest = Path(__file__).parent / "results" / ("fleet-quick.json" if args.quick else "fleet.json")
    dest.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
