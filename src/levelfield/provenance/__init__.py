"""Provenance: a tamper-evident, signed supply-chain record customers verify offline.

Lots (origin, supplier), certificates (their file's SHA-256), transformations (roast,
bake, assemble) and shipments go into an append-only log in the workspace. Each entry
is canonicalised (RFC 8785), hashed into an RFC 6962 Merkle tree, and tree heads are
signed with the business's Ed25519 key, as Certificate Transparency logs do. A lot's
record exports as one HTML file that verifies itself in the browser, offline.

Public API::

    log = ProvenanceLog(ws)          # private keys: <key dir>/<workspace id>.provenance/
    log.add([lot_entry(...), transformation_entry(...)])
    lineage([e.body for e in log.entries()], "R-2025-01")
    export = build_export(log, "R-2025-01", url="https://...")
    verify_export(export, expected_key=fingerprint).ok
    write_export_html(export, "lot.html")
    documented_revenue_share(ws)                 # for exposure and advice
"""

from levelfield.provenance._analysis import (
    ORIGIN_WORDS,
    DocumentedShare,
    documented_revenue_share,
    origin_claim,
)
from levelfield.provenance._bundle import (
    EXPORT_FORMAT,
    Failure,
    Verification,
    build_export,
    read_export_file,
    verify_export,
)
from levelfield.provenance._entries import (
    ENTRY_KINDS,
    LotBook,
    certificate_entry,
    lot_entry,
    shipment_entry,
    transformation_entry,
)
from levelfield.provenance._html import render_export_html, write_export_html
from levelfield.provenance._jcs import canonicalize, es_number, parse_canonical
from levelfield.provenance._keys import (
    fingerprint,
    format_fingerprint,
    signing_key_dir,
    verify_signature,
)
from levelfield.provenance._lineage import Lineage, lineage, lot_rows
from levelfield.provenance._log import Entry, ProvenanceLog, SignedHead, head_message
from levelfield.provenance._merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
    verify_inclusion_batch,
)

__all__ = [
    "EMPTY_ROOT",
    "ENTRY_KINDS",
    "EXPORT_FORMAT",
    "ORIGIN_WORDS",
    "DocumentedShare",
    "Entry",
    "Failure",
    "Lineage",
    "LotBook",
    "MerkleTree",
    "ProvenanceLog",
    "SignedHead",
    "Verification",
    "build_export",
    "canonicalize",
    "certificate_entry",
    "documented_revenue_share",
    "es_number",
    "fingerprint",
    "format_fingerprint",
    "head_message",
    "leaf_hash",
    "leaf_hashes",
    "lineage",
    "lot_entry",
    "lot_rows",
    "node_hash",
    "origin_claim",
    "parse_canonical",
    "read_export_file",
    "render_export_html",
    "root_from_inclusion_proof",
    "shipment_entry",
    "signing_key_dir",
    "transformation_entry",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "verify_inclusion_batch",
    "verify_signature",
    "write_export_html",
]
