"""Per-customer summary: levelfield (DuckDB) vs lifetimes on the same transactions.

2,000,000 transaction rows (``--quick``: 200,000; ``--rows N`` for the 10M / peak RSS
check) of 200,000 customers over two years; both compute frequency/recency/T/monetary
value by day from the same pandas DataFrame, as a user would have it (nothing is
converted or cached ahead for either side). After one untimed call each (reported as
``*_first_call_s``: it includes opening levelfield's scratch DuckDB database, once per
process), the two run alternately ``--repeat`` times (default 5) and the minimum wall and CPU
times are compared (BLAS threads pinned to one; levelfield's DuckDB uses its default
thread count, the peer is single-threaded pandas: the CPU ratio shows what that buys). CPU seconds are reported too, because on a shared machine wall time depends on
the other load (see ``load_avg``). Writes ``benchmarks/results/summary.json`` (max
absolute difference of the two outputs included). ``--no-peer`` skips lifetimes (for
the 10M-row memory check).

``floor_s`` is the plainest fast way: one bare DuckDB query computing the same columns on
the DataFrame, without input checks, ordering or result wrapping.
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

import duckdb
import numpy as np
import pandas as pd

from _common import pin_threads, table_row, version
from levelfield.customers import summarize_transactions

END = "2023-12-31"

FLOOR_SQL = """
WITH per AS (
    SELECT customer_id, date::DATE AS period, sum(value) AS amount
    FROM tx WHERE date < TIMESTAMP '2024-01-01' GROUP BY ALL
)
SELECT customer_id, count(*) - 1 AS frequency, max(period) - min(period) AS recency,
       DATE '2023-12-31' - min(period) AS T,
       (sum(amount) - arg_min(amount, period)) / greatest(count(*) - 1, 1) AS monetary_value
FROM per GROUP BY customer_id
"""


def make_transactions(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_customers = max(rows // 10, 1)
    cust = rng.zipf(1.3, rows) % n_customers
    start = np.datetime64("2022-01-01T00:00:00")
    seconds = rng.integers(0, 730 * 86400, rows)
    return pd.DataFrame(
        {
            "customer_id": cust.astype(np.int64),
            "date": start + seconds.astype("timedelta64[s]"),
            "value": np.round(rng.gamma(2.0, 20.0, rows), 2),
        }
    )


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    threads = pin_threads()
    rows = args.rows or (200_000 if args.quick else 2_000_000)
    tx = make_transactions(rows)
    load_before = os.getloadavg()[0]

    def ours_run() -> Any:
        return summarize_transactions(
            tx, "customer_id", "date", "value", time_unit="day", observation_end=END
        )

    def peer_run() -> pd.DataFrame:
        from lifetimes.utils import summary_data_from_transaction_data

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return summary_data_from_transaction_data(
                tx, "customer_id", "date", "value", observation_period_end=END, freq="D"
            )

    floor_db = duckdb.connect()  # opened once, as levelfield keeps its scratch database

    def floor_run() -> Any:
        con = floor_db.cursor()
        try:
            con.register("tx", tx)
            return con.execute(FLOOR_SQL).fetchnumpy()
        finally:
            con.close()

    # one untimed call of each first, reported apart (see the module docstring)
    ours_first_s = _timed(ours_run)[1]
    if not args.no_peer:
        peer_first_s = _timed(peer_run)[1]
    ours_wall, ours_cpu, peer_wall, peer_cpu, floor_wall = [], [], [], [], []
    ours: Any = None
    peer: pd.DataFrame | None = None
    for _ in range(args.repeat):
        ours, w, c = _timed(ours_run)
        ours_wall.append(w)
        ours_cpu.append(c)
        if not args.no_peer:
            peer, w, c = _timed(peer_run)
            peer_wall.append(w)
            peer_cpu.append(c)
        floor_wall.append(_timed(floor_run)[1])
    ours_s = min(ours_wall)
    out: dict[str, object] = {
        "n": rows,
        "customers": ours.n_customers,
        "repeat": args.repeat,
        "ours_s": ours_s,
        "ours_runs_s": ours_wall,
        "ours_cpu_s": min(ours_cpu),
        "ours_first_call_s": ours_first_s,
        "floor_s": min(floor_wall),
        "duckdb_threads": floor_db.execute("SELECT current_setting('threads')").fetchall()[0][0],
    }
    if peer is not None:
        peer_s = min(peer_wall)
        f = ours.to_frame()
        f.index = f.index.astype(np.int64)
        f = f.loc[peer.index]
        out["peer_s"] = peer_s
        out["peer_runs_s"] = peer_wall
        out["peer_cpu_s"] = min(peer_cpu)
        out["peer_first_call_s"] = peer_first_s
        out["ratio"] = peer_s / ours_s
        out["cpu_ratio"] = min(peer_cpu) / min(ours_cpu)
        out["max_abs_diff"] = {
            c: float(np.abs(f[c].to_numpy() - peer[c].to_numpy()).max())
            for c in ("frequency", "recency", "T", "monetary_value")
        }
        out["peer"] = "lifetimes 0.11.3 summary_data_from_transaction_data (runs under pandas 3)"
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_avg"] = [load_before, os.getloadavg()[0]]
    out["cpus"] = os.cpu_count()
    out["threads"] = threads
    out["quick"] = bool(args.quick)
    if peer is not None:
        out["table"] = [
            table_row(
                "per-customer summary (frequency, recency, T, monetary value)",
                f"{rows:,} transactions, {ours.n_customers:,} customers",
                f"lifetimes {version('lifetimes')} summary_data_from_transaction_data",
                float(out["ratio"]),  # type: ignore[arg-type]
                float(out["cpu_ratio"]),  # type: ignore[arg-type]
                "max abs diff " + ", ".join(f"{k} {v:.1e}" for k, v in out["max_abs_diff"].items()),  # type: ignore[attr-defined]
                (round(load_before, 2), round(os.getloadavg()[0], 2)),
                f"levelfield's DuckDB: {out['duckdb_threads']} threads; peer: pandas, 1 thread",
            )
        ]
    name = "summary.json" if args.rows in (None, 2_000_000) else f"summary_{rows}.json"
    path = Path(__file__).resolve().parent / "results" / name
    path.parent.mkdir(exist_ok=True)
    if not args.quick:
        path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
