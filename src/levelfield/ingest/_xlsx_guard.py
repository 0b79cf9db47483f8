"""Hostile workbooks: check a workbook's extent before reading it, and read it elsewhere.

A 1.6 KB XLSX with cells ``A1`` and ``XFD1048576`` makes calamine (fastexcel's reader)
build a dense 1,048,576 × 16,384 grid; the 512 GiB allocation aborts the whole process,
which for ``levelfield serve`` means every tenant. Two defences, both here:

1. :func:`check_workbook` streams the ZIP container (never holding a decompressed part
   in memory): it refuses declared or actual decompressed sizes above
   :attr:`WorkbookLimits.max_unzipped_bytes`, a compression ratio above
   :attr:`WorkbookLimits.max_ratio` (a zip bomb), and, from every worksheet's
   ``<dimension>`` and its first and last cell references (and those at the ends of
   each 1 MB block), a bounding box of more than
   :attr:`WorkbookLimits.max_cells` cells or more than :attr:`WorkbookLimits.max_rows`
   rows over all sheets.
2. :func:`read_workbook_headers` and :func:`convert_sheet` run fastexcel in a child
   process (``forkserver``) whose address space and CPU time are capped with
   ``resource.setrlimit``; a file that slips past the check kills the child, not the
   caller, and is reported as a :class:`~levelfield.errors.LimitExceededError`.

Limits default to :meth:`WorkbookLimits.from_env`, so they can be raised without code:
``LEVELFIELD_MAX_CELLS``, ``LEVELFIELD_MAX_ROWS``, ``LEVELFIELD_MAX_UNZIPPED_MB``,
``LEVELFIELD_MAX_ZIP_RATIO``, ``LEVELFIELD_READER_MEMORY_MB`` and
``LEVELFIELD_READER_CPU_SECONDS``.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from levelfield.errors import ConfigError, DataError, LimitExceededError

__all__ = [
    "SheetExtent",
    "WorkbookExtent",
    "WorkbookLimits",
    "check_workbook",
    "convert_sheet",
    "read_workbook_headers",
]

_MB = 1 << 20
_CHUNK = 1 << 20
_EDGE = 4096  # bytes read for references at each end of a block
_MAX_ROW = 1_048_576  # Excel's own limits
_MAX_COL = 16_384
# Small parts (workbook.xml, relationships) are read whole; cap what that may cost.
_SMALL_PART = 16 * _MB
# A ratio check on tiny workbooks would refuse a sheet of zeros; apply it above this.
_RATIO_FLOOR = 16 * _MB

_CELL_REF = re.compile(rb'\br="([A-Z]{0,4})([0-9]{1,9})"')
_DIMENSION = re.compile(
    rb'<(?:\w+:)?dimension\s+ref="([A-Z]{1,4})([0-9]{1,9})(?::([A-Z]{1,4})([0-9]{1,9}))?"'
)
_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\s([^>]*)>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\s([^>]*)>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')

_ENV = {
    "max_cells": ("LEVELFIELD_MAX_CELLS", 1),
    "max_rows": ("LEVELFIELD_MAX_ROWS", 1),
    "max_unzipped_bytes": ("LEVELFIELD_MAX_UNZIPPED_MB", _MB),
    "max_ratio": ("LEVELFIELD_MAX_ZIP_RATIO", 1),
    "reader_memory_bytes": ("LEVELFIELD_READER_MEMORY_MB", _MB),
    "reader_cpu_seconds": ("LEVELFIELD_READER_CPU_SECONDS", 1),
}


@dataclass(frozen=True)
class WorkbookLimits:
    """What one workbook may cost to read; beyond it the file is refused.

    Attributes
    ----------
    max_cells
        Largest bounding box (rows × columns) of one sheet.
    max_rows
        Largest number of rows over all sheets of the workbook.
    max_unzipped_bytes
        Largest total size of the workbook's parts once decompressed (bytes).
    max_ratio
        Largest decompressed / compressed size ratio (zip bombs reach thousands).
    reader_memory_bytes
        Address-space limit of the process that parses the workbook (bytes).
    reader_cpu_seconds
        CPU-time limit of that process (seconds).
    """

    max_cells: int = 20_000_000
    max_rows: int = 2_000_000
    max_unzipped_bytes: int = 1024 * _MB
    max_ratio: float = 200.0
    reader_memory_bytes: int = 4096 * _MB
    reader_cpu_seconds: int = 300

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ConfigError(
                    f"workbook limit {f.name} must be a positive number, not {value!r}"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkbookLimits:
        """Defaults, overridden by ``LEVELFIELD_MAX_*`` / ``LEVELFIELD_READER_*`` variables.

        Raises
        ------
        ConfigError
            A variable is set but is not a positive number.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (var, unit) in _ENV.items():
            text = env.get(var, "").strip()
            if not text:
                continue
            try:
                number = float(text.replace("_", "").replace(",", ""))
            except ValueError:
                raise ConfigError(f"{var}={text!r} is not a number") from None
            values[name] = number if name == "max_ratio" else int(number * unit)
        return cls(**values)


