"""The demo's provenance log: two green-coffee origins, a roast step, products, a certificate.

Ember & Oak buys one lot from Colombia (Huila) and one from Ethiopia (Yirgacheffe,
a Fairtrade-certified cooperative), roasts each into its single-origin product and
blends both into the house blend, then ships roasted lots to the shop and to cafés.
The Ethiopian lot's Fairtrade certificate is written to ``DIR/certificates/`` and only
its SHA-256 goes into the log, as it would for a real owner.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from levelfield.provenance import (
    ProvenanceLog,
    certificate_entry,
    lot_entry,
    shipment_entry,
    transformation_entry,
)
from levelfield.workspace import Workspace

__all__ = ["CERTIFICATES_DIR", "DEMO_PUBLICATION_URL", "add_demo_provenance"]

CERTIFICATES_DIR = "certificates"
DEMO_PUBLICATION_URL = "https://ember-and-oak.example/lots/{lot}.html"
_AT = dt.datetime(2025, 11, 3, 15, 0, 0)
_CERTIFICATE_TEXT = """FAIRTRADE CERTIFICATE (demo document, not a real certificate)
Certificate holder: Konga Cooperative, Yirgacheffe, Gedeo Zone, Ethiopia
FLO ID: 40217 (demo)   Scope: green coffee, washed Arabica
Issued by: FLOCERT GmbH (demo)   Valid: 2025-01-01 to 2027-12-31
"""


def _demo_entries(certificate: Path) -> list[Any]:
    """The demo's provenance entries: two green lots, their Fairtrade certificate (the
    file ``certificate``), three roasts and two shipments."""
    return [
        lot_entry(
            "G-CO-2025-07",
            "Green coffee, Huila Pink Bourbon, washed",
            69,
            "kg",
            "2025-09-15",
            producer="Finca El Mirador",
            region="Huila",
            country="CO",
            supplier="SUP-CO",
        ),
        lot_entry(
            "G-ET-2025-04",
            "Green coffee, Yirgacheffe, washed",
            60,
            "kg",
            "2025-09-22",
            producer="Konga Cooperative",
            region="Yirgacheffe, Gedeo",
            country="ET",
            supplier="SUP-ET",
        ),
        certificate_entry(
            "FT-40217",
            "Fairtrade",
            certificate,
            ["G-ET-2025-04"],
            issuer="FLOCERT",
            holder="Konga Cooperative",
            valid_from="2025-01-01",
            valid_until="2027-12-31",
        ),
        transformation_entry(
            "roast",
            {"G-CO-2025-07": 30},
            "R-HUI-2025-10",
            "Colombia Huila Pink Bourbon, roasted",
            25.5,
            "kg",
            "2025-10-06",
            sku="SO-COL-HUI",
        ),
        transformation_entry(
            "roast",
            {"G-ET-2025-04": 30},
            "R-YIR-2025-10",
            "Ethiopia Yirgacheffe Washed, roasted",
            25.2,
            "kg",
            "2025-10-07",
            sku="SO-ETH-YIR",
        ),
        transformation_entry(
            "roast",
            {"G-CO-2025-07": 20, "G-ET-2025-04": 15},
            "R-HOUSE-2025-10",
            "Ember House Blend, roasted",
            29.6,
            "kg",
            "2025-10-08",
            sku="BL-HOUSE",
        ),
        shipment_entry("R-HUI-2025-10", "shopify", 12, "2025-10-09"),
        shipment_entry("R-HOUSE-2025-10", "wholesale", 18, "2025-10-10"),
    ]


def add_demo_provenance(ws: Workspace, directory: Path) -> dict[str, Any]:
    """Log the demo's lots in ``ws``; return what was logged, for the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate = directory / "fairtrade-konga-40217.txt"
    certificate.write_text(_CERTIFICATE_TEXT, encoding="utf-8")
    log = ProvenanceLog(ws)
    log.add(_demo_entries(certificate), at=_AT)
    return {
        "lots": [
            "G-CO-2025-07",
            "G-ET-2025-04",
            "R-HUI-2025-10",
            "R-YIR-2025-10",
            "R-HOUSE-2025-10",
        ],
        "origins": {"G-CO-2025-07": "CO", "G-ET-2025-04": "ET"},
        "products": {
            "R-HUI-2025-10": "SO-COL-HUI",
            "R-YIR-2025-10": "SO-ETH-YIR",
            "R-HOUSE-2025-10": "BL-HOUSE",
        },
        "certificate": {
            "id": "FT-40217",
            "file": f"{CERTIFICATES_DIR}/{certificate.name}",
            "sha256": hashlib.sha256(certificate.read_bytes()).hexdigest(),
            "lots": ["G-ET-2025-04"],
        },
        "entries": log.size,
        "publication_url": DEMO_PUBLICATION_URL,
    }
