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
def test_demo_marketplace_dependence_matches_manifest(demo_dir: Path) -> None:
    # ``demo_dir``: the shared demo business (seed 7, 10,000 customers), tests/conftest.py.
    manifest = json.loads((demo_dir / "manifest.json").read_text(encoding="utf-8"))
    # the demo's exports may lack fees on some channels: that warning is expected
    with open_workspace(demo_dir / "levelfield.duckdb") as ws, warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        result = ex.analyze(ws)
    truth = manifest["channels"]
    channels = result.channels.set_index("channel")
    for name, info in truth.items():
        if isinstance(info, dict) and "share" in info:
            assert channels.loc[name, "share"] == pytest.approx(info["share"], abs=0.01)
    assert result.metrics["platform_owned_share"] == pytest.approx(
        manifest["marketplace_share"], abs=0.01
    )
    f = {x.metric: x for x in result.findings()}
    assert f["exposure.platform_share_max"].context["channel"] in {"etsy", "amazon"}
    assert result.headline()[0].startswith("Asymmetry scorecard")


def test_unknown_numbers_read_as_not_available() -> None:
    from levelfield.exposure._result import _num, _pct

    assert _pct(None) == "n/a"
    assert _pct(float("nan")) == "n/a"
    assert _pct(0.123) == "12.3%"
    assert _num(None) == "n/a"