def raise_hint(limit: str) -> str:
    """How to raise ``limit``: the environment variable and its unit."""
    var, unit = _ENV[limit]
    return f"set {var} to a larger value{' (in MB)' if unit == _MB else ''}"


@dataclass(frozen=True)
class SheetExtent:
    """A worksheet's bounding box as the file declares it and as its cells reach.

    ``rows`` × ``columns`` is the dense grid a reader allocates for the sheet.
    """

    name: str
    part: str
    dimension: str | None
    first_row: int
    last_row: int
    first_column: int
    last_column: int

    @property
    def rows(self) -> int:
        return max(0, self.last_row - self.first_row + 1)

    @property
    def columns(self) -> int:
        return max(0, self.last_column - self.first_column + 1)

    @property
    def cells(self) -> int:
        return self.rows * self.columns

    @property
    def last_cell(self) -> str:
        return f"{column_letters(self.last_column)}{self.last_row}" if self.cells else ""


@dataclass(frozen=True)
class WorkbookExtent:
    """What :func:`check_workbook` found: sheets, sizes and compression ratio."""

    name: str
    sheets: tuple[SheetExtent, ...]
    compressed_bytes: int
    unzipped_bytes: int

    @property
    def rows(self) -> int:
        """Rows over all sheets (bounding boxes, so blank rows inside count)."""
        return sum(s.rows for s in self.sheets)

    @property
    def ratio(self) -> float:
        return self.unzipped_bytes / max(1, self.compressed_bytes)


def column_number(letters: str) -> int:
    """``"A"`` -> 1, ``"XFD"`` -> 16384."""
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def column_letters(number: int) -> str:
    """1 -> ``"A"``, 16384 -> ``"XFD"``."""
    out = ""
    while number > 0:
        number, rem = divmod(number - 1, 26)
        out = chr(65 + rem) + out
    return out


def _refused(name: str, what: str, limit: str, value: str) -> LimitExceededError:
    return LimitExceededError(
        f"{name}: {what}, more than the limit of {value}; the file was not read. If the "
        f"workbook is genuine, save the sheet you need as CSV, or {raise_hint(limit)}"
    )


