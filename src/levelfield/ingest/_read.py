"""Readers: recognise a file's format and encoding, and stage its rows in DuckDB.

The file is read once in Python, in chunks, to hash it (the import ledger keys on the
SHA-256) and to check that it is UTF-8; Windows-1252/Latin-1 and UTF-16 files are
transcoded to a UTF-8 copy in the same streamed pass, because DuckDB's CSV reader only
knows UTF-8 well (its latin-1 rejects 0x80-0x9F, where Windows-1252 keeps the euro sign
and curly quotes). The rows then go straight from DuckDB's parallel CSV reader, DuckDB's
Parquet reader or fastexcel's Arrow output into a temporary all-``VARCHAR`` table; a
large file is never loaded whole into pandas or Python objects.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from levelfield.errors import DataError, SchemaError
from levelfield.ingest._sql import ident, lit
from levelfield.ingest._xlsx_guard import convert_sheet, read_workbook_headers

__all__ = ["RAW", "SourceFile", "Staged", "TableInfo", "open_source", "stage_rows"]

#: Temporary table holding the staged rows (``_row`` plus ``c<i>`` VARCHAR columns).
RAW = "_lf_raw"
_CHUNK = 1 << 22
_SNIFF_BYTES = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")
_CDNOW_LINE = re.compile(r"^\s*\S+\s+\d{8}\s+-?\d+(\.\d+)?\s+-?\d+(\.\d+)?\s*$")
CDNOW_HEADER = ("customer_id", "date", "quantity", "amount")

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"SQLite format 3", "an SQLite database"),
    (b"DUCK", "a DuckDB database"),
)


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    # Windows-1252 leaves 0x81, 0x8D, 0x8F, 0x90, 0x9D undefined; Latin-1 maps them to
    # C1 controls, which keeps the transcoding total.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("levelfield_latin1", _latin1_fallback)


@dataclass(frozen=True)
class TableInfo:
    """One table in a file: its header and, for workbooks, its sheet name."""

    header: tuple[str, ...]
    sheet: str | None = None
    has_header: bool = True


@dataclass
class SourceFile:
    """A recognised input file, ready to stage."""

    path: Path
    name: str
    sha256: str
    fmt: str  # "csv", "whitespace", "excel" or "parquet"
    encoding: str = "utf-8"
    delimiter: str | None = None
    tables: list[TableInfo] = field(default_factory=list)
    text_path: Path | None = None
    tmpdir: Path | None = None

    def cleanup(self) -> None:
        """Remove the transcoded copy, if one was written."""
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


@dataclass(frozen=True)
class Staged:
    """Rows staged in :data:`RAW`: count and rows the reader could not split."""

    rows: int
    structural_rejects: list[tuple[int | None, str]]


def _hash_and_check(path: Path) -> tuple[str, bool, bytes, bool]:
    """SHA-256 of the file, whether it is valid UTF-8, its first bytes, and whether its
    lines end in a mix of CRLF and LF (a file pieced together on two systems)."""
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    head = b""
    crlf = lf = 0
    prev_cr = False
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            if not head:
                head = chunk[:_SNIFF_BYTES]
            h.update(chunk)
            lf += chunk.count(b"\n")
            crlf += chunk.count(b"\r\n") + (prev_cr and chunk.startswith(b"\n"))
            prev_cr = chunk.endswith(b"\r")
            # Pure ASCII is valid UTF-8; bytes.isascii is far cheaper than decoding, but
            # only when no multi-byte sequence is pending from the previous chunk.
            if utf8 and not (chunk.isascii() and not dec.getstate()[0]):
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    return h.hexdigest(), utf8, head, 0 < crlf < lf


def _transcode(path: Path, encoding: str, errors: str) -> tuple[Path, Path]:
    tmpdir = Path(tempfile.mkdtemp(prefix="levelfield-ingest-"))
    out = tmpdir / (path.stem + ".utf8.csv")
    dec = codecs.getincrementaldecoder(encoding)(errors=errors)
    # Line endings become LF: DuckDB's strict CSV reader takes one kind per file.
    pending = ""
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            text = pending + dec.decode(chunk)
            pending = "\r" if text.endswith("\r") else ""
            dst.write((text[:-1] if pending else text).replace("\r\n", "\n"))
        dst.write((pending + dec.decode(b"", final=True)).replace("\r\n", "\n"))
    return out, tmpdir


def _sniff_delimiter(text: str, name: str, complete: bool) -> tuple[str | None, list[str]]:
    """Pick the delimiter whose rows agree with the header's field count."""
    best: tuple[float, int, str] | None = None
    best_header: list[str] = []
    for delim in _DELIMITERS:
        try:
            records = list(_records(text, delim, complete))
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        header = records[0]
        body = [r for r in records[1:] if any(v.strip() for v in r)]
        agree = sum(len(r) == len(header) for r in body) / len(body) if body else 1.0
        score = (agree, len(header), delim)
        if best is None or score[:2] > best[:2]:
            best, best_header = score, header
    if best is None:
        return None, []
    if best[0] < 0.5:
        raise DataError(
            f"{name}: the header and the rows do not split the same way (with "
            f"{best[2]!r}, {best[0]:.0%} of the first rows have the header's "
            f"{best[1]} fields); the rows probably use another delimiter than the "
            "header. Save the file again with one delimiter (',' or ';')"
        )
    return best[2], best_header


