"""Generators of hostile files (issue 16): written by the tests, never stored."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
    "schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
    '" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
    'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships"><sheets><sheet name="{name}" sheetId="1" '
    'r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
    "schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
    '" Target="worksheets/sheet1.xml"/></Relationships>'
)


def sheet_xml(cells: Iterable[tuple[str, str]], dimension: str | None = None) -> str:
    """Worksheet XML with inline-string cells at the given references."""
    rows: dict[int, list[tuple[str, str]]] = {}
    for ref, value in cells:
        m = re.fullmatch(r"[A-Z]+(\d+)", ref)
        assert m is not None
        rows.setdefault(int(m.group(1)), []).append((ref, value))
    body = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{ref}" t="inlineStr"><is><t>{escape(v)}</t></is></c>' for ref, v in cs)
        + "</row>"
        for r, cs in sorted(rows.items())
    )
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://'
        f'schemas.openxmlformats.org/spreadsheetml/2006/main">{dim}<sheetData>{body}'
        "</sheetData></worksheet>"
    )


def write_xlsx(
    path: Path,
    sheet: str,
    *,
    sheet_name: str = "Orders",
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A minimal valid XLSX package around one worksheet's XML."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK.format(name=sheet_name))
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def sparse_xlsx(path: Path) -> Path:
    """The issue's 1.6 KB workbook: cells A1 and XFD1048576, a 17-billion-cell grid."""
    return write_xlsx(path, sheet_xml([("A1", "order_id"), ("XFD1048576", "x")]))


def tall_xlsx(path: Path, rows: int) -> Path:
    """A plain orders sheet with ``rows`` data rows."""
    cells = [("A1", "order_id"), ("B1", "ordered_at"), ("C1", "total")]
    for i in range(2, rows + 2):
        cells += [(f"A{i}", f"o{i}"), (f"B{i}", "2024-01-02"), (f"C{i}", "9.50")]
    return write_xlsx(path, sheet_xml(cells))
