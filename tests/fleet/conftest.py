"""One Spark session (local[2]) shared by the fleet tests, and a small demo fleet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from levelfield.fleet import demo_fleet, spark_session


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    session = spark_session("local[2]", app_name="levelfield-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 demo businesses in 3 Parquet files."""
    directory = tmp_path_factory.mktemp("fleet")
    demo_fleet(30, directory, seed=7, chunk=10)
    return directory
