"""Benchmark: levelfield's Shopify import against a bare DuckDB ``read_csv``.

Generates a Shopify-format orders export (79 columns, 1-4 line items per order,
order-level fields on the first row only) with N order lines, then in one run:

* peer: ``CREATE TABLE t AS SELECT * FROM read_csv(FILE)`` into a fresh DuckDB file;
* levelfield: ``import_file(ws, "orders", FILE)`` into a fresh workspace (detect,
  hash, parse, validate, pseudonymize, aggregate orders, upsert lines, commit).

Each runs in its own subprocess so that its peak RSS is its own, ``--repeats`` (3)
times, with the same DuckDB thread count and BLAS pins; the minimum wall and CPU time
(of the subprocess, all its threads) are compared. Writes
``benchmarks/results/ingest.json`` with ``n``, ``ours_s``, ``peer_s``, ``ratio``
(peer / ours; above 1 means levelfield is faster), ``peak_rss_mb`` (levelfield's),
``peer_peak_rss_mb`` and the row counts as accuracy figures.

Usage: ``python benchmarks/ingest.py [--quick] [--rows N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import duckdb

from _common import load_avg, machine, pin_threads, table_row

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
#: The same DuckDB thread count for both sides (one per core of the 2-core machine).
DUCKDB_THREADS = 2

SHOPIFY = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Tax 1 Name",
    "Tax 1 Value",
    "Tax 2 Name",
    "Tax 2 Value",
    "Tax 3 Name",
    "Tax 3 Value",
    "Tax 4 Name",
    "Tax 4 Value",
    "Tax 5 Name",
    "Tax 5 Value",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
    "Payment Terms Name",
    "Next Payment Due At",
    "Payment References",
]


def generate(path: Path, n: int) -> None:
    """Write ``n`` Shopify order lines (orders of 1-4 lines) with DuckDB."""
    if len(SHOPIFY) != 79:
        raise RuntimeError("the Shopify header must have 79 columns")
    # line i belongs to order o = i // 4 * 2 + (i % 4 >= 2 ...) -- simpler: orders of
    # varying size from a deterministic hash; first line of each order carries totals.
    con = duckdb.connect()
    con.execute(
        f"""
        CREATE TABLE l AS
        WITH base AS (
            SELECT i, (i * 2654435761) % 4294967296 AS h FROM range({n}) t(i)
        ), o AS (
            SELECT i, h, sum(CASE WHEN i = 0 OR h % 5 < 2 THEN 1 ELSE 0 END)
                OVER (ORDER BY i ROWS UNBOUNDED PRECEDING) AS ord FROM base
        )
        SELECT i, ord, h, row_number() OVER (PARTITION BY ord ORDER BY i) = 1 AS first,
               1 + h % 3 AS qty, 8 + (h % 9) * 1.5 AS price,
               TIMESTAMP '2022-01-01' + to_minutes(CAST(ord * 3 AS BIGINT)) AS ts
        FROM o
        """
    )
    money = "printf('%.2f', {})"
    cols = dict.fromkeys(SHOPIFY, "''")
    first = "first"
    cols.update(
        {
            "Name": "'#' || (1000 + ord)",
            "Email": f"CASE WHEN {first} THEN 'customer' || (h % 50000) || '@example.com' ELSE '' END",
            "Financial Status": f"CASE WHEN {first} THEN CASE WHEN h % 50 = 0 THEN 'refunded' "
            "WHEN h % 37 = 0 THEN 'partially_refunded' ELSE 'paid' END ELSE '' END",
            "Currency": f"CASE WHEN {first} THEN 'EUR' ELSE '' END",
            "Subtotal": f"CASE WHEN {first} THEN {money.format('qty * price')} ELSE '' END",
            "Shipping": f"CASE WHEN {first} THEN '4.90' ELSE '' END",
            "Taxes": f"CASE WHEN {first} THEN {money.format('qty * price * 0.07')} ELSE '' END",
            "Total": f"CASE WHEN {first} THEN {money.format('qty * price * 1.07 + 4.9')} ELSE '' END",
            "Discount Amount": f"CASE WHEN {first} THEN '0.00' ELSE '' END",
            "Created at": "strftime(ts, '%Y-%m-%d %H:%M:%S') || CASE WHEN month(ts) BETWEEN 4 "
            "AND 10 THEN ' +0200' ELSE ' +0100' END",
            "Lineitem quantity": "CAST(qty AS VARCHAR)",
            "Lineitem name": "'Coffee ' || (h % 40)",
            "Lineitem price": money.format("price"),
            "Lineitem sku": "'SKU-' || (h % 40)",
            "Billing Name": f"CASE WHEN {first} THEN 'Customer ' || (h % 50000) ELSE '' END",
            "Billing Phone": f"CASE WHEN {first} THEN '+49 170 ' || (h % 9000000) ELSE '' END",
            "Refunded Amount": f"CASE WHEN {first} THEN CASE WHEN h % 50 = 0 THEN "
            f"{money.format('qty * price')} WHEN h % 37 = 0 THEN '5.00' ELSE '0.00' END "
            "ELSE '' END",
            "Notes": f"CASE WHEN {first} AND h % 97 = 0 THEN 'Ring twice,' || chr(10) || "
            "'then leave at the door' ELSE '' END",
            "Lineitem discount": "'0.00'",
            "Id": "CAST(5000000000000 + ord AS VARCHAR)",
            "Source": "'web'",
        }
    )
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in cols.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT {select} FROM l ORDER BY i) TO '{path}' (HEADER, DELIMITER ',')")
    con.close()


# Peak RSS of this process image: VmHWM (ru_maxrss would carry the parent's peak
# across fork/exec on Linux).
_HWM = (
    "def hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1]) / 1024\n"
    "    return float('nan')\n"
)

PEER = textwrap.dedent(
    """
    import sys, time, duckdb
    HWM
    con = duckdb.connect(sys.argv[2])
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET threads = {int(sys.argv[3])}")
    t, c = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{sys.argv[1]}')")
    n = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    con.close()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    print(dt, hwm(), n, 0, dc)
    """
)

OURS = textwrap.dedent(
    """
    import sys, time
    HWM
    from levelfield import open_workspace
    from levelfield.ingest import import_file
    ws = open_workspace(sys.argv[2])
    ws.con.execute(f"SET threads = {int(sys.argv[3])}")
    t, c = time.perf_counter(), time.process_time()
    s = import_file(ws, "orders", sys.argv[1])
    ws.close()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    print(dt, hwm(), s.rows_loaded,
          s.rows_rejected, dc)
    """
)


def run(script: str, csv: Path, db: Path) -> tuple[float, float, int, int, float]:
    """One run in a fresh process: wall s, peak RSS MB, rows, rejects, CPU s."""
    db.unlink(missing_ok=True)
    Path(str(db) + ".wal").unlink(missing_ok=True)
    code = script.replace("HWM\n", _HWM)
    out = subprocess.run(
        [sys.executable, "-c", code, str(csv), str(db), str(DUCKDB_THREADS)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **{k: str(v) for k, v in pin_threads().items()}},
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]), int(out[3]), float(out[4])


def best(script: str, csv: Path, db: Path, repeats: int) -> tuple[float, float, int, int, float]:
    """Min wall and min CPU time over ``repeats`` fresh runs (peak RSS: the largest)."""
    runs = [run(script, csv, db) for _ in range(repeats)]
    return (
        min(r[0] for r in runs),
        max(r[1] for r in runs),
        runs[-1][2],
        runs[-1][3],
        min(r[4] for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 lines")
    parser.add_argument("--rows", type=int, default=None, help="order lines (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (min is kept)")
    args = parser.parse_args()
    load_before = load_avg()
    n = args.rows or (50_000 if args.quick else 1_000_000)
    csv = DATA / f"shopify_orders_{n}.csv"
    if not csv.exists():
        generate(csv, n)
    with tempfile.TemporaryDirectory() as tmp:
        peer_s, peer_rss, peer_rows, _, peer_cpu = best(
            PEER, csv, Path(tmp) / "peer.duckdb", args.repeats
        )
        ours_s, ours_rss, loaded, rejected, ours_cpu = best(
            OURS, csv, Path(tmp) / "ours.duckdb", args.repeats
        )
    result = {
        "n": n,
        "repeats": args.repeats,
        "duckdb_threads": DUCKDB_THREADS,
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ratio": round(peer_s / ours_s, 3),
        "ours_cpu_s": round(ours_cpu, 3),
        "peer_cpu_s": round(peer_cpu, 3),
        "cpu_ratio": round(peer_cpu / ours_cpu, 3),
        "peak_rss_mb": round(ours_rss, 1),
        "peer_peak_rss_mb": round(peer_rss, 1),
        "peer": "duckdb read_csv into a table (CREATE TABLE AS)",
        "rows_loaded": loaded,
        "rows_rejected": rejected,
        "peer_rows": peer_rows,
        "file_mb": round(csv.stat().st_size / 2**20, 1),
        **machine(load_before),
        "quick": bool(args.quick),
    }
    result["table"] = [
        table_row(
            "import a Shopify export (detect, parse, validate, pseudonymise, aggregate)",
            f"{n:,} lines, {result['file_mb']} MB",
            f"bare DuckDB {duckdb.__version__} read_csv into a table (floor)",
            result["ratio"],
            result["cpu_ratio"],
            f"rows loaded {loaded:,} (+{rejected} rejected) vs {peer_rows:,}",
            (result["load_avg_1min_before"], result["load_avg_1min_after"]),
            f"DuckDB threads {DUCKDB_THREADS} on both sides; a floor: below 1 is expected",
        )
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.quick and args.rows is None:
        (RESULTS / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