def _records(text: str, delim: str, complete: bool) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text), delimiter=delim, quotechar='"'))
    if not complete and len(rows) > 1:
        rows = rows[:-1]  # the sample may end inside a record
    return rows[:200]


def _clean_header(header: Sequence[Any]) -> tuple[str, ...]:
    out = []
    for i, h in enumerate(header):
        name = "" if h is None else str(h).replace("\ufeff", "").strip().strip('"').strip()
        out.append(name or f"column {i + 1}")
    return tuple(out)


def read_header(path: str | Path, *, sheet: str | None = None) -> tuple[str, ...]:
    """The column names of a file as the importer reads them (first sheet of a workbook).

    Raises
    ------
    DataError
        The file is missing, empty, binary, or not a table.
    """
    src = open_source(path, sheet=sheet)
    try:
        return tuple(src.tables[0].header) if src.tables else ()
    finally:
        src.cleanup()


def open_source(path: str | Path, *, sheet: str | None = None) -> SourceFile:
    """Recognise ``path``: format, encoding, delimiter and header(s).

    Raises
    ------
    DataError
        The file is missing, empty, binary, or its header and rows disagree.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise DataError(f"{p} is a folder; give the export file inside it")
    name = p.name
    if p.stat().st_size == 0:
        raise DataError(f"{name} is empty (0 bytes); export the data again")
    sha, utf8, head, mixed_newlines = _hash_and_check(p)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return _open_excel(p, sha, sheet)
    if head.startswith(b"PAR1"):
        return _open_parquet(p, sha)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise DataError(
                f"{name} is {what}, not a CSV/TSV, Excel or Parquet file; export the data "
                "from the platform again as CSV"
            )
    src = SourceFile(path=p, name=name, sha256=sha, fmt="csv", text_path=p)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        src.text_path, src.tmpdir = _transcode(p, "utf-16", "strict")
        src.encoding = "utf-16 (converted)"
        head = _head(src.text_path)
    elif b"\x00" in head or _looks_binary(head):
        raise DataError(
            f"{name} is a binary file, not text (it contains control bytes); export the "
            "data from the platform again as CSV"
        )
    elif not utf8:
        src.text_path, src.tmpdir = _transcode(p, "cp1252", "levelfield_latin1")
        src.encoding = "windows-1252 (converted to UTF-8)"
        head = _head(src.text_path)
    elif mixed_newlines:
        src.text_path, src.tmpdir = _transcode(p, "utf-8", "strict")
        src.encoding = "utf-8 (mixed CRLF/LF line endings made LF)"
        head = _head(src.text_path)
    elif head.startswith(codecs.BOM_UTF8):
        src.encoding = "utf-8 (with BOM)"
    complete = p.stat().st_size <= _SNIFF_BYTES and src.tmpdir is None
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    if not text.strip():
        raise DataError(f"{name} has no text (only blank lines); export the data again")
    try:
        delim, header = _sniff_delimiter(text, name, complete)
    except BaseException:
        src.cleanup()
        raise
    if delim is None:
        lines = [ln for ln in text.splitlines() if ln.strip()][:50]
        if not complete and len(lines) > 1:
            lines = lines[:-1]
        if lines and all(_CDNOW_LINE.match(ln) for ln in lines):
            src.fmt = "whitespace"
            src.tables = [TableInfo(header=CDNOW_HEADER, has_header=False)]
            return src
        # The copy shipped with ``lifetimes`` starts with a header line
        # ("customer_id date number_of_cds dollar_value").
        if (
            len(lines) > 1
            and len(lines[0].split()) == len(CDNOW_HEADER)
            and not _CDNOW_LINE.match(lines[0])
            and all(_CDNOW_LINE.match(ln) for ln in lines[1:])
        ):
            src.fmt = "whitespace"
            src.tables = [TableInfo(header=CDNOW_HEADER, has_header=True)]
            return src
        first = next(csv.reader(io.StringIO(lines[0] if lines else "")), [""])
        delim, header = ",", first
    src.delimiter = delim
    src.tables = [TableInfo(header=_clean_header(header))]
    return src


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(_SNIFF_BYTES)


def _looks_binary(head: bytes) -> bool:
    sample = head[:8192]
    controls = sum(b < 9 or 13 < b < 32 for b in sample)
    return controls > max(8, len(sample) // 100)


def _open_excel(p: Path, sha: str, sheet: str | None) -> SourceFile:
    # Checked for hostile extents, then parsed in a memory-limited child process.
    names, first_rows = read_workbook_headers(p, sheet)
    if sheet is not None and sheet not in names:
        raise SchemaError(
            f"{p.name} has no sheet {sheet!r}; its sheets are: " + ", ".join(repr(n) for n in names)
        )
    tables = [TableInfo(header=_clean_header(row), sheet=n) for n, row in first_rows]
    if not tables:
        raise DataError(f"{p.name}: every sheet is empty; export the data again")
    return SourceFile(path=p, name=p.name, sha256=sha, fmt="excel", encoding="xlsx", tables=tables)


def _open_parquet(p: Path, sha: str) -> SourceFile:
    con = duckdb.connect()
    try:
        cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(p))})").fetchall()
    except duckdb.Error as exc:
        raise DataError(f"{p.name} is not a readable Parquet file ({exc})") from exc
    finally:
        con.close()
    header = tuple(str(c[0]) for c in cols)
    return SourceFile(
        path=p,
        name=p.name,
        sha256=sha,
        fmt="parquet",
        encoding="parquet",
        tables=[TableInfo(header=header)],
    )


def stage_rows(
    con: duckdb.DuckDBPyConnection, src: SourceFile, table: TableInfo, used: Sequence[int]
) -> Staged:
    """Create :data:`RAW` with ``_row`` (row number in the file) and ``c<i>`` columns.

    Only the columns in ``used`` are read (projection pushdown); all are ``VARCHAR``.
    Rows where every used column is blank (Excel's trailing rows) are dropped.
    """
    con.execute(f"DROP VIEW IF EXISTS {RAW}")
    for t in ("_lf_pq", "_lf_csv", "_lf_ws", "_lf_xl", "_lf_lines"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    used = sorted(set(used))
    rejects: list[tuple[int | None, str]] = []
    if src.fmt == "csv":
        rejects = _stage_csv(con, src, table, used)
    elif src.fmt == "whitespace":
        _stage_whitespace(con, src, used, skip_header=table.has_header)
    elif src.fmt == "parquet":
        sel = ", ".join(f"CAST({ident(table.header[i])} AS VARCHAR) AS c{i}" for i in used)
        con.execute(
            f"CREATE TEMP TABLE _lf_pq AS SELECT {sel} FROM read_parquet({lit(str(src.path))})"
        )
        _finish(con, "_lf_pq", used, offset=1)
    else:
        _stage_excel(con, src, table, used)
    n = int(con.execute(f"SELECT count(*) FROM {RAW}").fetchall()[0][0])
    return Staged(rows=n, structural_rejects=rejects)


def _finish(con: duckdb.DuckDBPyConnection, tmp: str, used: Sequence[int], offset: int) -> None:
    # A view over the staged table: its rowid is the row's position in the file.
    # Rows where every used column is blank (Excel's trailing rows) are left out.
    cols = ", ".join(f"c{i}" for i in used)
    cond = " OR ".join(f"(c{i} IS NOT NULL AND trim(c{i}) <> '')" for i in used) or "true"
    con.execute(
        f"CREATE TEMP VIEW {RAW} AS SELECT CAST(rowid + {offset} AS BIGINT) AS _row"
        f"{', ' if cols else ''}{cols} FROM {tmp} WHERE {cond}"
    )


def _stage_csv(
    con: duckdb.DuckDBPyConnection, src: SourceFile, table: TableInfo, used: Sequence[int]
) -> list[tuple[int | None, str]]:
    if src.text_path is None or src.delimiter is None:
        raise DataError(f"{src.name}: not recognised as delimited text")
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(table.header))) + "}"
    sel = ", ".join(f"c{i}" for i in used) or "c0"
    for t in ("_lf_rej_errors", "_lf_rej_scans"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    try:
        con.execute(
            f"CREATE TEMP TABLE _lf_csv AS SELECT {sel} FROM read_csv("
            f"{lit(str(src.text_path))}, columns={columns}, header=true, "
            f"delim={lit(src.delimiter)}, quote='\"', escape='\"', auto_detect=false, "
            "strict_mode=true, ignore_errors=true, store_rejects=true, "
            "rejects_table='_lf_rej_errors', rejects_scan='_lf_rej_scans', "
            "max_line_size=10000000, encoding='utf-8')"
        )
    except duckdb.Error as exc:
        raise DataError(
            f"{src.name}: cannot be read as delimited text ({exc}); check that it is the "
            "platform's CSV export"
        ) from exc
    rej = con.execute(
        "SELECT line, error_type, error_message FROM _lf_rej_errors ORDER BY line"
    ).fetchall()
    for t in ("_lf_rej_errors", "_lf_rej_scans"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    rejects: list[tuple[int | None, str]] = []
    for line, etype, message in rej:
        reason = {
            "MISSING COLUMNS": "row has fewer fields than the header (truncated line?)",
            "TOO MANY COLUMNS": "row has more fields than the header (unquoted delimiter?)",
            "UNQUOTED VALUE": "unterminated quote (truncated line?)",
        }.get(str(etype), f"unreadable row ({message})")
        rejects.append((int(line) if line is not None else None, reason))
    _finish(con, "_lf_csv", used, offset=2)
    return rejects


def _stage_whitespace(
    con: duckdb.DuckDBPyConnection, src: SourceFile, used: Sequence[int], skip_header: bool = False
) -> None:
    if src.text_path is None:
        raise DataError(f"{src.name}: not recognised as text")
    con.execute(
        f"CREATE TEMP TABLE _lf_lines AS SELECT string_split_regex(trim(line), '\\s+') AS p "
        f"FROM read_csv({lit(str(src.text_path))}, columns={{'line': 'VARCHAR'}}, "
        "delim='\\x01', quote='', escape='', "
        f"header={'true' if skip_header else 'false'}, auto_detect=false)"
    )
    sel = ", ".join(f"p[{i + 1}] AS c{i}" for i in used)
    con.execute(f"CREATE TEMP TABLE _lf_ws AS SELECT {sel} FROM _lf_lines")
    con.execute("DROP TABLE _lf_lines")
    _finish(con, "_lf_ws", used, offset=2 if skip_header else 1)


def _stage_excel(
    con: duckdb.DuckDBPyConnection, src: SourceFile, table: TableInfo, used: Sequence[int]
) -> None:
    # The child process writes the used columns to Parquet; DuckDB reads that back.
    tmpdir = Path(tempfile.mkdtemp(prefix="levelfield-xlsx-"))
    try:
        out = tmpdir / "sheet.parquet"
        convert_sheet(src.path, table.sheet if table.sheet is not None else 0, used, out)
        cols = ", ".join(f"c{i}" for i in used)
        con.execute(f"CREATE TEMP TABLE _lf_xl AS SELECT {cols} FROM read_parquet({lit(str(out))})")
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    _finish(con, "_lf_xl", used, offset=2)
