from __future__ import annotations

from pathlib import Path

import pytest

from levelfield.errors import SchemaError, UnknownLayoutError
from levelfield.ingest import GENERIC_FIELDS, import_file, read_header
from levelfield.workspace import Workspace


def test_unmatched_header_is_an_unknown_layout_that_lists_the_columns(
    ws: Workspace, tmp_path: Path
) -> None:
    f = tmp_path / "invoices.csv"
    f.write_text("Invoice No,When,Client,Thing,Qty,Each\nA1,2024-01-05,Cafe Uno,Beans,3,12.5\n")
    assert read_header(f) == ("Invoice No", "When", "Client", "Thing", "Qty", "Each")
    with pytest.raises(UnknownLayoutError, match="Columns found: Invoice No, When") as err:
        import_file(ws, "orders", f)
    assert isinstance(err.value, SchemaError)
    assert ws.counts()["orders"] == 0
    summary = import_file(
        ws,
        "orders",
        f,
        mapping={
            "Invoice No": "order_id",
            "When": "ordered_at",
            "Qty": "quantity",
            "Each": "unit_price",
        },
        channel="wholesale",
    )
    assert summary.rows_loaded == 1
    assert "order_id" in GENERIC_FIELDS
