"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from levelfield import Workspace, open_workspace

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ONLINE_RETAIL = SHARED / "data" / "online-retail" / "online_retail.parquet"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A new, empty workspace in a temporary folder."""
    w = open_workspace(tmp_path / "ws.duckdb")
    yield w
    w.close()