def check_workbook(path: str | Path, limits: WorkbookLimits | None = None) -> WorkbookExtent:
    """Check an XLSX workbook's size and extent without reading its cells into memory.

    The ZIP directory is checked first (declared sizes and ratio), then each worksheet
    is decompressed in a stream of 1 MB chunks (never whole) to find its ``<dimension>``
    and the first and last row and column its cells reference.

    Parameters
    ----------
    path
        The workbook (``.xlsx``/``.xlsm``; any ZIP container is accepted).
    limits
        The limits to apply; default :meth:`WorkbookLimits.from_env`.

    Returns
    -------
    WorkbookExtent

    Raises
    ------
    LimitExceededError
        The workbook is larger than a limit; the message names the file, the limit and
        how to raise it.
    DataError
        The file is not a readable ZIP container.
    """
    lim = WorkbookLimits.from_env() if limits is None else limits
    p = Path(path)
    name = p.name
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            _check_declared(name, infos, p.stat().st_size, lim)
            parts = _sheet_parts(zf, {i.filename for i in infos})
            sheets: list[SheetExtent] = []
            unzipped = sum(i.file_size for i in infos if i.filename not in parts.values())
            for sheet_name, part in parts.items():
                extent, size = _scan_sheet(zf, name, sheet_name, part, lim)
                unzipped += size
                sheets.append(extent)
                _check_sheet(name, extent, sum(s.rows for s in sheets), lim)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError) as exc:
        raise DataError(
            f"{name} looks like an Excel workbook but its ZIP container is damaged ({exc}); "
            "open it in Excel and save it again as .xlsx or CSV"
        ) from exc
    return WorkbookExtent(
        name=name, sheets=tuple(sheets), compressed_bytes=p.stat().st_size, unzipped_bytes=unzipped
    )


def _check_declared(
    name: str, infos: Sequence[zipfile.ZipInfo], compressed: int, lim: WorkbookLimits
) -> None:
    total = sum(i.file_size for i in infos)
    if total > lim.max_unzipped_bytes:
        raise _refused(
            name,
            f"it unpacks to {total / _MB:,.0f} MB",
            "max_unzipped_bytes",
            f"{lim.max_unzipped_bytes / _MB:,.0f} MB",
        )
    if total > _RATIO_FLOOR and total / max(1, compressed) > lim.max_ratio:
        raise _refused(
            name,
            f"it unpacks {total / max(1, compressed):,.0f} times larger than the file "
            "(a zip bomb, or very repetitive data)",
            "max_ratio",
            f"{lim.max_ratio:,.0f} times",
        )


def _attrs(tag_body: bytes) -> dict[str, str]:
    return {
        k.decode("utf-8", "replace").split(":")[-1] if k != b"r:id" else "r:id": v.decode(
            "utf-8", "replace"
        )
        for k, v in _ATTR.findall(tag_body)
    }


def _small(zf: zipfile.ZipFile, part: str) -> bytes:
    info = zf.getinfo(part)
    if info.file_size > _SMALL_PART:
        raise DataError(f"{part} is {info.file_size / _MB:,.0f} MB, too large for a workbook index")
    with zf.open(info) as f:
        return f.read(_SMALL_PART + 1)[:_SMALL_PART]


def _sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """Sheet name -> worksheet part, in workbook order (file order when unlisted)."""
    parts: dict[str, str] = {}
    if "xl/workbook.xml" in names and "xl/_rels/workbook.xml.rels" in names:
        targets = {}
        for body in _REL_TAG.findall(_small(zf, "xl/_rels/workbook.xml.rels")):
            a = _attrs(body)
            target = a.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            targets[a.get("Id", "")] = os.path.normpath(target).replace(os.sep, "/")
        for body in _SHEET_TAG.findall(_small(zf, "xl/workbook.xml")):
            a = _attrs(body)
            target = targets.get(a.get("r:id", a.get("id", "")), "")
            if target in names:
                parts[a.get("name", target)] = target
    listed = set(parts.values())
    for n in sorted(names):
        if n.startswith("xl/worksheets/") and n.endswith(".xml") and n not in listed:
            parts[n] = n
    return parts


