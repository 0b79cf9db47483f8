"""Large files and a killed import (slow)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import counts

from levelfield import open_workspace
from levelfield.ingest import import_file

ONLINE_RETAIL = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "online-retail"
    / "online_retail.parquet"
)


def make_orders_csv(path: Path, n: int) -> Path:
    """``n`` order lines (3 per order) in the generic layout, written by DuckDB."""
    duckdb.execute(
        f"COPY (SELECT 'O' || (i // 3) AS order_id, "
        "strftime(TIMESTAMP '2023-01-01' + to_minutes(i // 3), '%Y-%m-%d %H:%M:%S') AS ordered_at, "
        "'cust' || (i // 3 % 5000) AS customer_id, 'SKU' || (i % 40) AS sku, "
        "1 + i % 3 AS quantity, printf('%.2f', 2.5 + (i % 7)) AS unit_price "
        f"FROM range({n}) t(i)) TO '{path}' (HEADER, DELIMITER ',')"
    ).fetchall()
    return path


@pytest.mark.slow
def test_one_million_rows(tmp_path: Path) -> None:
    f = make_orders_csv(tmp_path / "orders.csv", 1_000_000)
    with open_workspace(tmp_path / "w.duckdb") as ws:
        s = import_file(ws, "orders", f)
        assert (s.rows_in, s.rows_loaded, s.rows_rejected) == (1_000_000, 1_000_000, 0)
        c = counts(ws)
        assert (c["orders"], c["order_lines"]) == (333_334, 1_000_000)
        expected = ws.con.execute(
            f"SELECT CAST(sum(quantity * CAST(unit_price AS DECIMAL(18,4))) AS DECIMAL(18,4)) "
            f"FROM read_csv('{f}', all_varchar=false)"
        ).fetchall()[0][0]
        assert s.revenue["USD"] == expected


@pytest.mark.slow
def test_online_retail_real_data(tmp_path: Path) -> None:
    if not ONLINE_RETAIL.exists():
        pytest.skip("shared UCI Online Retail data not present")
    with open_workspace(tmp_path / "uci.duckdb") as ws:
        s = import_file(ws, "orders", ONLINE_RETAIL)
        assert s.profile == "uci_online_retail"
        assert s.rows_in == 541_909
        # Only the two "Adjust bad debt" lines (negative price on a sale) are rejected.
        assert s.rows_rejected == 2
        # 32 "Dotcomgiftshop Gift Voucher" lines (768.14 net of their 1.00 of
        # cancellations... see below) are gift-card sales, not merchandise: they sit in
        # non_merchandise_lines and the order's non_merchandise, not in revenue.
        assert s.revenue == {"GBP": Decimal("9769102.9140")}
        other = ws.con.execute(
            "SELECT count(*), sum(amount) FROM non_merchandise_lines WHERE line_type = 'gift_card'"
        ).fetchall()[0]
        assert (other[0], round(float(other[1]), 2)) == (32, 769.14)
        n_cust = ws.con.execute(
            "SELECT count(DISTINCT customer_id) FROM orders WHERE customer_id IS NOT NULL"
        ).fetchall()[0][0]
        assert n_cust == 4_372
        n_cancel = ws.con.execute(
            "SELECT count(*) FROM order_lines l JOIN orders o USING (order_id) "
            "JOIN order_details d USING (order_id) "
            "WHERE o.status = 'refund' AND d.order_ref LIKE 'C%'"
        ).fetchall()[0][0]
        assert n_cancel == 9_288


CHILD = textwrap.dedent(
    """
    import sys
    from levelfield import open_workspace
    from levelfield.ingest import import_file

    def progress(step, fraction):
        print(step, flush=True)

    with open_workspace(sys.argv[1]) as ws:
        import_file(ws, "orders", sys.argv[2], progress=progress)
    print("finished", flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_midway_leaves_workspace_unchanged(tmp_path: Path) -> None:
    ws_path = tmp_path / "w.duckdb"
    big = make_orders_csv(tmp_path / "big.csv", 600_000)
    with open_workspace(ws_path) as ws:
        import_file(
            ws, "orders", Path(__file__).parents[1] / "data" / "ingest" / "shopify_orders_2023.csv"
        )
        before = counts(ws)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ws_path), str(big)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("writing to the workspace"):
            os.kill(proc.pid, signal.SIGKILL)  # inside the transaction
            break
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with open_workspace(ws_path) as ws:
        assert counts(ws) == before
        s = import_file(ws, "orders", big)
        assert s.rows_loaded == 600_000
        assert counts(ws)["order_lines"] == before["order_lines"] + 600_000
