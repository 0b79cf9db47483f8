"""Checks on an uploaded file before ingest reads it, and scrubbing of what the app keeps.

An upload is refused before parsing when its header has more columns than the server
accepts (a 116,000-column CSV must not become a 135 MB page). A file whose first row
looks like data (e-mail addresses, phone numbers, dates, amounts) has no header: its
first row is never shown as "columns" nor stored. Messages kept in the app database
have e-mail addresses and phone numbers masked.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from levelfield.errors import DataError
from levelfield.ingest._xlsx_guard import check_workbook

__all__ = [
    "HeaderlessError",
    "TooManyColumnsError",
    "count_columns",
    "looks_like_data",
    "redact",
]

#: A header line longer than this is refused without being parsed.
_MAX_HEADER_BYTES = 4 << 20
_EMAIL = re.compile(r"[^\s@,;:<>()\"']{1,64}@[^\s@,;:<>()\"']{1,255}\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d ()./-]{6,}\d(?![\w.])")
_NUMBER = re.compile(r"[-+]?[$€£¥]?\s?\d[\d,. ']*(?:[$€£¥%])?")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?.*)?")


class TooManyColumnsError(DataError):
    """The file has more columns than the server reads."""


class HeaderlessError(DataError):
    """The file's first row holds data, not column names."""


def _first_line(path: Path) -> bytes:
    with path.open("rb") as fh:
        head = fh.read(_MAX_HEADER_BYTES + 1)
    end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=-1)
    if end < 0 and len(head) > _MAX_HEADER_BYTES:
        return head  # no line end within the limit: caller refuses it as too wide
    return head if end < 0 else head[:end]


def _text_columns(path: Path) -> int:
    line = _first_line(path)
    if len(line) > _MAX_HEADER_BYTES:
        return 10**9
    text = line.decode("utf-8", errors="replace").lstrip("\ufeff")
    return max(_fields(text, d) for d in ",;\t|")


def _fields(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=delimiter), []))
    except csv.Error:  # one field longer than csv's limit: this is not the delimiter
        return 1


def count_columns(path: Path, detected_type: str) -> int | None:
    """How many columns the first table of ``path`` has, read cheaply; ``None``: unknown.

    Text files: fields of the first line under the likeliest delimiter (no line end
    within 4 MB counts as too many). Parquet: fields of the schema (footer only).
    XLSX: the first sheet's extent from ingest's streamed workbook guard, which also
    refuses zip bombs and sheets beyond its cell and row limits
    (``LimitExceededError``) before anything reads a cell.
    """
    if detected_type in ("csv", "tsv", "txt"):
        return _text_columns(path)
    if detected_type == "xlsx":
        sheets = check_workbook(path).sheets
        return sheets[0].columns if sheets else 0
    if detected_type == "parquet":
        import pyarrow.parquet as pq

        try:
            return len(pq.read_schema(path))
        except (OSError, ValueError) as exc:
            raise DataError(f"the Parquet file cannot be read: {exc}") from None
    return None


def check_columns(path: Path, detected_type: str, source_name: str, limit: int) -> None:
    """Raise :class:`TooManyColumnsError` when the file is wider than ``limit`` columns."""
    n = count_columns(path, detected_type)
    if n is not None and n > limit:
        shown = "more than a million" if n >= 10**9 else f"{n:,}"
        raise TooManyColumnsError(
            f"{source_name} has {shown} columns; levelfield reads at most {limit:,}. "
            "Export only the columns you need (orders: number, date, customer, amount)"
        )


def looks_like_data(cells: tuple[str, ...]) -> bool:
    """Whether a would-be header row holds values (e-mails, phones, dates, amounts)."""
    return any(
        _EMAIL.search(c)
        or _PHONE.fullmatch(c.strip())
        or _DATE.fullmatch(c.strip())
        or _NUMBER.fullmatch(c.strip())
        for c in cells
        if c.strip()
    )


def _mask_phone(m: re.Match[str]) -> str:
    text = m.group(0)
    if sum(ch.isdigit() for ch in text) < 8 or _DATE.fullmatch(text):
        return text
    return "[phone]"


def redact(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers masked (kept messages, rejects)."""
    return _PHONE.sub(_mask_phone, _EMAIL.sub("[e-mail]", text))
