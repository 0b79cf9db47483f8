"""The findings folder's run layout without Spark: commit, latest pointer, old layout, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from levelfield.errors import DataError
from levelfield.fleet import current_run, read_findings
from levelfield.fleet._runs import (
    LATEST,
    MANIFEST,
    commit_run,
    point_latest,
    read_manifest,
    run_folder,
    staging_folder,
)


def _stage(root: Path, run_id: str, value: float) -> Path:
    """A run's findings as Spark writes them (partitioned by analysis) in a staging folder."""
    staged = staging_folder(root, run_id)
    part = staged / "analysis=customers"
    part.mkdir(parents=True)
    pd.DataFrame(
        {
            "business_id": ["b1"],
            "metric": ["customers.repeat_rate"],
            "value": [value],
            "unit": ["share"],
            "error": [None],
            "run_fingerprint": [run_id],
        }
    ).to_parquet(part / "part-0.parquet")
    (staged / "_SUCCESS").write_text("")
    return staged


def _commit(root: Path, run_id: str, value: float) -> Path:
    return commit_run(_stage(root, run_id, value), root, {"run_id": run_id, "n_businesses": 1})


def test_commit_makes_the_run_current_and_keeps_older_runs(tmp_path: Path) -> None:
    root = tmp_path / "fleet_findings"
    root.mkdir()
    first = _commit(root, "aaaa", 0.25)
    assert first == run_folder(root, "aaaa") == current_run(root)
    second = _commit(root, "bbbb", 0.5)
    assert current_run(root) == second
    assert json.loads((root / LATEST).read_text()) == {
        "run_id": "bbbb",
        "n_businesses": 1,
        "path": "run=bbbb",
    }
    now = read_findings(root)
    assert now["value"].tolist() == [0.5] and now["analysis"].tolist() == ["customers"]
    assert read_findings(root, run_id="aaaa")["value"].tolist() == [0.25]
    assert read_manifest(first) == {"run_id": "aaaa", "n_businesses": 1}
    assert sorted(p.name for p in root.iterdir()) == [LATEST, "run=aaaa", "run=bbbb"]


def test_commit_of_the_same_id_replaces_its_partition_whole(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    _commit(root, "aaaa", 0.25)
    (run_folder(root, "aaaa") / "analysis=exposure").mkdir()  # not in the new run
    _commit(root, "aaaa", 0.75)
    folder = run_folder(root, "aaaa")
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", MANIFEST, "analysis=customers"]
    assert read_findings(root)["value"].tolist() == [0.75]
    assert sorted(p.name for p in root.iterdir()) == [LATEST, "run=aaaa"]


def test_point_latest_goes_back_to_an_earlier_run(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    _commit(root, "aaaa", 0.25)
    _commit(root, "bbbb", 0.5)
    manifest = read_manifest(run_folder(root, "aaaa"))
    assert manifest is not None
    point_latest(root, manifest)
    assert current_run(root) == run_folder(root, "aaaa")
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def test_the_layout_before_runs_is_a_clear_error_and_the_next_run_removes_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "fleet_findings"
    (root / "analysis=customers").mkdir(parents=True)
    (root / "analysis=exposure").mkdir()
    with pytest.raises(DataError, match="earlier levelfield.*levelfield fleet run DIR"):
        current_run(root)
    _commit(root, "aaaa", 0.25)
    assert sorted(p.name for p in root.iterdir()) == [LATEST, "run=aaaa"]


def test_a_missing_run_or_pointer_says_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no fleet run.*latest.json"):
        read_findings(tmp_path)
    _commit(tmp_path, "aaaa", 0.25)
    with pytest.raises(DataError, match="no complete run 'zzzz' .*run=aaaa"):
        current_run(tmp_path, run_id="zzzz")
    # a folder without its manifest is an unfinished run, never read
    staged = _stage(tmp_path, "cccc", 0.1)
    staged.rename(run_folder(tmp_path, "cccc"))
    with pytest.raises(DataError, match="no complete run 'cccc'"):
        current_run(tmp_path, run_id="cccc")


def test_the_run_id_covers_every_input_table(tmp_path: Path) -> None:
    """Order lines and product costs feed the pricing and margin metrics: a change there is
    a new run, never a reuse of the old one."""
    from levelfield.fleet._spark import fingerprint

    for name in ("orders", "order_lines", "suppliers", "products"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part-0.parquet").write_bytes(b"x")
    for name in ("channels.parquet", "businesses.parquet"):
        (tmp_path / name).write_bytes(b"x")
    ids = {fingerprint(tmp_path)}
    for name in ("orders", "order_lines", "suppliers", "products"):
        (tmp_path / name / "part-0.parquet").write_bytes(b"xy" * len(ids))
        ids.add(fingerprint(tmp_path))
    (tmp_path / "businesses.parquet").write_bytes(b"xyz")
    ids.add(fingerprint(tmp_path))
    assert len(ids) == 6
    assert fingerprint(tmp_path, full=False) not in ids
    assert fingerprint(tmp_path) in ids  # unchanged input, the same id