def _scan_sheet(
    zf: zipfile.ZipFile, name: str, sheet: str, part: str, lim: WorkbookLimits
) -> tuple[SheetExtent, int]:
    """Stream one worksheet part: its ``<dimension>``, its size, and the rows and columns
    its cell references reach.

    Every byte is decompressed (and counted), but references are read only in the first
    1 MB block (the header row) and at both ends of each later block: the first and the
    last cell of the sheet, and a sample of those between. A regular expression over
    every cell would cost more than reading the workbook; a far cell hidden mid-block
    is left to the reader process's memory limit.
    """
    rows: set[int] = set()
    cols: set[bytes] = set()
    dimension: str | None = None
    size = 0
    tail = b""
    with zf.open(part) as f:
        while chunk := f.read(_CHUNK):
            size += len(chunk)
            if size > lim.max_unzipped_bytes:
                raise _refused(
                    name,
                    f"sheet {sheet!r} unpacks to more than {size / _MB:,.0f} MB",
                    "max_unzipped_bytes",
                    f"{lim.max_unzipped_bytes / _MB:,.0f} MB",
                )
            window = tail + chunk
            # <dimension> precedes the cells: look in the first block only.
            if size == len(chunk) and (m := _DIMENSION.search(window)):
                dimension = m.group(0).split(b'"')[1].decode()
            # Only extremes matter, so a reference seen twice in an overlap is harmless.
            # The first block whole (the header row, however wide), then both ends.
            edges = (window,) if size == len(chunk) else (window[:_EDGE], window[-_EDGE:])
            for edge in edges:
                found = _CELL_REF.findall(edge)
                cols.update(c for c, _ in found if c)
                rows.update(int(r) for _, r in found)
            tail = window[-64:]
    col_numbers = [column_number(c.decode()) for c in cols]
    extent = SheetExtent(
        name=sheet,
        part=part,
        dimension=dimension,
        first_row=min(rows, default=1),
        last_row=max(rows, default=0),
        first_column=min(col_numbers, default=1),
        last_column=max(col_numbers, default=0),
    )
    return extent, size


def _check_sheet(name: str, s: SheetExtent, rows_so_far: int, lim: WorkbookLimits) -> None:
    where = f"sheet {s.name!r} reaches cell {s.last_cell}"
    if s.last_row > _MAX_ROW or s.last_column > _MAX_COL:
        raise DataError(
            f"{name}: {where}, beyond Excel's last cell XFD1048576; the file is damaged or "
            "was not written by a spreadsheet program. Open it in Excel and save it again"
        )
    if s.cells > lim.max_cells:
        raise _refused(
            name,
            f"{where}, a grid of {s.rows:,} rows × {s.columns:,} columns = {s.cells:,} cells",
            "max_cells",
            f"{lim.max_cells:,} cells",
        )
    if rows_so_far > lim.max_rows:
        raise _refused(
            name, f"its sheets hold {rows_so_far:,} rows", "max_rows", f"{lim.max_rows:,} rows"
        )


# -- reading in a child process ----------------------------------------------------------


def _limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    # A Rust allocation failure aborts with a core dump; there is nothing to debug in it.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Nor is the allocator's backtrace on stderr news to the user: the parent explains.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _child(conn: Any, job: Callable[..., Any], args: tuple[Any, ...], mem: int, cpu: int) -> None:
    try:
        _limit_resources(mem, cpu)
        conn.send(("ok", job(*args)))
    except MemoryError:
        conn.send(("memory", ""))
    except Exception as exc:  # fastexcel raises its own types for corrupt workbooks
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


_PRELOADED: list[bool] = []


