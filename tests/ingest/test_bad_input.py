"""Bad input: each case gets a clear error or a reject, and a failed import leaves the
workspace's row counts exactly as they were."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from ingest_helpers import DATA, counts, write

from levelfield import Workspace
from levelfield.errors import (
    AmbiguousDateError,
    ConfigError,
    DataError,
    RejectThresholdError,
    SchemaError,
)
from levelfield.ingest import import_file

HEADER = "order_id,ordered_at,customer_id,product,quantity,unit_price\n"


@pytest.fixture
def seeded(ws: Workspace) -> Workspace:
    """A workspace that already holds an import, so 'unchanged' is not trivially 0."""
    import_file(ws, "orders", DATA / "shopify_orders_2023.csv")
    return ws


def fails_unchanged(ws: Workspace, exc: type[Exception], path: Path, **kw: object) -> str:
    before = counts(ws)
    with pytest.raises(exc) as err:
        import_file(ws, "orders", path, **kw)  # type: ignore[arg-type]
    assert counts(ws) == before
    return str(err.value)


def test_empty_file(seeded: Workspace, tmp_path: Path) -> None:
    msg = fails_unchanged(seeded, DataError, write(tmp_path / "orders.csv", ""))
    assert "orders.csv is empty" in msg


def test_blank_lines_only(seeded: Workspace, tmp_path: Path) -> None:
    fails_unchanged(seeded, DataError, write(tmp_path / "orders.csv", "\n\n  \n"))


def test_header_only(seeded: Workspace, tmp_path: Path) -> None:
    msg = fails_unchanged(seeded, DataError, write(tmp_path / "orders.csv", HEADER))
    assert "only a header" in msg


def test_wrong_delimiter_between_header_and_rows(seeded: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "o.csv", HEADER + "A1;2024-01-05;c1;Tea;1;2.50\nA2;2024-01-06;c2;Tea;1;2.50\n"
    )
    msg = fails_unchanged(seeded, DataError, f)
    assert "delimiter" in msg


def test_semicolon_file_with_decimal_comma(ws: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "o.csv",
        HEADER.replace(",", ";") + "A1;2024-01-05;c1;Tea;2;2,50\nA2;2024-01-06;c2;Tea;1;1.234,50\n",
    )
    s = import_file(ws, "orders", f, currency="EUR")
    assert s.rows_loaded == 2
    assert s.revenue == {"EUR": Decimal("1239.5000")}
    assert any("decimal comma" in n for n in s.notes)


def test_latin1_accents_and_windows_1252_euro(ws: Workspace, tmp_path: Path) -> None:
    text = (
        HEADER.replace(",", ";")
        + "A1;05.01.2024;c1;Crème brûlée;1;€12,50\nA2;17.01.2024;c2;Café;2;€3,00\n"
    )
    f = write(tmp_path / "o.csv", text, encoding="cp1252")
    assert b"\x80" in f.read_bytes()  # the euro sign DuckDB's latin-1 rejects
    s = import_file(ws, "orders", f)
    assert s.revenue == {"EUR": Decimal("18.5000")}
    names = {r[0] for r in ws.con.execute("SELECT product FROM order_lines").fetchall()}
    assert names == {"Crème brûlée", "Café"}
    assert any("windows-1252" in n for n in s.notes)


def test_utf8_bom(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "o.csv"
    f.write_bytes(b"\xef\xbb\xbf" + (HEADER + "A1,2024-01-05,c1,Tea,1,2.50\n").encode())
    s = import_file(ws, "orders", f)
    assert (s.profile, s.rows_loaded) == ("generic", 1)


def test_thousands_separators_and_currency_symbols(ws: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "o.csv",
        "order_id,ordered_at,gross,discount\n"
        'A1,2024-01-05,"$1,149.00 ",(33.62)\n'
        'A2,2024-01-06,"USD 2,000.50",0\n'
        "A3,2024-01-07,-$9.00,\n",
    )
    import_file(ws, "orders", f)
    got = dict(ws.con.execute("SELECT order_id, gross FROM orders").fetchall())
    assert got == {"A1": Decimal("1149.0000"), "A2": Decimal("2000.5000"), "A3": Decimal("-9.0000")}
    # accounting negative "(33.62)" is a discount of 33.62 (discounts are stored >= 0)
    assert ws.con.execute("SELECT discount FROM orders WHERE order_id = 'A1'").fetchall() == [
        (Decimal("33.6200"),)
    ]


def test_not_a_number_suggests_decimal_comma(seeded: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "orders.csv", HEADER + 'A1,2024-01-05,c1,Tea,1,"12,50"\n')
    msg = fails_unchanged(seeded, RejectThresholdError, f, decimal_comma=False)
    assert (
        'orders.csv row 2, column "unit_price": "12,50" is not a number; pass --decimal-comma'
        in msg
    )


def test_unparseable_date_is_rejected_with_row_and_column(ws: Workspace, tmp_path: Path) -> None:
    rows = "".join(f"A{i},2024-01-{i % 28 + 1:02d},c{i},Tea,1,2.50\n" for i in range(200))
    f = write(tmp_path / "orders.csv", HEADER + rows + "B1,yesterday,c1,Tea,1,2.50\n")
    s = import_file(ws, "orders", f)
    assert (s.rows_loaded, s.rows_rejected) == (200, 1)
    rej = ws.con.execute('SELECT row_number, "column", value, reason FROM rejects').fetchall()
    assert rej == [
        (202, "ordered_at", "yesterday", "not a date in the column's format; pass --date-format")
    ]


def test_too_many_rejects_fail_and_change_nothing(seeded: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "orders.csv", HEADER + "A1,2024-01-05,c1,Tea,1,2.50\nB1,soon,c1,Tea,1,2.50\n"
    )
    msg = fails_unchanged(seeded, RejectThresholdError, f)
    assert "1 of 2 rows" in msg
    assert "--max-reject-rate" in msg


def test_ambiguous_dates_ask_for_dayfirst(seeded: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "orders.csv",
        HEADER + "A1,03/04/2024,c1,Tea,1,2.50\nA2,05/06/2024,c2,Tea,1,2.50\n",
    )
    msg = fails_unchanged(seeded, AmbiguousDateError, f)
    assert "--dayfirst" in msg
    assert "03/04/2024" in msg
    import_file(seeded, "orders", f, dayfirst=True)
    got = seeded.con.execute("SELECT ordered_at FROM orders WHERE order_id = 'A1'").fetchall()
    assert str(got[0][0]) == "2024-04-03 00:00:00"


def test_day_month_order_decided_from_whole_column(ws: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "orders.csv",
        HEADER + "A1,03/04/2024,c1,Tea,1,2.50\nA2,25/06/2024,c2,Tea,1,2.50\n",
    )
    import_file(ws, "orders", f)
    got = ws.con.execute("SELECT ordered_at FROM orders WHERE order_id = 'A1'").fetchall()
    assert str(got[0][0]) == "2024-04-03 00:00:00"


def test_date_format_option(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "orders.csv", HEADER + "A1,2024.04.03,c1,Tea,1,2.50\n")
    import_file(ws, "orders", f, date_format="%Y.%d.%m")
    got = ws.con.execute("SELECT ordered_at FROM orders").fetchall()
    assert str(got[0][0]) == "2024-03-04 00:00:00"


def test_mixed_date_formats(ws: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "orders.csv",
        HEADER
        + "A1,2024-01-05 10:00:00,c1,Tea,1,2.50\nA2,17/01/2024,c2,Tea,1,2.50\n"
        + "A3,2024-01-20T08:00:00Z,c3,Tea,1,2.50\nA4,20240121,c4,Tea,1,1\n",
    )
    s = import_file(ws, "orders", f)
    assert s.rows_rejected == 0
    got = dict(
        ws.con.execute("SELECT order_id, CAST(ordered_at AS VARCHAR) FROM orders").fetchall()
    )
    assert got == {
        "A1": "2024-01-05 10:00:00",
        "A2": "2024-01-17 00:00:00",
        "A3": "2024-01-20 08:00:00",
        "A4": "2024-01-21 00:00:00",
    }


def test_duplicate_header_names(seeded: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "orders.csv", "order_id,ordered_at,gross,gross\nA1,2024-01-05,1,2\n")
    msg = fails_unchanged(seeded, SchemaError, f)
    assert 'column "gross" appears 2 times' in msg


def test_missing_required_column_lists_found_and_expected(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "suppliers.csv", "name,country\nAcme,DE\n")
    before = counts(ws)
    with pytest.raises(SchemaError) as err:
        import_file(ws, "suppliers", f)
    assert "missing required column(s) supplier_id" in str(err.value)
    assert "Columns found: name, country" in str(err.value)
    assert "Expected: supplier_id (required), name" in str(err.value)
    assert counts(ws) == before


def test_zero_price_loads_negative_price_is_rejected(ws: Workspace, tmp_path: Path) -> None:
    rows = "".join(f"A{i},2024-01-05,c1,Tea,1,2.50\n" for i in range(150))
    f = write(
        tmp_path / "orders.csv",
        HEADER + rows + "Z1,2024-01-05,c1,Sample,1,0\nN1,2024-01-05,c1,Bad,1,-5\n",
    )
    s = import_file(ws, "orders", f)
    assert s.rows_rejected == 1
    assert s.top_reasons[0][0].startswith("a negative price on a sale row")
    assert ws.con.execute("SELECT gross FROM orders WHERE order_id = 'Z1'").fetchall() == [
        (Decimal("0.0000"),)
    ]


def test_absurd_values_are_rejected(seeded: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "orders.csv",
        HEADER + "A1,2024-01-05,c1,Tea,1,1e15\nA2,2024-01-05,c1,Tea,1,1000000000000000\n",
    )
    msg = fails_unchanged(seeded, RejectThresholdError, f)
    assert "implausibly large" in msg


def test_truncated_last_line(ws: Workspace, tmp_path: Path) -> None:
    rows = "".join(f"A{i},2024-01-05,c1,Tea,1,2.50\n" for i in range(99))
    f = write(tmp_path / "orders.csv", HEADER + rows + 'B1,2024-01-05,"c1')
    before = counts(ws)
    with pytest.raises(RejectThresholdError, match="1 of 100 rows"):
        import_file(ws, "orders", f, max_reject_rate=0.005)
    assert counts(ws) == before
    s = import_file(ws, "orders", f, max_reject_rate=0.02)
    assert (s.rows_loaded, s.rows_rejected) == (99, 1)
    assert "truncated" in s.top_reasons[0][0]


def test_binary_file_renamed_csv(seeded: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "orders.csv"
    f.write_bytes(bytes(range(256)) * 40)
    msg = fails_unchanged(seeded, DataError, f)
    assert "binary" in msg
    png = tmp_path / "photo.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert "PNG image" in fails_unchanged(seeded, DataError, png)


def test_xlsx_with_several_sheets(ws: Workspace, tmp_path: Path) -> None:
    # The fixture has an "Orders" sheet and a "Notes" sheet: the one that fits is used.
    s = import_file(ws, "orders", DATA / "woocommerce_order_export.xlsx")
    assert s.rows_loaded == 3
    src = openpyxl.load_workbook(DATA / "woocommerce_order_export.xlsx")
    wb = openpyxl.Workbook()
    for title in ("Jan", "Feb"):
        sheet = wb.create_sheet(title)
        for row in src["Orders"].iter_rows(values_only=True):
            sheet.append(list(row))
    del wb["Sheet"]
    two = tmp_path / "two.xlsx"
    wb.save(two)
    before = counts(ws)
    with pytest.raises(SchemaError, match="'Jan', 'Feb'.*--sheet"):
        import_file(ws, "orders", two)
    assert counts(ws) == before
    with pytest.raises(SchemaError, match="no sheet 'Mar'"):
        import_file(ws, "orders", two, sheet="Mar")
    assert import_file(ws, "orders", two, sheet="Feb").rows_loaded == 3


def test_refunds_as_negative_quantities(ws: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "orders.csv",
        HEADER
        + "A1,2024-01-05,c1,Tea,2,2.50\nA1,2024-01-09,c1,Tea,-1,2.50\nR9,2024-01-10,c2,Tea,-1,4\n",
    )
    s = import_file(ws, "orders", f)
    got = {
        r[0]: r[1:]
        for r in ws.con.execute("SELECT order_id, gross, status, refund_of FROM orders").fetchall()
    }
    assert got["A1"] == (Decimal("5.0000"), "paid", None)
    assert got["A1:refund"] == (Decimal("-2.5000"), "refund", "A1")
    assert got["R9"] == (Decimal("-4.0000"), "refund", None)
    assert s.revenue == {"USD": Decimal("-1.5000")}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"max_reject_rate": -0.1}, "max-reject-rate"),
        ({"max_reject_rate": "lots"}, "max-reject-rate"),
        ({"currency": "EURO"}, "3-letter"),
        ({"profile": "myspace"}, "unknown profile"),
        ({"mapping": ["Invoice"]}, "column=field"),
        ({"date_format": "dd/mm/yyyy"}, "% codes"),
    ],
)
def test_bad_options(ws: Workspace, kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        import_file(ws, "orders", DATA / "shopify_orders_2023.csv", **kw)  # type: ignore[arg-type]


def test_bad_kind_and_paths(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown kind"):
        import_file(ws, "customers", DATA / "shopify_orders_2023.csv")
    with pytest.raises(DataError, match="no such file"):
        import_file(ws, "orders", tmp_path / "missing.csv")
    with pytest.raises(DataError, match="folder"):
        import_file(ws, "orders", tmp_path)
    assert counts(ws)["imports"] == 0
