"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from levelfield import Workspace, open_workspace

# CI runs on a shared 2-core machine: a property's examples are judged on what they
# assert, not on how long one took while other test workers held the cores.
settings.register_profile("levelfield", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("levelfield")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ONLINE_RETAIL = SHARED / "data" / "online-retail" / "online_retail.parquet"


@pytest.fixture(scope="session", autouse=True)
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pseudonym keys of the test workspaces go to a temporary folder, not ~/.config.

    Set in the environment (not per test) so that session fixtures, subprocesses and
    servers started by tests find the same keys.
    """
    directory = tmp_path_factory.mktemp("levelfield-keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEVELFIELD_KEY_DIR", str(directory))
        yield directory


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A new, empty workspace in a temporary folder."""
    w = open_workspace(tmp_path / "ws.duckdb")
    yield w
    w.close()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo business (seed 7, 10,000 customers), built once per test worker.

    Tests may run analyses on it (they add runs), but must not change its data.
    """
    from levelfield.demo import build_demo

    directory = tmp_path_factory.mktemp("shared-demo") / "demo"
    build_demo(directory, seed=7)
    return directory
