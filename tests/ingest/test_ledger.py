"""Idempotent re-import, overlapping exports, privacy of the stored data."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
from ingest_helpers import DATA, counts

from levelfield import Workspace, open_workspace
from levelfield.ingest import import_file, template_csv


def test_reimport_same_file_is_a_noop(ws: Workspace) -> None:
    first = import_file(ws, "orders", DATA / "shopify_orders_2023.csv")
    before = counts(ws)
    again = import_file(ws, "orders", DATA / "shopify_orders_2023.csv")
    assert again.skipped_duplicate
    assert again.import_id == first.import_id
    assert "Already imported" in "\n".join(again.lines())
    assert counts(ws) == before


def _split_shopify(tmp_path: Path) -> tuple[Path, Path]:
    with (DATA / "shopify_orders_2023.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    a = tmp_path / "jan.csv"
    b = tmp_path / "feb.csv"
    with a.open("w", newline="") as f:
        csv.writer(f).writerows([header, *body[:3]])  # #1001 (2 rows), #1002
    changed = [list(r) for r in body[2:]]  # #1002 .. #1004, #1002 now fully refunded
    changed[0][header.index("Refunded Amount")] = "28.00"
    changed[0][header.index("Financial Status")] = "refunded"
    with b.open("w", newline="") as f:
        csv.writer(f).writerows([header, *changed])
    return a, b


def test_overlapping_exports_upsert(ws: Workspace, tmp_path: Path) -> None:
    a, b = _split_shopify(tmp_path)
    import_file(ws, "orders", a)
    import_file(ws, "orders", b)
    c = counts(ws)
    assert (c["orders"], c["order_lines"], c["imports"]) == (4, 5, 2)
    got = ws.con.execute(
        "SELECT status, refunded FROM orders JOIN order_details USING (order_id) WHERE order_ref = '#1002'"
    ).fetchall()
    assert got == [("refunded", Decimal("28.0000"))]


def test_no_clear_email_name_or_phone_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "ws.duckdb"
    secrets = [
        "ann.smith@example.com",
        "Ann Smith",
        "+49 170 1234567",
        "bob@example.com",
        "Bob Jones",
        "dan@example.com",
        "eve@example.com",
        "hana@example.com",
        "Hana",
        "+44 7700 900123",
        "Carla Diaz",
        "Frieda Klein",
        "jillpark",
        "Jill Park",
    ]
    with open_workspace(path) as ws:
        for f in (
            "shopify_orders_2023.csv",
            "stripe_unified_payments.csv",
            "woocommerce_order_export.csv",
            "square_item_sales.csv",
            "woocommerce_analytics_orders.csv",
            "EtsySoldOrderItems2023.csv",
        ):
            import_file(ws, "orders", DATA / f)
        surveys = tmp_path / "surveys.csv"
        surveys.write_text(
            "response_id,email,score\nR1,ann.smith@example.com,9\nR2,bob@example.com,x\n"
        )
        import_file(ws, "surveys", surveys, max_reject_rate=0.5)  # R2 rejected: masked
        pilots = tmp_path / "pilots.csv"
        pilots.write_text(template_csv("pilots").replace("ann@example.com", "hana@example.com"))
        import_file(ws, "pilots", pilots)
        assert counts(ws)["rejects"] == 1
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON')"
        ).fetchall()
        assert len(cols) > 30
        for table, column in cols:
            text = " ".join(
                str(v[0]) for v in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall()
            ).lower()
            for s in secrets:
                assert s.lower() not in text, (table, column, s)
    finally:
        con.close()
    raw = path.read_bytes().lower()
    for s in secrets:
        assert s.lower().encode() not in raw
