"""Bad currency input stops the import, names file, row and column, and leaves nothing
half-imported (issue 25, item 5): an unknown currency code, an amount whose symbol says
another currency than its row, an order with no exchange rate to the base currency."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from levelfield.cli import app
from levelfield.errors import DataError, ParseError, UnknownReferenceError
from levelfield.ingest import import_file
from levelfield.ingest._currency import symbol_currencies
from levelfield.workspace import Workspace, open_workspace

GOOD = [("G1", "2024-06-03", "USD", "100.00"), ("G2", "2024-06-04", "USD", "80.00")]


def _csv(
    path: Path, rows: list[tuple[str, ...]], header: str = "order_id,date,currency,total"
) -> Path:
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


def _state(ws: Workspace) -> tuple[int, int, int, int]:
    q = (
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_details), "
        "(SELECT count(*) FROM imports), (SELECT count(*) FROM rejects)"
    )
    return tuple(int(v) for v in ws.con.execute(q).fetchall()[0])  # type: ignore[return-value]


def _fails_atomically(
    ws: Workspace, bad: Path, error: type[Exception], *parts: str, **options: str
) -> str:
    import_file(ws, "orders", _csv(bad.parent / "good.csv", GOOD))
    before = _state(ws)
    with pytest.raises(error) as info:
        import_file(ws, "orders", bad, **options)  # type: ignore[arg-type]
    message = str(info.value)
    for part in parts:
        assert part in message, message
    assert "nothing was imported" in message
    assert _state(ws) == before
    return message


def test_unknown_currency_code_names_row_and_column(ws: Workspace, tmp_path: Path) -> None:
    bad = _csv(
        tmp_path / "orders.csv",
        [("B1", "2024-06-05", "USD", "10.00"), ("B2", "2024-06-05", "US$", "12.00")],
    )
    _fails_atomically(
        ws,
        bad,
        UnknownReferenceError,
        'orders.csv row 3, column "currency": "US$" is not an ISO 4217 currency code',
        "write the three-letter code",
    )


def test_unknown_currency_option_is_refused(ws: Workspace, tmp_path: Path) -> None:
    bad = _csv(tmp_path / "orders.csv", [("B1", "2024-06-05", "10.00")], "order_id,date,total")
    with pytest.raises(UnknownReferenceError, match='"ZZZ" \\(--currency ZZZ\\) is not an ISO'):
        import_file(ws, "orders", bad, currency="ZZZ")
    assert _state(ws) == (0, 0, 0, 0)


def test_euro_amount_on_a_dollar_row_is_refused(ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text(
        'order_id,date,currency,total\nB1,2024-06-05,USD,"$10.00"\nB2,2024-06-05,USD,"€12.00"\n'
        'B3,2024-06-06,USD,"€1,00"\n',
        encoding="utf-8",
    )
    _fails_atomically(
        ws,
        bad,
        ParseError,
        'orders.csv row 3, column "total": "€12.00" carries the sign of another currency '
        'than the row\'s currency (column "currency"), USD (2 rows like this)',
        "correct the amount or the currency column",
    )


def test_iso_code_in_the_amount_contradicting_the_row(ws: Workspace, tmp_path: Path) -> None:
    bad = _csv(tmp_path / "orders.csv", [("B1", "2024-06-05", "GBP", "12.00 EUR")])
    _fails_atomically(ws, bad, ParseError, 'row 2, column "total": "12.00 EUR"', "GBP")


def test_symbols_against_the_currency_option(ws: Workspace, tmp_path: Path) -> None:
    bad = _csv(tmp_path / "orders.csv", [("B1", "2024-06-05", "£12.00")], "order_id,date,total")
    _fails_atomically(
        ws,
        bad,
        ParseError,
        "the file's currency (--currency USD), USD",
        "with --currency",
        currency="USD",
    )


def test_symbols_that_agree_are_imported(ws: Workspace, tmp_path: Path) -> None:
    ok = tmp_path / "orders.csv"
    ok.write_text(
        'order_id,date,currency,total\nA1,2024-06-05,CAD,"$10.00"\nA2,2024-06-05,EUR,"€12.50"\n'
        'A3,2024-06-05,GBP,"£7.00"\nA4,2024-06-05,USD,"9.00 USD"\nA5,2024-06-05,USD,"$1,200.00"\n',
        encoding="utf-8",
    )
    assert import_file(ws, "orders", ok).rows_loaded == 5
    got = dict(ws.con.execute("SELECT order_id, gross FROM orders").fetchall())
    assert got["A2"] == Decimal("12.5") and got["A5"] == Decimal("1200")


def test_symbol_families_come_from_cldr() -> None:
    fam = symbol_currencies()
    assert fam["€"] == {"EUR"}
    assert {"USD", "CAD", "AUD", "MXN", "BRL"} <= fam["$"] and "EUR" not in fam["$"]
    assert {"JPY", "CNY"} <= fam["¥"] and "GBP" in fam["£"]


def test_date_before_the_ecb_history_needs_the_owners_rate(ws: Workspace, tmp_path: Path) -> None:
    bad = _csv(tmp_path / "orders.csv", [("B1", "1998-06-05", "GBP", "10.00")])
    msg = _fails_atomically(
        ws,
        bad,
        DataError,
        'orders.csv row 2, column "date": the order of 1998-06-05 in GBP is outside the ECB '
        "rate history",
        "levelfield import fx_rates FILE",
    )
    assert "from 1999-01-04" in msg
    # With the owner's rate for that date the same file imports.
    rates = _csv(tmp_path / "rates.csv", [("1998-06-05", "GBP", "1.64")], "date,currency,rate")
    import_file(ws, "fx_rates", rates)
    import_file(ws, "orders", bad)
    got = ws.con.execute(
        "SELECT fx_source, net_revenue_base FROM order_revenue WHERE order_id = 'B1'"
    ).fetchall()
    assert got == [("bank", Decimal("16.4000"))]


def test_currency_the_ecb_does_not_publish(ws: Workspace, tmp_path: Path) -> None:
    bad = _csv(tmp_path / "orders.csv", [("B1", "2024-06-05", "ARS", "10.00")])
    _fails_atomically(
        ws,
        bad,
        DataError,
        'orders.csv row 2, column "currency": no exchange rate from ARS to the base '
        "currency USD on 2024-06-05 (the ECB publishes no reference rate for ARS",
    )


def test_fx_rates_file_with_an_unknown_code_is_refused(ws: Workspace, tmp_path: Path) -> None:
    rates = _csv(tmp_path / "rates.csv", [("2024-06-05", "GBX", "1.2")], "date,currency,rate")
    with pytest.raises(DataError, match='rates.csv row 2, column "currency": "GBX" is not an ISO'):
        import_file(ws, "fx_rates", rates)
    assert ws.con.execute("SELECT count(*) FROM fx_rates").fetchall()[0][0] == 0


@pytest.mark.parametrize(
    ("rows", "header", "extra", "head"),
    [
        ([("B1", "2024-06-05", "EURO", "1.00")], None, [], "UnknownReferenceError: "),
        ([("B1", "2024-06-05", "USD", "€1.00")], None, [], "ParseError: "),
        ([("B1", "1990-01-02", "CAD", "1.00")], None, [], "DataError: "),
        ([("B1", "2024-06-05", "1.00")], "order_id,date,total", ["--currency", "ZZZ"], "Unknown"),
    ],
)
def test_cli_exits_1_without_traceback(
    tmp_path: Path, rows: list[tuple[str, ...]], header: str | None, extra: list[str], head: str
) -> None:
    w = str(tmp_path / "w.duckdb")
    runner = CliRunner()
    good = _csv(tmp_path / "good.csv", GOOD)
    assert runner.invoke(app, ["import", "orders", str(good), "-w", w]).exit_code == 0
    bad = _csv(tmp_path / "bad.csv", rows, header or "order_id,date,currency,total")
    out = runner.invoke(app, ["import", "orders", str(bad), "-w", w, *extra], terminal_width=300)
    assert out.exit_code == 1, out.output
    text = " ".join(out.output.split())
    assert text.startswith(head) and "bad.csv" in text, text
    assert "Traceback" not in out.output
    with open_workspace(w) as ws:
        assert _state(ws)[:3] == (2, 2, 1)


def test_file_that_moves_the_base_to_a_currency_without_rates(
    ws: Workspace, tmp_path: Path
) -> None:
    # 100,000 ARS outweighs 180 USD in the base-currency vote (no rate to weigh it by),
    # which would leave the earlier dollar orders without a rate: refused, named.
    bad = _csv(tmp_path / "orders.csv", [("B1", "2024-06-05", "ARS", "100000.00")])
    _fails_atomically(
        ws,
        bad,
        DataError,
        "orders.csv: with this file the base currency becomes ARS",
        "it was USD), and 2 earlier orders in USD have no exchange rate to ARS",
    )
