"""The demo business: planted strategic groups and clichés are found (slow: builds it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from levelfield import open_workspace
from levelfield.landscape import analyze, figures

pytestmark = pytest.mark.slow


# ``demo_dir``: the shared demo business (seed 7, 10,000 customers), tests/conftest.py.


def test_demo_landscape_recovers_planted_groups_and_cliches(demo_dir: Path) -> None:
    truth = json.loads((demo_dir / "manifest.json").read_text())["landscape"]
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        result = analyze(ws)
        assert ws.latest_run("landscape") is not None
    planted = truth["planted_groups"]
    firms = result.firms[result.firms["name"].isin(planted)]
    assert len(firms) >= 20
    ari = adjusted_rand_score([planted[n] for n in firms["name"]], firms["group"])
    assert ari == 1.0
    assert result.groups_clear
    assert result.n_groups == len(truth["group_names"])
    b = result.business
    assert b is not None and b["name"] == truth["self"]
    # the stock phrase the business shares with rivals is reported as a cliché
    words = set(result.cliches["term"])
    assert {"passionate", "quality"} <= words
    lines = result.headline()
    assert any("Strategic homogeneity index" in line for line in lines)
    assert any(line.startswith("White space") for line in lines)
    assert "Market map" in figures(result)
