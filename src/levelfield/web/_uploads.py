"""Upload safety: a streaming body-size limit, type sniffing by content, safe temp files."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from levelfield.errors import DataError

__all__ = ["BodyLimitMiddleware", "UploadTypeError", "display_name", "sniff_type"]

_SNIFF_BYTES = 64 * 1024
_TEXT_SUFFIXES = {".csv": "csv", ".txt": "txt", ".tsv": "tsv"}


class UploadTypeError(DataError):
    """An uploaded file is not a type levelfield can read (CSV/TSV text, XLSX, XLS, Parquet)."""


def _is_text(head: bytes) -> bool:
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sniffed block is still UTF-8.
        if exc.start >= len(head) - 3 and len(head) >= _SNIFF_BYTES - 3:
            text = head[: exc.start].decode("utf-8")
        else:
            text = head.decode("cp1252", errors="replace")
    if not text:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    return controls <= len(text) // 1000


def sniff_type(path: Path, declared_name: str = "") -> str:
    """The file's type from its content: ``csv``/``tsv``/``txt``, ``xlsx``, ``xls``, ``parquet``.

    The declared name's extension is only used to tell ``.txt``/``.tsv`` text from
    ``.csv`` text after the content says it is text.

    Raises
    ------
    UploadTypeError
        Empty files and anything else (images, PDFs, archives, programs).
    """
    size = path.stat().st_size
    if size == 0:
        raise UploadTypeError(f"{display_name(declared_name)!r} is empty; export the file again")
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        fh.seek(max(0, size - 4))
        tail = fh.read(4)
    if head.startswith(b"PAR1") and tail == b"PAR1":
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            names = set()
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            return "xlsx"
        raise UploadTypeError(
            f"{display_name(declared_name)!r} is a ZIP archive, not an Excel workbook; "
            "unzip it and upload the CSV or XLSX files inside"
        )
    if _is_text(head):
        suffix = Path(display_name(declared_name)).suffix.lower()
        return _TEXT_SUFFIXES.get(suffix, "csv")
    raise UploadTypeError(
        f"{display_name(declared_name)!r} is not a CSV, XLSX, XLS or Parquet file "
        "(its content looks binary); upload the export your platform produced"
    )


def display_name(name: str | None) -> str:
    """An uploaded file's name made safe for display and the import ledger.

    Only the last path component is kept and control characters are dropped; the
    name is never used to build a path on the server.
    """
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:200].strip()
    return base or "upload"


class BodyLimitMiddleware:
    """Reject request bodies over ``max_bytes`` with 413, counting while streaming.

    A declared ``Content-Length`` over the limit is refused before reading; otherwise
    the bytes are counted as they arrive and the request fails with 413 the moment
    the limit is passed, so an oversized upload never reaches the disk whole.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _send_413(send, self.max_bytes)
                    return
        seen = 0
        limit = self.max_bytes

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(status_code=413, detail=_too_large(limit))
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> str:
    return (
        f"the upload is larger than the limit of {limit / 1e6:,.0f} MB; split the export "
        "by date range or ask the administrator to raise --max-upload-mb"
    )


async def _send_413(send: Send, limit: int) -> None:
    import json

    body = json.dumps({"error": "PayloadTooLarge", "detail": _too_large(limit)}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
