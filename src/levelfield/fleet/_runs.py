"""Fleet runs on disk: one partition per run, and a ``latest.json`` pointer to the current one.

Layout of a findings folder (``DIR/fleet_findings`` by default)::

    run=<run_id>/analysis=<analysis>/part-*.parquet   one run's findings
    run=<run_id>/_run.json                             that run's manifest
    latest.json                                        which run is current (its manifest)
    .run=<run_id>.tmp-<uuid>/                          a run being written (hidden)

The run id is the run's fingerprint (package version, source kind, settings, and the
names, sizes and modification times of the input files), so a rerun over the same input
and settings finds its partition already there. A run is written aside under a hidden
name, its manifest last, and then renamed into place: a ``run=`` folder with a
``_run.json`` is always complete. ``latest.json`` is replaced atomically after the move.
Older runs stay where they are and stay readable: ``read_findings(folder, run_id=...)``.

Readers go through :func:`current_run` (or :func:`read_findings`): reading the folder
itself as one Parquet dataset would mix the runs. Nothing here needs Spark.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from levelfield.errors import DataError

__all__ = ["LATEST", "MANIFEST", "current_run", "read_findings", "read_manifest"]

#: The pointer file naming the current run, inside the findings folder.
LATEST = "latest.json"
#: A run's own manifest, inside its ``run=<run_id>`` folder (Spark and pyarrow skip ``_`` files).
MANIFEST = "_run.json"
_RUN = "run="


def run_folder(root: Path, run_id: str) -> Path:
    """Where the run ``run_id`` of the findings folder ``root`` lives."""
    return root / f"{_RUN}{run_id}"


def staging_folder(root: Path, run_id: str) -> Path:
    """A fresh hidden folder beside the runs to write one run into before it is moved."""
    return root / f".{_RUN}{run_id}.tmp-{uuid.uuid4().hex}"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a complete run folder, or None when the folder holds no complete run."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def _old_layout(root: Path) -> list[Path]:
    """Partitions of the layout before runs (``analysis=...`` directly in the folder)."""
    return sorted(p for p in root.glob("analysis=*") if p.is_dir())


def commit_run(staged: Path, root: Path, manifest: dict[str, Any]) -> Path:
    """Move a fully written run into place and make it the current run.

    ``staged`` holds the run's Parquet files; its manifest is written into it, then it
    is renamed to ``run=<run_id>`` (replacing an earlier partition of the same id, which
    is removed only after the move), then ``latest.json`` points to it. The partitions of
    the layout before runs, which no reader can use any more, are removed last.
    """
    run_id = str(manifest["run_id"])
    target = run_folder(root, run_id)
    _write_json(staged / MANIFEST, manifest)
    old = root / f".{target.name}.old-{uuid.uuid4().hex}"
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    point_latest(root, manifest)
    for stale in _old_layout(root):
        shutil.rmtree(stale, ignore_errors=True)
    return target


def point_latest(root: Path, manifest: dict[str, Any]) -> None:
    """Make the run of ``manifest`` the current run of ``root`` (atomic replace)."""
    _write_json(root / LATEST, {**manifest, "path": run_folder(root, manifest["run_id"]).name})


def current_run(root: str | Path, run_id: str | None = None) -> Path:
    """The folder of the current run of a findings folder (or of the run ``run_id``).

    Raises
    ------
    DataError
        ``root`` holds no run, holds the layout of an earlier levelfield (partitioned by
        analysis only), names a run in ``latest.json`` that is gone, or has no run
        ``run_id``; the message says how to write one.
    """
    base = Path(root)
    rerun = "run 'levelfield fleet run DIR' to write the fleet's findings by run"
    if run_id is None:
        pointer = base / LATEST
        if not pointer.is_file():
            if _old_layout(base):
                raise DataError(
                    f"{base} holds findings in the layout of an earlier levelfield "
                    f"(partitioned by analysis, no {LATEST}); {rerun}"
                )
            raise DataError(f"{base} holds no fleet run ({LATEST} is missing); {rerun}")
        run_id = str(json.loads(pointer.read_text())["run_id"])
    folder = run_folder(base, run_id)
    if read_manifest(folder) is None:
        runs = sorted(p.name for p in base.glob(f"{_RUN}*") if read_manifest(p) is not None)
        raise DataError(
            f"{base} has no complete run {run_id!r} (runs there: {', '.join(runs) or 'none'}); "
            f"{rerun}"
        )
    return folder


def read_findings(root: str | Path, run_id: str | None = None) -> pd.DataFrame:
    """The findings of the current run of a findings folder (or of the run ``run_id``).

    One row per business and metric: business_id, analysis, metric, value, unit, error,
    run_fingerprint. Raises :class:`DataError` as :func:`current_run` does.
    """
    return pd.read_parquet(current_run(root, run_id))
