"""Fixtures for report tests: fake analyses registered in place of the real packages."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fakes


@pytest.fixture
def fake_analyses(monkeypatch: pytest.MonkeyPatch) -> None:
    """customers works, landscape has no analyze yet, exposure has a bug; fake advice."""
    monkeypatch.setitem(sys.modules, "levelfield.customers", fakes.make_analysis("customers"))
    monkeypatch.setitem(sys.modules, "levelfield.landscape", ModuleType("levelfield.landscape"))
    monkeypatch.setitem(
        sys.modules,
        "levelfield.exposure",
        fakes.make_analysis("exposure", fail=RuntimeError("boom")),
    )
    monkeypatch.setitem(sys.modules, "levelfield.pricing", ModuleType("levelfield.pricing"))
    monkeypatch.setitem(sys.modules, "levelfield.scenarios", ModuleType("levelfield.scenarios"))
    monkeypatch.setitem(sys.modules, "levelfield.advice", fakes.make_advice())
