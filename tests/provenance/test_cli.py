"""``levelfield provenance ...`` end to end: add, list, show, export, verify, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from levelfield.cli import app
from levelfield.provenance import _cli

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cli, "console", Console(width=200))
    monkeypatch.setattr(_cli, "err_console", Console(width=200, stderr=True))


def _ok(*args: str) -> str:
    out = runner.invoke(app, list(args))
    assert out.exit_code == 0, out.output
    return out.output


def test_cli_add_list_export_verify(tmp_path: Path) -> None:
    ws = str(tmp_path / "shop.duckdb")
    _ok("init", ws)
    cert = tmp_path / "ft.pdf"
    cert.write_bytes(b"certificate")
    _ok(
        "provenance",
        "add",
        "lot",
        "G1",
        "--product",
        "Green Huila",
        "--quantity",
        "60",
        "--unit",
        "kg",
        "--date",
        "2025-02-01",
        "--country",
        "CO",
        "--producer",
        "El Mirador",
        "-w",
        ws,
    )
    _ok(
        "provenance",
        "add",
        "lot",
        "G2",
        "--product",
        "Green Sidama",
        "--quantity",
        "40",
        "--unit",
        "kg",
        "--date",
        "2025-02-03",
        "--country",
        "ET",
        "-w",
        ws,
    )
    _ok(
        "provenance",
        "add",
        "certificate",
        "FT-1",
        str(cert),
        "--scheme",
        "Fairtrade",
        "--lot",
        "G1",
        "-w",
        ws,
    )
    _ok(
        "provenance",
        "add",
        "transform",
        "R1",
        "--process",
        "roast",
        "--input",
        "G1=30",
        "--input",
        "G2=20",
        "--product",
        "Blend",
        "--quantity",
        "42",
        "--unit",
        "kg",
        "--date",
        "2025-02-10",
        "--sku",
        "HB",
        "-w",
        ws,
    )
    _ok(
        "provenance",
        "add",
        "shipment",
        "R1",
        "--channel",
        "shop",
        "--quantity",
        "5",
        "--date",
        "2025-02-11",
        "-w",
        ws,
    )
    listing = _ok("provenance", "list", "-w", ws)
    assert "G1" in listing and "roast" in listing and "FT-1" in listing
    assert "CO, ET" in _ok("provenance", "show", "R1", "-w", ws)
    key_out = _ok("provenance", "key", "-w", ws)
    assert "active" in key_out
    out = _ok(
        "provenance",
        "export",
        "R1",
        "-o",
        str(tmp_path / "pub" / "R1.html"),
        "--url",
        "https://shop.example/R1.html",
        "-w",
        ws,
    )
    assert "QR code points at https://shop.example/R1.html#key=" in out
    page = tmp_path / "pub" / "R1.html"
    assert "verified: lot R1" in _ok("provenance", "verify", str(page))
    assert "verified" in _ok("provenance", "verify", str(page.with_suffix(".json")))
    assert "log intact" in _ok("provenance", "audit", "-w", ws)

    doc = json.loads(page.with_suffix(".json").read_text())
    doc["entries"][1]["body"] = doc["entries"][1]["body"].replace('"ET"', '"KE"')
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    out = runner.invoke(app, ["provenance", "verify", str(forged)])
    assert out.exit_code == 1
    assert "NOT verified: entry #2: lot G2 is not in the signed log" in out.output
    out = runner.invoke(app, ["provenance", "verify", str(page), "--key", "ab" * 32])
    assert out.exit_code == 1 and "not by the expected key" in out.output


def test_cli_user_mistakes_are_friendly(tmp_path: Path) -> None:
    ws = str(tmp_path / "shop.duckdb")
    _ok("init", ws)
    cases = [
        [
            "provenance",
            "add",
            "transform",
            "R1",
            "--process",
            "roast",
            "--input",
            "G1",
            "--product",
            "x",
            "--quantity",
            "1",
            "--unit",
            "kg",
            "--date",
            "2025-01-01",
            "-w",
            ws,
        ],
        [
            "provenance",
            "add",
            "shipment",
            "NOPE",
            "--channel",
            "shop",
            "--quantity",
            "1",
            "--date",
            "2025-01-01",
            "-w",
            ws,
        ],
        [
            "provenance",
            "add",
            "lot",
            "G1",
            "--product",
            "x",
            "--quantity",
            "1",
            "--unit",
            "kg",
            "--date",
            "yesterday",
            "-w",
            ws,
        ],
        ["provenance", "show", "NOPE", "-w", ws],
        ["provenance", "verify", str(tmp_path / "missing.html")],
        ["provenance", "list", "-w", str(tmp_path / "none.duckdb")],
    ]
    for args in cases:
        out = runner.invoke(app, args)
        assert out.exit_code == 1, (args, out.output)
        assert "Traceback" not in out.output and "Error: " in out.output, out.output


def test_lots_table_aligns_amounts_and_joins_the_known_origin() -> None:
    frame = pd.DataFrame(
        {
            "lot": ["G-1", "R-1"],
            "product": ["green coffee", "roast"],
            "quantity": [60.0, 25.5],
            "unit": ["kg", "kg"],
            "used": [30.0, 0.0],
            "made_by": ["", "roast"],
            "producer": ["Finca Alta", None],
            "country": ["Peru", None],
            "certificates": ["FT-1", ""],
        }
    )
    table = _cli._lots_table(frame)
    assert [c.header for c in table.columns] == [
        "lot",
        "product",
        "quantity",
        "used",
        "made by",
        "origin",
        "certificates",
    ]
    assert [c.justify for c in table.columns][2:4] == ["right", "right"]
    cells = [list(c.cells) for c in table.columns]
    assert cells[2] == ["60 kg", "25.5 kg"] and cells[3] == ["30", "0"]
    assert cells[4] == ["", "roast"] and cells[5] == ["Finca Alta, Peru", ""]
