"""Ingest: read exports, detect platform profiles, validate, pseudonymize, load atomically.

``import_file(ws, kind, path, ...)`` reads a CSV/TSV/whitespace text file (UTF-8, BOM,
UTF-16 or Windows-1252), an XLSX workbook or a Parquet file, recognises the platform
from the header (Shopify, Square, Stripe, WooCommerce, Etsy, Amazon, UCI Online Retail,
CDNOW, or a generic layout with ``--map``), parses and validates every row in DuckDB,
pseudonymizes customer identifiers and writes the rows in one transaction. Bad rows go
to ``rejects``; too many of them fail the import and leave the workspace unchanged.
"""

from __future__ import annotations

from levelfield.ingest._contacts import ContactRows, read_contacts
from levelfield.ingest._import import KINDS, PROFILES, ImportSummary, import_file, template_csv
from levelfield.ingest._profiles import GENERIC_FIELDS
from levelfield.ingest._profiles import norm as normalize_column_name
from levelfield.ingest._read import read_header

__all__ = [
    "GENERIC_FIELDS",
    "KINDS",
    "PROFILES",
    "ContactRows",
    "ImportSummary",
    "import_file",
    "normalize_column_name",
    "read_contacts",
    "read_header",
    "template_csv",
]