def _run_limited(
    name: str, job: Callable[..., Any], args: tuple[Any, ...], lim: WorkbookLimits
) -> Any:
    """Run ``job(*args)`` in a child process with the reader's memory and CPU limits."""
    ctx = multiprocessing.get_context("forkserver")
    if not _PRELOADED:
        # The fork server imports the reader once; each child is then a cheap fork
        # (40 ms instead of 0.8 s). Only levelfield starts this context's server.
        ctx.set_forkserver_preload([__name__, "fastexcel", "pyarrow.parquet"])
        _PRELOADED.append(True)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child,
        args=(send, job, args, lim.reader_memory_bytes, lim.reader_cpu_seconds),
        name="levelfield-xlsx-reader",
        daemon=True,
    )
    proc.start()
    send.close()
    try:
        try:
            status, payload = recv.recv()
        except EOFError:
            status, payload = "died", ""
        proc.join()
    except BaseException:  # Ctrl-C or a cancelled request: do not leave the reader running
        proc.kill()
        proc.join()
        raise
    finally:
        recv.close()
    if status == "ok":
        return payload
    if status == "error":
        raise DataError(
            f"{name} looks like an Excel workbook but cannot be read ({payload}); open it in "
            "Excel and save it again as .xlsx or CSV"
        )
    how = "ran out of memory" if status == "memory" or proc.exitcode == -6 else "was stopped"
    raise LimitExceededError(
        f"{name}: reading the workbook {how} (limits: {lim.reader_memory_bytes / _MB:,.0f} MB "
        f"of memory, {lim.reader_cpu_seconds:,} s of CPU; reader exit code {proc.exitcode}); "
        "the file was not imported. Save the sheet you need as CSV, or set "
        "LEVELFIELD_READER_MEMORY_MB / LEVELFIELD_READER_CPU_SECONDS to larger values"
    )


def _headers_job(path: str, sheet: str | None) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    import fastexcel

    reader = fastexcel.read_excel(path)
    names = [str(n) for n in reader.sheet_names]
    out: list[tuple[str, list[Any]]] = []
    for n in [sheet] if sheet is not None and sheet in names else names:
        batch = reader.load_sheet(n, header_row=None, n_rows=1, dtypes="string")
        rows = batch.to_arrow().to_pylist()
        if rows:
            out.append((n, list(rows[0].values())))
    return names, out


def _convert_job(path: str, sheet: str | int, used: list[int], out: str) -> int:
    import fastexcel
    import pyarrow as pa
    import pyarrow.parquet as pq

    reader = fastexcel.read_excel(path)
    loaded = reader.load_sheet(
        sheet, header_row=None, skip_rows=1, use_columns=used, dtypes="string"
    )
    arrow = loaded.to_arrow()
    table = pa.table(
        [arrow.column(j).cast(pa.string()) for j in range(arrow.num_columns)],
        names=[f"c{i}" for i in used],
    )
    pq.write_table(table, out)
    return int(table.num_rows)


def _guard(path: Path, lim: WorkbookLimits) -> None:
    with path.open("rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
    if is_zip:
        check_workbook(path, lim)


def read_workbook_headers(
    path: str | Path, sheet: str | None = None, limits: WorkbookLimits | None = None
) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    """Sheet names and the first row of each sheet (or of ``sheet``), read safely.

    The workbook is checked with :func:`check_workbook` (ZIP workbooks), then parsed by
    fastexcel in a child process under the reader limits.

    Raises
    ------
    LimitExceededError
        The workbook is beyond a limit, or its reader ran out of memory or CPU time.
    DataError
        The workbook cannot be read.
    """
    lim = WorkbookLimits.from_env() if limits is None else limits
    p = Path(path)
    _guard(p, lim)
    result: tuple[list[str], list[tuple[str, list[Any]]]] = _run_limited(
        p.name, _headers_job, (str(p), sheet), lim
    )
    return result


def convert_sheet(
    path: str | Path,
    sheet: str | int,
    used: Sequence[int],
    out: str | Path,
    limits: WorkbookLimits | None = None,
) -> int:
    """Write columns ``used`` of ``sheet`` (all rows after the header) to Parquet at ``out``.

    Columns are named ``c<i>`` and typed as strings. Returns the number of rows written.
    The parsing happens in a child process under the reader limits (see
    :func:`read_workbook_headers`); the workbook is checked again first because it may
    have changed on disk since its header was read.
    """
    lim = WorkbookLimits.from_env() if limits is None else limits
    p = Path(path)
    _guard(p, lim)
    rows: int = _run_limited(p.name, _convert_job, (str(p), sheet, list(used), str(out)), lim)
    return rows
