"""Fleet: Spark local[2] vs multiprocessing.Pool(2) over the same kernels and Parquet.

A demo fleet of each size (default 1,000, 3,000 and 10,000 businesses; ``--quick``: 40
and 120) is written once (an existing fleet of the right size under ``--work`` is
reused: the demo is deterministic by seed). Then the same per-business kernel
(``levelfield.fleet._kernels.safe_business_metrics``: customer summary, BG/NBD fit and
monthly retention, customer and channel concentration) runs

* on Spark ``local[2]`` (``levelfield.fleet.run(full=False)``: read Parquet,
  ``groupBy.applyInPandas``, write ``fleet_findings``, count what was written), and
* on the plainest fast floor: ``multiprocessing.Pool(2)``, each worker reading one
  Parquet file of the same dataset with pyarrow, grouping by business and calling the
  kernel, the parent writing the rows as Parquet.

Both sides are timed end to end (pool start-up, reading Parquet and writing the findings
included; the Spark session's JVM start and an untimed warm-up run of each side over
``--warmup`` (40) businesses are recorded apart), with one BLAS/OpenMP and
one DuckDB thread per process (the kernel sets DuckDB's) and two processes at a time.
The sides alternate (Spark, pool, Spark, pool, ...) at each size, smallest size first,
``--repeats`` times; each run records wall and CPU time of the whole process tree (the
JVM and Spark's Python workers, the pool's workers), the load average before and after,
and the peak RSS of the driver, the JVM and the Python workers (psutil, sampled every
0.2 s; CPU is summed per process, identified by pid and start tick, over the same samples,
and checked against the machine's busy CPU time over the run: a count above it is marked
``cpu_check: over`` and left out of the CPU minimum). The JSON
(``benchmarks/results/fleet.json``) is rewritten after every run, so an interrupted
benchmark keeps what finished; ``--stop-at HH:MM`` (UTC) starts no run after that time
and says so in ``note``. ``scaling`` gives the spread of the time per business over the
sizes and a least-squares split of each side's time into a fixed part and a marginal time
per business.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq

from _common import pin_threads, table_row
from levelfield.fleet import current_run, demo_fleet, run, spark_session
from levelfield.fleet._kernels import safe_business_metrics

RESULTS = Path(__file__).parent / "results"
MB = 1024 * 1024


def _one_file(path: str) -> pd.DataFrame:
    orders = pq.read_table(path).to_pandas()
    parts = [safe_business_metrics(g) for _, g in orders.groupby("business_id", sort=False)]
    return pd.concat(parts, ignore_index=True)


def _floor(directory: Path) -> Path:
    files = sorted(str(p) for p in (directory / "orders").glob("*.parquet"))
    out = directory / "floor_findings.parquet"
    with Pool(2) as pool:
        rows = pd.concat(pool.map(_one_file, files, chunksize=1), ignore_index=True)
    rows.to_parquet(out, index=False)
    return out


_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """``(start time in clock ticks after boot, user + system CPU s)`` of one process, read
    straight from ``/proc/<pid>/stat`` (fields 22, 14 and 15): the start tick is an exact
    integer, so a process keeps one identity however often it is sampled."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()  # fields[0] is field 3 (state)
    return int(fields[19]), (int(fields[11]) + int(fields[12])) / _TICKS


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (``/proc/stat``)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


class _Tree:
    """Peak RSS (MB) of this process, the JVM and the Python workers below it, and the CPU
    seconds the whole tree spent while watched (sampled every ``every`` s).

    CPU is counted per process (identified by pid and start tick) from its value at the
    first sample for a process already running then, or from zero for a process first seen
    later (it started inside the window), to its last sample; so processes that come and go
    (pool workers, Spark's Python workers) count, time spent before the window does not, and
    a process that ends between two samples loses at most ``every`` s. The machine's busy
    CPU time over the same window bounds the tree's from above: ``cpu_check`` says whether
    the count stayed within it (a count above it is a sampling error, not a measurement).
    """

    def __init__(self, every: float = 0.2) -> None:
        self.peak = {"driver": 0.0, "jvm": 0.0, "worker_max": 0.0, "workers_total": 0.0}
        self._cpu0: dict[tuple[int, int], float] = {}
        self._cpu1: dict[tuple[int, int], float] = {}
        self._first = True
        self._busy0 = self._busy1 = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)

    @property
    def cpu_s(self) -> float:
        return sum(v - self._cpu0[k] for k, v in self._cpu1.items())

    @property
    def machine_busy_s(self) -> float:
        return self._busy1 - self._busy0

    def _sample(self) -> None:
        me = psutil.Process()
        now = {"driver": me.memory_info().rss / MB, "jvm": 0.0, "worker_max": 0.0}
        total = 0.0
        for proc in [me, *me.children(recursive=True)]:
            stat = _proc_stat(proc.pid)
            try:
                rss, name = proc.memory_info().rss / MB, proc.name()
            except psutil.Error:
                continue
            if stat is None:
                continue
            key = (proc.pid, stat[0])
            self._cpu0.setdefault(key, stat[1] if self._first else 0.0)
            self._cpu1[key] = stat[1]
            if proc.pid == me.pid:
                continue
            if "java" in name:
                now["jvm"] = max(now["jvm"], rss)
            else:
                now["worker_max"] = max(now["worker_max"], rss)
                total += rss
        self._first = False
        now["workers_total"] = total
        self.peak = {k: max(v, now[k]) for k, v in self.peak.items()}

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self._sample()

    def __enter__(self) -> _Tree:
        self._busy0 = _machine_busy_s()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self._busy1 = _machine_busy_s()


