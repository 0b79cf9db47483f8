"""What every benchmark records, so a ratio can be judged against the noise around it.

On a shared 2-core machine a wall-clock ratio moves 2-3x with background load, so each
benchmark (issue 18, item 8):

* pins BLAS/OpenMP/Rayon/Numba threads to the same count for both sides
  (:func:`pin_threads`; DuckDB and Spark take the count from :data:`THREADS` too);
* times each side as the minimum of at least three runs, wall and CPU time
  (:func:`best_of`), and reports the CPU-time ratio next to the wall ratio;
* records the 1-minute load average before and after (:func:`machine`).

Each result JSON carries a ``table`` list (:func:`table_row`): the rows that
``benchmarks/_table.py`` turns into ``benchmarks/results/SUMMARY.md`` and the README's
benchmark table, so those numbers are generated, never typed.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
THREADS = 1
_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")


def pin_threads(n: int = THREADS) -> dict[str, int]:
    """The same thread count for both sides: environment (children, late imports) and
    the already-loaded BLAS/OpenMP pools (threadpoolctl)."""
    for var in (*_ENV, "NUMBA_NUM_THREADS", "POLARS_MAX_THREADS"):
        os.environ[var] = str(n)
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    return dict.fromkeys(_ENV, n)


def best_of(fn: Callable[[], T], repeats: int = 3) -> tuple[T, float, float]:
    """``(result of the last run, min wall s, min CPU s)`` over ``repeats`` runs."""
    walls, cpus = [], []
    out: Any = None
    for _ in range(max(1, repeats)):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return out, min(walls), min(cpus)


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def machine(load_before: float) -> dict[str, Any]:
    """Load average before and after, cores, Python: the context of every number."""
    return {
        "load_avg_1min_before": load_before,
        "load_avg_1min_after": load_avg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def table_row(
    what: str,
    size: str,
    peer: str,
    wall_ratio: float | None,
    cpu_ratio: float | None,
    agreement: str,
    load: tuple[float, float],
    note: str = "",
) -> dict[str, Any]:
    """One row of the generated benchmark table (``benchmarks/_table.py``)."""
    return {
        "what": what,
        "size": size,
        "peer": peer,
        "wall_ratio": None if wall_ratio is None else round(wall_ratio, 2),
        "cpu_ratio": None if cpu_ratio is None else round(cpu_ratio, 2),
        "agreement": agreement,
        "load_avg_1min": [round(load[0], 1), round(load[1], 1)],
        "note": note,
    }


def tree_cpu_s() -> float:
    """CPU seconds of this process and every descendant, live or reaped (Linux ``/proc``).

    For sides that run in other processes (Spark's JVM and Python workers, a
    ``multiprocessing`` pool): ``os.times`` counts this process and its reaped children;
    each live descendant adds its own time and that of the children it reaped.
    """
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
        parent[int(entry)] = int(fields[1])
        stats[int(entry)] = fields
    me = os.getpid()
    for pid, fields in stats.items():
        p = parent.get(pid)
        while p and p != me:
            p = parent.get(p)
        if p == me:  # utime, stime, cutime, cstime: fields 14-17 of stat
            total += sum(int(x) for x in fields[11:15]) / tick
    return total
