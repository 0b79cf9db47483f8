"""Fixtures for report tests: fake analyses served by the pipeline in place of the real ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fakes


@pytest.fixture
def fake_analyses(monkeypatch: pytest.MonkeyPatch) -> None:
    """customers and exposure work, the others lack their data; a fake five-action plan."""
    fakes.install(
        monkeypatch,
        {
            "customers": fakes.make_analysis("customers"),
            "exposure": fakes.make_analysis("exposure"),
        },
        fakes.fake_plan(),
    )