def _timed(fn: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    load0, wall0 = os.getloadavg(), time.perf_counter()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with _Tree() as tree:
        out = fn()
    return out, {
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": tree.cpu_s,
        "machine_busy_cpu_s": tree.machine_busy_s,
        # the tree cannot use more CPU than the whole machine did (5 % for sampling jitter)
        "cpu_check": "ok" if tree.cpu_s <= 1.05 * tree.machine_busy_s + 0.5 else "over",
        "load_avg_before": [round(x, 2) for x in load0],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": {k: round(v, 1) for k, v in tree.peak.items()},
        "started_utc": started,
    }


def _fleet(work: Path, n: int) -> tuple[Path, int]:
    """The demo fleet of ``n`` businesses (reused when already written) and its orders."""
    directory = work / f"fleet-{n}"
    biz = directory / "businesses.parquet"
    if not (biz.is_file() and pq.read_metadata(biz).num_rows == n):
        demo_fleet(n, directory, seed=0, chunk=max(25, n // 16))
    files = sorted((directory / "orders").glob("*.parquet"))
    return directory, sum(pq.read_metadata(f).num_rows for f in files)


def _agreement(spark_dir: Path, floor_file: Path) -> float:
    """Largest |Spark value - pool value| over all metric rows (the same kernel: 0)."""
    a = pd.read_parquet(spark_dir)[["business_id", "metric", "value"]]
    b = pd.read_parquet(floor_file)[["business_id", "metric", "value"]]
    m = a.merge(b, on=["business_id", "metric"], how="outer", indicator=True)
    if not (m["_merge"] == "both").all():
        return float("inf")
    diff = (m["value_x"] - m["value_y"]).abs()
    both_nan = m["value_x"].isna() & m["value_y"].isna()
    return float(diff[~both_nan].fillna(float("inf")).max()) if len(m) else 0.0


def _size_summary(n: int, n_orders: int, sides: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    best = {s: min(r["wall_s"] for r in runs) for s, runs in sides.items() if runs}
    best_cpu = {  # a CPU count over the machine's own busy time is a sampling error
        s: min((r["cpu_s"] for r in runs if r.get("cpu_check", "ok") == "ok"), default=np.nan)
        for s, runs in sides.items()
        if runs
    }
    out: dict[str, Any] = {"n_businesses": n, "n_orders": n_orders, "runs": sides}
    for s in best:
        out[f"{s}_s"] = best[s]
        out[f"{s}_cpu_s"] = best_cpu[s]
        out[f"{s}_businesses_per_s"] = n / best[s]
        out[f"{s}_ms_per_business"] = 1000 * best[s] / n
        out[f"{s}_cpu_ms_per_business"] = 1000 * best_cpu[s] / n
    if len(best) == 2:
        out["ratio"] = best["floor"] / best["spark"]
        out["cpu_ratio"] = best_cpu["floor"] / best_cpu["spark"]
    return out


def _spread(sizes: list[dict[str, Any]], key: str) -> float | None:
    vals = [s[key] for s in sizes if key in s]
    return max(vals) / min(vals) - 1 if len(vals) >= 2 else None


def _note(sizes: list[int], done: list[dict[str, Any]], stopped: str | None) -> str:
    finished = [s["n_businesses"] for s in done if "ratio" in s]
    bits = [
        f"Sizes asked {', '.join(f'{n:,}' for n in sizes)}; finished on both sides: "
        + (", ".join(f"{n:,}" for n in finished) or "none")
        + "."
    ]
    if stopped:
        bits.append(stopped)
    bits.append(
        "The machine is a 2-core VM shared with other jobs: wall times move with the load "
        "average recorded per run, and CPU time includes time lost to contention."
    )
    return " ".join(bits)


def _write(
    dest: Path, meta: dict[str, Any], sizes: list[int], done: list[dict[str, Any]], stop: str | None
) -> None:
    full = [s for s in done if "ratio" in s]
    last = full[-1] if full else {}
    out = {
        "n": last.get("n_businesses"),
        "ours_s": last.get("spark_s"),
        "peer_s": last.get("floor_s"),
        "ratio": last.get("ratio"),
        "cpu_ratio": last.get("cpu_ratio"),
        **meta,
        "sizes": done,
        "scaling": {
            f"{side}_{unit}_spread": _spread(full, f"{side}_{unit}")
            for side in ("spark", "floor")
            for unit in ("ms_per_business", "cpu_ms_per_business")
        },
        "note": _note(sizes, done, stop),
    }
    if len(full) >= 2:  # time = fixed + marginal x businesses, least squares over the sizes
        n = np.array([s["n_businesses"] for s in full], dtype=float)
        for side in ("spark", "floor"):
            slope, fixed = np.polyfit(n, [s[f"{side}_s"] for s in full], 1)
            out["scaling"][f"{side}_marginal_ms_per_business"] = 1000 * slope
            out["scaling"][f"{side}_fixed_s"] = fixed
    spread = out["scaling"]["spark_ms_per_business_spread"]
    out["scaling"]["flat_within_20pct"] = None if spread is None else spread <= 0.2
    loads = [r["load_avg_before"][0] for s in done for rs in s["runs"].values() for r in rs]
    if full:
        out["table"] = [
            table_row(
                "fleet: per-business kernels on Spark local[2]",
                f"{last['n_businesses']:,} businesses",
                "multiprocessing.Pool(2), same kernel and Parquet (floor)",
                out["ratio"],
                out["cpu_ratio"],
                f"largest |Spark - pool| {last.get('max_abs_diff', float('nan')):.2g}",
                (min(loads), max(loads)),
                "Spark ms per business "
                + ", ".join(
                    f"{s['spark_ms_per_business']:.0f} at {s['n_businesses']:,}" for s in full
                ),
            )
        ]
    dest.write_text(json.dumps(out, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="40 and 120 businesses")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/levelfield-bench-fleet"))
    ap.add_argument("--repeats", type=int, default=1, help="Spark/pool pairs per size")
    ap.add_argument("--stop-at", default=None, help="UTC HH:MM after which no run starts")
    ap.add_argument(
        "--warmup", type=int, default=40, help="businesses of the untimed first run (0: none)"
    )
    args = ap.parse_args()
    threads = pin_threads()  # one BLAS thread per process, both sides
    sizes = args.sizes or ([40, 120] if args.quick else [1_000, 3_000, 10_000])
    dest = RESULTS / ("fleet-quick.json" if args.quick else "fleet.json")
    stop_at = None
    if args.stop_at:
        hh, mm = map(int, args.stop_at.split(":"))
        stop_at = dt.datetime.now(dt.UTC).replace(hour=hh, minute=mm, second=0)
    spark, start = _timed(lambda: spark_session("local[2]", app_name="levelfield-bench"))
    meta = {
        "peer": "multiprocessing.Pool(2) over the same kernel and Parquet",
        "repeats": args.repeats,
        "timing": "per side the min wall and min CPU time (this process and all descendants: "
        "the JVM, Spark's Python workers, the pool's workers) of its runs; sides alternate",
        "threads": {**threads, "duckdb": 1, "spark": "local[2]", "pool": 2},
        "spark_session_start": start,
        # Other work on the machine ran at nice 0; a benchmark started with ``nice -n -15``
        # gets most of the two cores when they are contended (the load average counts both).
        "nice": os.nice(0),
    }
    if args.warmup:
        # The first job after the JVM starts pays for JIT compilation, Spark's Python workers
        # importing pandas/SciPy/levelfield and a cold page cache; the pool's first run pays
        # for imports too. One untimed run of each side over a small fleet takes that out of
        # the per-business times (it is recorded here, like the session start).
        wdir, _ = _fleet(args.work, args.warmup)
        # force: the warm-up fleet is reused, and a reused run would warm nothing
        _, w_spark = _timed(lambda: run(wdir, spark=spark, full=False, force=True))
        _, w_floor = _timed(lambda: _floor(wdir))
        meta["warmup"] = {"n_businesses": args.warmup, "spark": w_spark, "floor": w_floor}
    done: list[dict[str, Any]] = []
    stopped = None
    for n in sizes:
        directory, n_orders = _fleet(args.work, n)
        sides: dict[str, list[dict[str, Any]]] = {"spark": [], "floor": []}
        for _ in range(max(1, args.repeats)):
            for side in ("spark", "floor"):
                if stop_at and dt.datetime.now(dt.UTC) > stop_at:
                    stopped = (
                        f"Stopped at --stop-at {args.stop_at} UTC before a {side} run at {n:,}."
                    )
                    break
                if side == "spark":
                    # force: a repeat over the same input would otherwise reuse the run
                    result, t = _timed(
                        lambda d=directory: run(d, spark=spark, full=False, force=True)
                    )
                    t["error_rows"] = result.n_error_rows
                else:
                    _, t = _timed(lambda d=directory: _floor(d))
                sides[side].append(t)
                summary = _size_summary(n, n_orders, sides)
                _write(dest, meta, sizes, [*done, summary], stopped)
                print(json.dumps({"n": n, "side": side, **t}), flush=True)
            if stopped:
                break
        summary = _size_summary(n, n_orders, sides)
        if "ratio" in summary:
            summary["max_abs_diff"] = _agreement(
                current_run(directory / "fleet_findings"), directory / "floor_findings.parquet"
            )
        done.append(summary)
        _write(dest, meta, sizes, done, stopped)
        if stopped:
            break
    spark.stop()
    print(dest.read_text())


if __name__ == "__main__":
    main()
