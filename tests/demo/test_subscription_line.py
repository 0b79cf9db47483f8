"""The demo's coffee subscription line: its planted sBG truth is recovered."""

from __future__ import annotations

import json
from pathlib import Path

from levelfield import open_workspace
from levelfield.customers import subscriptions as subs_analysis


def test_demo_coffee_club_sbg_truth_recovered(demo_dir: Path) -> None:
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    truth = manifest["subscriptions"]
    assert (truth["alpha"], truth["beta"]) == (1.2, 4.0)
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        r = subs_analysis.analyze(ws)
    assert r.n_subscriptions == truth["subscriptions"]
    for k in ("alpha", "beta"):
        assert abs(r.params[k] - truth[k]) < 3 * r.standard_errors[k], (k, r.params)
    # Within 3 standard errors (the 90 % interval is +-1.645 of them, on the logit scale).
    lo, hi = r.one_year_interval
    se = (hi - lo) / (2 * 1.645)
    assert abs(r.one_year_retention - truth["one_year_retention"]) < 3 * se, r.one_year_interval
    assert hi - lo < 0.08
    entry = next(f for f in manifest["files"] if f["kind"] == "subscriptions")
    assert entry["profile"] == "subscriptions" and entry["rows"] == truth["subscriptions"]
