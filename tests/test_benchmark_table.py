"""The README's benchmark table is generated from benchmarks/results/*.json (issue 18)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "_table.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_table_is_the_generated_one() -> None:
    """Fails when a result changed (or a row was typed) without running _table.py."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, check=False)
    assert done.returncode == 0, "run `python benchmarks/_table.py` and commit README.md"


def test_every_row_names_peer_size_ratios_and_load() -> None:
    for row in _module().rows():
        assert row["what"] and row["size"] and row["peer"]
        assert row["wall_ratio"] is None or row["wall_ratio"] > 0
        assert row["load"]


def test_an_old_result_says_what_it_did_not_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = _module()
    (tmp_path / "old.json").write_text(json.dumps({"n": 10, "ratio": 2.5, "peer": "p"}))
    (tmp_path / "new.json").write_text(
        json.dumps(
            {
                "table": [
                    {
                        "what": "w",
                        "size": "s",
                        "peer": "p 1.0",
                        "wall_ratio": 3.0,
                        "cpu_ratio": 2.0,
                        "agreement": "a",
                        "load_avg_1min": [9.0, 11.5],
                        "note": "",
                    }
                ]
            }
        )
    )
    monkeypatch.setattr(mod, "RESULTS", tmp_path)
    old, new = sorted(mod.rows(), key=lambda r: r["what"])
    assert old["cpu_ratio"] is None and old["load"] == "not recorded"
    assert "runs per side not recorded" in old["note"]
    assert new["load"] == "9.0–11.5" and new["cpu_ratio"] == 2.0
    text = mod.markdown([old, new], full=True)
    assert "| – |" in text and "2.00x" in text and "3.00x" in text
