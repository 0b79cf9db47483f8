"""A small provenance log: two green-coffee origins roasted into one blend, one certificate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from levelfield import Workspace, open_workspace
from levelfield.provenance import (
    ProvenanceLog,
    build_export,
    certificate_entry,
    lot_entry,
    shipment_entry,
    transformation_entry,
)

T0 = dt.datetime(2025, 3, 1, 9, 0, 0)


def fill(log: ProvenanceLog, cert: Path) -> None:
    log.add(
        [
            lot_entry(
                "G1",
                "Green coffee, Huila",
                60,
                "kg",
                "2025-02-20",
                producer="Finca El Mirador",
                region="Huila",
                country="CO",
                supplier="Andes Imports",
            ),
            lot_entry(
                "G2",
                "Green coffee, Sidama",
                40,
                "kg",
                "2025-02-25",
                producer="Bensa cooperative",
                region="Sidama",
                country="ET",
                supplier="Rift Traders",
            ),
        ],
        at=T0,
    )
    log.add(
        [
            certificate_entry(
                "FT-77",
                "Fairtrade",
                cert,
                ["G1"],
                issuer="FLOCERT",
                valid_from="2025-01-01",
                valid_until="2026-12-31",
            )
        ],
        at=T0,
    )
    log.add(
        [
            transformation_entry(
                "roast",
                {"G1": 30, "G2": 20},
                "R1",
                "House blend",
                42,
                "kg",
                "2025-03-02",
                sku="HB-250",
            )
        ],
        at=T0,
    )
    log.add([shipment_entry("R1", "shop", 10, "2025-03-03")], at=T0)


@pytest.fixture
def pws(tmp_path: Path) -> Iterator[Workspace]:
    ws = open_workspace(tmp_path / "shop.duckdb")
    yield ws
    ws.close()


@pytest.fixture
def cert_file(tmp_path: Path) -> Path:
    path = tmp_path / "fairtrade-FT-77.pdf"
    path.write_bytes(b"%PDF-1.4 certificate FT-77 for Finca El Mirador\n")
    return path


@pytest.fixture
def plog(pws: Workspace, cert_file: Path) -> ProvenanceLog:
    log = ProvenanceLog(pws)
    fill(log, cert_file)
    return log


@pytest.fixture
def export(plog: ProvenanceLog) -> dict[str, Any]:
    return build_export(plog, "R1", url="https://ember.example/lots/R1.html")
