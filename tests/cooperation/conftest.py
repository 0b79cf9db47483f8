"""The demo group (12 businesses through ingest), built once per test worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from levelfield.cooperation import GroupDemo, build_demo_group


@pytest.fixture(scope="session")
def group(tmp_path_factory: pytest.TempPathFactory) -> GroupDemo:
    """Tests may add runs to the members' workspaces but must not change their data."""
    return build_demo_group(tmp_path_factory.mktemp("coop") / "group", n=12, seed=0)


@pytest.fixture(scope="session")
def group_dir(group: GroupDemo) -> Path:
    return group.directory
