"""The demo's lots: two origins, a roast step, products, one certificate; on real demo sales."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from levelfield import open_workspace
from levelfield.provenance import (
    ProvenanceLog,
    build_export,
    documented_revenue_share,
    lineage,
    verify_export,
)


def test_demo_log_traces_products_to_two_origins_and_a_certificate(demo_dir: Path) -> None:
    manifest = json.loads((demo_dir / "manifest.json").read_text())["provenance"]
    cert = demo_dir / manifest["certificate"]["file"]
    assert hashlib.sha256(cert.read_bytes()).hexdigest() == manifest["certificate"]["sha256"]
    with open_workspace(demo_dir / "levelfield.duckdb", read_only=True) as ws:
        log = ProvenanceLog(ws)
        bodies = [e.body for e in log.entries()]
        assert log.audit() == []
        assert log.size == manifest["entries"]
    record = lineage(bodies, "R-HOUSE-2025-10")
    assert {o["country"] for o in record.origins.values()} == {"CO", "ET"}
    assert dict(record.certificates) == {"FT-40217": ("G-ET-2025-04",)}
    certificate = next(b for b in bodies if b["kind"] == "certificate")
    assert certificate["file"]["sha256"] == manifest["certificate"]["sha256"]


def test_demo_documented_share_matches_sales_of_the_logged_products(demo_dir: Path) -> None:
    with open_workspace(demo_dir / "levelfield.duckdb", read_only=True) as ws:
        share = documented_revenue_share(ws)
        lines = ws.con.execute(
            "SELECT order_id, sku, quantity, unit_price, discount FROM order_lines"
        ).df()
        orders = ws.con.execute("SELECT order_id, is_refund FROM order_revenue").df()
    # independent recomputation in pandas
    merged = lines.merge(orders[~orders["is_refund"]], on="order_id")
    merged = merged[merged["sku"].notna()]
    revenue = (
        (
            merged["quantity"].astype(float) * merged["unit_price"].astype(float)
            - merged["discount"].astype(float)
        )
        .groupby(merged["sku"])
        .sum()
    )
    documented = {"SO-COL-HUI", "SO-ETH-YIR", "BL-HOUSE"}
    expected = revenue[revenue.index.isin(documented)].sum() / revenue.sum()
    assert set(share.documented_skus) == documented
    assert share.share is not None and abs(share.share - expected) < 1e-9
    assert 0 < share.share < 1
    assert share.top_undocumented[0][0] not in documented
    finding = share.to_finding()
    assert finding.metric == "provenance.documented_revenue_share" and finding.unit == "share"
    assert isinstance(share.to_frame(), pd.DataFrame)


def test_demo_export_verifies_offline(demo_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "demo.duckdb"
    copy.write_bytes((demo_dir / "levelfield.duckdb").read_bytes())
    with open_workspace(copy) as ws:
        # the copy has a new path but the same workspace id, so the same signing key
        export = build_export(ProvenanceLog(ws), "R-HOUSE-2025-10", url="https://e.example/x.html")
    assert verify_export(export).ok
