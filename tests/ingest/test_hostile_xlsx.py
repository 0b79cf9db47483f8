"""Issue 16 items 1 and 2: a hostile workbook is refused, it never aborts the process."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hostile_files import sheet_xml, sparse_xlsx, tall_xlsx, write_xlsx
from ingest_helpers import DATA, counts

from levelfield import Workspace
from levelfield.errors import ConfigError, DataError, LimitExceededError
from levelfield.ingest import import_file
from levelfield.ingest._xlsx_guard import (
    WorkbookLimits,
    check_workbook,
    column_letters,
    column_number,
    convert_sheet,
    read_workbook_headers,
)

_CLI = "from levelfield.cli import main; main()"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300", **(env or {})},
        check=False,
    )


def test_sparse_a1_xfd1048576_workbook_is_refused_by_the_cli_not_aborted(tmp_path: Path) -> None:
    f = sparse_xlsx(tmp_path / "sparse.xlsx")
    assert f.stat().st_size < 2000
    res = _cli("import", "orders", str(f), "-w", str(tmp_path / "w.duckdb"))
    assert res.returncode == 1, (res.returncode, res.stderr[-2000:])
    assert "LimitExceededError: sparse.xlsx" in res.stderr
    assert "XFD1048576" in res.stderr
    assert "17,179,869,184 cells" in res.stderr
    assert "LEVELFIELD_MAX_CELLS" in res.stderr
    assert "Traceback" not in res.stderr


def test_reader_abort_is_contained_in_the_child_process(tmp_path: Path) -> None:
    # With the extent check raised out of the way, calamine's 512 GiB allocation aborts:
    # the child dies, the caller (this test process) gets a LimitExceededError.
    f = sparse_xlsx(tmp_path / "sparse.xlsx")
    lim = WorkbookLimits(max_cells=10**12, reader_memory_bytes=1 << 30)
    with pytest.raises(LimitExceededError, match=r"sparse\.xlsx: reading the workbook ran out"):
        read_workbook_headers(f, limits=lim)
    with pytest.raises(LimitExceededError, match="LEVELFIELD_READER_MEMORY_MB"):
        convert_sheet(f, 0, [0], tmp_path / "out.parquet", limits=lim)
    assert not (tmp_path / "out.parquet").exists()


def test_cli_with_raised_cell_limit_still_exits_1(tmp_path: Path) -> None:
    f = sparse_xlsx(tmp_path / "sparse.xlsx")
    res = _cli(
        "import",
        "orders",
        str(f),
        "-w",
        str(tmp_path / "w.duckdb"),
        env={"LEVELFIELD_MAX_CELLS": "1e12", "LEVELFIELD_READER_MEMORY_MB": "1024"},
    )
    assert res.returncode == 1, res.stderr[-2000:]
    assert "ran out of memory" in res.stderr
    assert "memory allocation" not in res.stderr  # the child's allocator noise is silenced


def test_import_of_hostile_workbook_changes_nothing(ws: Workspace, tmp_path: Path) -> None:
    before = counts(ws)
    with pytest.raises(LimitExceededError):
        import_file(ws, "orders", sparse_xlsx(tmp_path / "s.xlsx"))
    assert counts(ws) == before


def test_extent_matches_openpyxl_on_real_workbook() -> None:
    f = DATA / "woocommerce_order_export.xlsx"
    ext = check_workbook(f)
    wb = openpyxl.load_workbook(f, read_only=True)
    assert [s.name for s in ext.sheets] == wb.sheetnames
    for s in ext.sheets:
        ws = wb[s.name]
        assert (s.last_row, s.last_column) == (ws.max_row, ws.max_column)
    assert ext.unzipped_bytes == sum(i.file_size for i in zipfile.ZipFile(f).infolist())


def test_dimension_is_reported_but_cells_decide(tmp_path: Path) -> None:
    # calamine sizes its grid from the cells, not from <dimension>; a stale dimension
    # (some writers leave one) must not refuse a small sheet.
    f = write_xlsx(
        tmp_path / "d.xlsx",
        sheet_xml([("A1", "a"), ("B2", "b")], dimension="A1:XFD1048576"),
    )
    ext = check_workbook(f)
    (s,) = ext.sheets
    assert s.dimension == "A1:XFD1048576"
    assert (s.rows, s.columns, s.last_cell) == (2, 2, "B2")


def test_rows_per_upload_cap(ws: Workspace, tmp_path: Path) -> None:
    f = tall_xlsx(tmp_path / "tall.xlsx", 300)
    with pytest.raises(
        LimitExceededError, match=r"301 rows.*limit of 100 rows.*LEVELFIELD_MAX_ROWS"
    ):
        check_workbook(f, WorkbookLimits(max_rows=100))
    assert check_workbook(f).rows == 301
    s = import_file(ws, "orders", f)
    assert s.rows_loaded == 300


def test_rows_cap_from_environment(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEVELFIELD_MAX_ROWS", "50")
    before = counts(ws)
    with pytest.raises(LimitExceededError, match="tall.xlsx: its sheets hold 101 rows"):
        import_file(ws, "orders", tall_xlsx(tmp_path / "tall.xlsx", 100))
    assert counts(ws) == before


def test_zip_bomb_ratio_is_refused_from_the_directory(tmp_path: Path) -> None:
    f = write_xlsx(
        tmp_path / "bomb.xlsx",
        sheet_xml([("A1", "a")]),
        extra={"xl/media/pad.bin": b"\0" * (40 << 20)},
    )
    assert f.stat().st_size < 200_000
    with pytest.raises(LimitExceededError, match=r"bomb\.xlsx: it unpacks .* times larger"):
        check_workbook(f)
    with pytest.raises(LimitExceededError, match="LEVELFIELD_MAX_UNZIPPED_MB"):
        check_workbook(f, WorkbookLimits(max_unzipped_bytes=10 << 20, max_ratio=10**6))


def test_sheet_stream_stops_at_unzipped_limit(tmp_path: Path) -> None:
    # A directory that under-states the size cannot fool the streamed count: here the
    # sheet itself is larger than the limit.
    f = tall_xlsx(tmp_path / "tall.xlsx", 20_000)
    size = zipfile.ZipFile(f).getinfo("xl/worksheets/sheet1.xml").file_size
    lim = WorkbookLimits(max_unzipped_bytes=size + 10_000)
    assert check_workbook(f, lim).unzipped_bytes > size
    with pytest.raises(LimitExceededError, match="unpacks to"):
        check_workbook(f, WorkbookLimits(max_unzipped_bytes=size // 2))


def test_damaged_zip_and_beyond_excel_references(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 200)
    with pytest.raises(DataError, match="bad.xlsx"):
        check_workbook(bad)
    beyond = write_xlsx(tmp_path / "b.xlsx", sheet_xml([("A1", "a"), ("XFE1", "b")]))
    with pytest.raises(DataError, match="beyond Excel's last cell"):
        check_workbook(beyond)


def test_limits_from_env_and_bad_values() -> None:
    lim = WorkbookLimits.from_env(
        {
            "LEVELFIELD_MAX_CELLS": "1,000",
            "LEVELFIELD_MAX_UNZIPPED_MB": "2",
            "LEVELFIELD_MAX_ZIP_RATIO": "7.5",
        }
    )
    assert (lim.max_cells, lim.max_unzipped_bytes, lim.max_ratio) == (1000, 2 << 20, 7.5)
    assert WorkbookLimits.from_env({}) == WorkbookLimits()
    with pytest.raises(ConfigError, match="LEVELFIELD_MAX_ROWS='many'"):
        WorkbookLimits.from_env({"LEVELFIELD_MAX_ROWS": "many"})
    with pytest.raises(ConfigError, match="positive"):
        WorkbookLimits(max_cells=0)
    with pytest.raises(ConfigError, match="positive"):
        WorkbookLimits.from_env({"LEVELFIELD_READER_CPU_SECONDS": "-1"})


@pytest.mark.parametrize(("letters", "number"), [("A", 1), ("Z", 26), ("AA", 27), ("XFD", 16384)])
def test_column_letters_round_trip(letters: str, number: int) -> None:
    assert column_number(letters) == number
    assert column_letters(number) == letters


def test_far_cell_hidden_mid_sheet_is_stopped_by_the_reader_limit(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The streamed check reads references at the ends of each 1 MB block only; a far
    # cell in the middle of a block is left to the child process's memory limit.
    cells = [("A1", "order_id"), ("B1", "total")]
    for i in range(2, 40_002):
        cells += [(f"A{i}", f"o{i}"), (f"B{i}", "9.50")]
    cells.insert(40_000, ("XFD20001", "far"))
    f = write_xlsx(tmp_path / "hidden.xlsx", sheet_xml(cells))
    monkeypatch.setenv("LEVELFIELD_READER_MEMORY_MB", "1024")
    before = counts(ws)
    with pytest.raises(LimitExceededError, match=r"hidden\.xlsx: reading the workbook ran out"):
        import_file(ws, "orders", f)
    assert counts(ws) == before
