"""The workspace file before DuckDB opens it: foreign, truncated, read-only or locked.

DuckDB is never handed a file that is not a DuckDB database (an SQLite file would make
it try to download its ``sqlite`` extension), every connection has extension
auto-install and auto-load off, a truncated file is named as such instead of failing
later in a query, and a file locked by another levelfield process is waited for
(``LEVELFIELD_LOCK_TIMEOUT`` seconds, default 60) instead of failing at once.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import duckdb

from levelfield.errors import ConfigError, WorkspaceError

__all__ = ["CONFIG", "LOCK_TIMEOUT_ENV", "check_file", "connect", "is_writable", "lock_timeout"]

#: Offline and safe with foreign files: DuckDB must never fetch or load an extension.
CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
LOCK_TIMEOUT_ENV = "LEVELFIELD_LOCK_TIMEOUT"
_DEFAULT_LOCK_TIMEOUT = 60.0
_HEADER = 4096  # DuckDB: main header, then two database headers of 4 KiB each
_FOREIGN: tuple[tuple[bytes, str], ...] = (
    (b"SQLite format 3\0", "an SQLite database"),
    (b"PK\x03\x04", "a ZIP archive or Excel workbook"),
    (b"PAR1", "a Parquet file"),
    (b"%PDF", "a PDF document"),
)


def lock_timeout(value: float | None = None) -> float:
    """Seconds to wait for another process's lock: ``value``, else the environment's."""
    if value is None:
        text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
        if not text:
            return _DEFAULT_LOCK_TIMEOUT
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds") from None
    if value < 0:
        raise ConfigError(f"the lock timeout must be 0 seconds or more, not {value}")
    return float(value)


def is_writable(path: Path) -> bool:
    """Whether DuckDB can write ``path`` (the file and, for its WAL, its folder)."""
    folder = path.parent if str(path.parent) else Path(".")
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)


def _not_a_workspace(path: Path, what: str) -> WorkspaceError:
    return WorkspaceError(
        f"{path} is not a levelfield workspace ({what}); choose another "
        f"--workspace path, or create one with 'levelfield init NEW.duckdb'"
    )


def _damaged(path: Path, detail: str) -> WorkspaceError:
    return WorkspaceError(
        f"{path} is a damaged levelfield workspace ({detail}): it was probably cut short "
        "by a full disk, an interrupted copy or download. Restore it from a backup"
    )


def check_file(path: Path) -> None:
    """Refuse a file that is not a DuckDB database, or one shorter than its header says.

    Raises
    ------
    WorkspaceError
        The file is something else (SQLite, ZIP, text, ...) or is truncated.
    """
    size = path.stat().st_size
    if size == 0:
        return  # an empty file: DuckDB initialises it as a new database
    with path.open("rb") as f:
        head = f.read(3 * _HEADER)
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            raise _not_a_workspace(path, f"it is {what}")
    if head[8:12] != b"DUCK":
        raise _not_a_workspace(path, "it is not a DuckDB database")
    if len(head) < 3 * _HEADER:
        raise _damaged(path, f"{size:,} bytes, shorter than a DuckDB header")
    expected = _expected_size(head)
    # DuckDB itself truncates free blocks at the end of the file on checkpoint and keeps
    # the header's block count, so a shorter file cut at a block boundary is healthy;
    # a copy or download cut short ends mid-block.
    if expected is not None and size < expected and (size - 3 * _HEADER) % _block_size(head):
        raise _damaged(path, f"{size:,} bytes where its header promises {expected:,}")


def _block_size(head: bytes) -> int:
    """Block size of the active database header (``_expected_size`` checked it)."""
    first = struct.unpack_from("<6Q", head, _HEADER)
    second = struct.unpack_from("<6Q", head, 2 * _HEADER)
    return int(max(first, second, key=lambda h: h[1])[5]) or 1


def _expected_size(head: bytes) -> int | None:
    """Bytes the file needs: headers plus ``block_count`` blocks of the active header.

    Each database header is ``checksum, iteration, meta_block, free_list, block_count,
    block_alloc_size`` (little-endian 64-bit); the one with the higher iteration is
    active. ``None`` when the fields do not look like a header of this layout.
    """
    best: tuple[int, int, int] | None = None
    for off in (_HEADER, 2 * _HEADER):
        _chk, iteration, _meta, _free, blocks, block_size = struct.unpack_from("<6Q", head, off)
        if best is None or iteration > best[0]:
            best = (iteration, blocks, block_size)
    if best is None:
        return None
    _it, blocks, block_size = best
    plausible = 4096 <= block_size <= 1 << 30 and block_size & (block_size - 1) == 0
    if not plausible or blocks > 1 << 40:
        return None
    return 3 * _HEADER + blocks * block_size


def connect(path: Path, *, read_only: bool, timeout: float | None) -> duckdb.DuckDBPyConnection:
    """Connect, waiting up to ``timeout`` seconds while another process holds the lock.

    Raises
    ------
    WorkspaceError
        The lock was not released in time, or DuckDB cannot open the file.
    """
    wait = lock_timeout(timeout)
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=CONFIG)
        except duckdb.IOException as exc:
            locked = "lock" in str(exc).lower()
            if not locked:
                raise WorkspaceError(f"cannot open {path} as a workspace: {exc}") from exc
            if time.monotonic() >= deadline:
                raise WorkspaceError(
                    f"{path} is in use by another levelfield process and was not released "
                    f"within {wait:g} s ({exc}); wait for it to finish, or wait longer with "
                    f"{LOCK_TIMEOUT_ENV}=SECONDS"
                ) from exc
        except duckdb.Error as exc:
            raise WorkspaceError(f"cannot open {path} as a workspace: {exc}") from exc
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 1.0)
