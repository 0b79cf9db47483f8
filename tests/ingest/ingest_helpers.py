"""Helpers for the ingest tests."""

from __future__ import annotations

from pathlib import Path

from levelfield import Workspace

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"


def counts(ws: Workspace) -> dict[str, int]:
    """Row counts of the data tables and the ledgers."""
    out = ws.counts()
    for t in ("imports", "rejects"):
        out[t] = int(ws.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
    return out


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
