"""Per-customer summary: levelfield (DuckDB) vs lifetimes on the same transactions.

2,000,000 transaction rows (``--quick``: 200,000; ``--rows N`` for the 10M / peak RSS
check) of 200,000 customers over two years; both compute frequency/recency/T/monetary
value by day. Writes ``benchmarks/results/summary.json`` (max absolute difference of the
two outputs included). ``--no-peer`` skips lifetimes (for the 10M-row memory check).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from levelfield.customers import summarize_transactions


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    rows = args.rows or (200_000 if args.quick else 2_000_000)
    tx = make_transactions(rows)
    end = "2023-12-31"

    t0 = time.perf_counter()
    ours = summarize_transactions(
        tx, "customer_id", "date", "value", time_unit="day", observation_end=end
    )
    ours_s = time.perf_counter() - t0
    out: dict[str, object] = {"n": rows, "customers": ours.n_customers, "ours_s": ours_s}
    if not args.no_peer:
        from lifetimes.utils import summary_data_from_transaction_data

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            peer = summary_data_from_transaction_data(
                tx, "customer_id", "date", "value", observation_period_end=end, freq="D"
            )
            peer_s = time.perf_counter() - t0
        f = ours.to_frame()
        f.index = f.index.astype(np.int64)
        f = f.loc[peer.index]
        out["peer_s"] = peer_s
        out["ratio"] = peer_s / ours_s
        out["max_abs_diff"] = {
            c: float(np.abs(f[c].to_numpy() - peer[c].to_numpy()).max())
            for c in ("frequency", "recency", "T", "monetary_value")
        }
        out["peer"] = "lifetimes 0.11.3 summary_data_from_transaction_data (runs under pandas 3)"
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["quick"] = bool(args.quick)
    name = "summary.json" if args.rows in (None, 2_000_000) else f"summary_{rows}.json"
    path = Path(__file__).resolve().parent / "results" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
