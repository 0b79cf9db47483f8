"""Exposure on the demo business, checked against its manifest (planted marketplace share)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import levelfield.exposure as ex
from levelfield import open_workspace
from levelfield.errors import DataQualityWarning


@pytest.mark.slow
def test_demo_marketplace_dependence_matches_manifest(tmp_path: Path) -> None:
    demo = pytest.importorskip("levelfield.demo")
    demo.build_demo(tmp_path / "demo", n_customers=300)
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text(encoding="utf-8"))
    # the demo's exports may lack fees on some channels: that warning is expected
    with open_workspace(tmp_path / "demo" / "levelfield.duckdb") as ws, warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        result = ex.analyze(ws)
    truth = manifest["channels"]
    channels = result.channels.set_index("channel")
    for name, info in truth.items():
        if isinstance(info, dict) and "share" in info:
            assert channels.loc[name, "share"] == pytest.approx(info["share"], abs=0.01)
    assert result.metrics["platform_owned_share"] == pytest.approx(
        truth["marketplace_share"], abs=0.01
    )
    f = {x.metric: x for x in result.findings()}
    assert f["exposure.platform_share_max"].context["channel"] in {"etsy", "amazon"}
    assert result.headline()[0].startswith("Asymmetry scorecard")
