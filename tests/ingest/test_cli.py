"""``levelfield import`` and ``levelfield template`` on the command line."""

from __future__ import annotations

from pathlib import Path

from ingest_helpers import DATA
from typer.testing import CliRunner

from levelfield.cli import app

runner = CliRunner()


def test_import_prints_profile_rows_dates_revenue(tmp_path: Path) -> None:
    ws = tmp_path / "w.duckdb"
    res = runner.invoke(
        app, ["import", "orders", str(DATA / "shopify_orders_2023.csv"), "-w", str(ws)]
    )
    assert res.exit_code == 0, res.output
    assert "Shopify orders export (2023+ layout, 79 columns)" in res.output
    assert "Rows: 5 read, 5 loaded, 0 rejected" in res.output
    assert "Dates: 2023-03-25 to 2023-10-30" in res.output
    assert "EUR 54.50" in res.output
    again = runner.invoke(
        app, ["import", "orders", str(DATA / "shopify_orders_2023.csv"), "-w", str(ws)]
    )
    assert "Already imported" in again.output


def test_import_generic_with_map_and_options(tmp_path: Path) -> None:
    ws = tmp_path / "w.duckdb"
    res = runner.invoke(
        app,
        [
            "import",
            "orders",
            str(DATA / "wholesale_invoices.csv"),
            "--map",
            "Invoice=order_id",
            "--map",
            "Client=customer",
            "--map",
            "Invoice Date=ordered_at",
            "--map",
            "Qty=quantity",
            "--map",
            "Unit Price=unit_price",
            "--channel",
            "wholesale",
            "--currency",
            "EUR",
            "--workspace",
            str(ws),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "generic" in res.output
    assert "EUR 405.00" in res.output


def test_bad_input_exit_1_no_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "orders.csv"
    empty.write_text("")
    res = runner.invoke(app, ["import", "orders", str(empty), "-w", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 1
    assert "DataError: orders.csv is empty" in res.output
    assert "Traceback" not in res.output
    ambiguous = tmp_path / "amb.csv"
    ambiguous.write_text("order_id,ordered_at,gross\nA,01/02/2024,1\nB,03/04/2024,2\n")
    res = runner.invoke(app, ["import", "orders", str(ambiguous), "-w", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 1
    assert "AmbiguousDateError" in res.output
    ok = runner.invoke(
        app, ["import", "orders", str(ambiguous), "--monthfirst", "-w", str(tmp_path / "w.duckdb")]
    )
    assert ok.exit_code == 0, ok.output


def test_unknown_kind_is_config_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["template", "invoices"])
    assert res.exit_code == 1
    assert "ConfigError: unknown kind 'invoices'" in res.output


def test_template_prints_header_and_example() -> None:
    res = runner.invoke(app, ["template", "suppliers"])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert lines[0] == "supplier_id,name,country,annual_spend,currency,lead_time_days,alternatives"
    assert len(lines) == 2
