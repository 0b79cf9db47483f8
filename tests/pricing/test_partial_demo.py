"""The demo's exports imported selectively: valid data without some channels' files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import levelfield.pricing as pricing
from levelfield import open_workspace
from levelfield.ingest import import_file
from levelfield.pipeline import run_analysis
from levelfield.workspace import to_json

# everything but the Etsy and Amazon exports (and the wholesale invoices, which need a map)
FILES = (
    ("business", "business.csv"),
    ("channels", "channels.csv"),
    ("products", "products.csv"),
    ("orders", "orders_export_1.csv"),
    ("competitors", "competitors.csv"),
    ("costs", "costs.csv"),
    ("pilots", "pilots.csv"),
)


@pytest.mark.slow
def test_demo_without_etsy_and_amazon_runs_and_says_what_it_cannot_estimate(
    demo_dir: Path, tmp_path: Path
) -> None:
    # issue 16 item 12: this raised "ValueError: Out of range float values are not
    # JSON compliant" while recording the pilots' findings
    with open_workspace(tmp_path / "partial.duckdb") as ws:
        for kind, name in FILES:
            import_file(ws, kind, demo_dir / "exports" / name)
        res = run_analysis(ws, "pricing")
        assert isinstance(res, pricing.PricingResult)
        assert res.pilots == ()  # every demo pilot tests the Etsy channel
        assert len(res.pilots_not_analysed) == 4
        assert all("the test arm (etsy) has no sales" in n for n in res.pilots_not_analysed)
        run = ws.latest_run("pricing")
        assert run is not None and len(run["summary"]["pilots_not_analysed"]) == 4
        stored = ws.con.execute(
            "SELECT count(*) FROM findings WHERE analysis = 'pricing'"
        ).fetchall()[0][0]
        assert stored == len(res.findings()) > 0
        json.loads(to_json(res.summary()))
