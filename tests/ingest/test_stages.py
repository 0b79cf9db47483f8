"""The named stages of an import, each tested alone (pure functions, no workspace)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from levelfield.errors import ConfigError, RejectThresholdError, SchemaError, UnknownLayoutError
from levelfield.ingest._competitors import split_shared_name
from levelfield.ingest._dates import _classify_shapes, choose_date_order, plan_dates
from levelfield.ingest._import import (
    _check_options,
    _check_reject_rate,
    _generic_fields,
    _order_plan,
    _Tally,
)
from levelfield.ingest._orders import (
    _MONEY_FIELDS,
    PV,
    ST,
    OrderOptions,
    _create_pv,
    _parse_notes,
    _RowParsing,
    _stage_fields,
    default_currency_of,
)
from levelfield.ingest._profiles import ORDER_PROFILES
from levelfield.ingest._tables import TABLE_SPECS, _table_checks

# --- dates -----------------------------------------------------------------------


def _order(n_slash: int, n_dmy: int, n_mdy: int, **kw: object) -> str | None:
    opts: dict[str, object] = {
        "dayfirst": None,
        "native_order": None,
        "dmy_only": False,
        "mdy_only": False,
    }
    opts.update(kw)
    return choose_date_order(n_slash, n_dmy, n_mdy, **opts)  # type: ignore[arg-type]


def test_date_order_precedence() -> None:
    assert _order(0, 0, 0, dayfirst=False) == "dmy"  # no day/month values: irrelevant
    assert _order(5, 4, 0, dayfirst=False) == "mdy"  # the user's choice beats the data
    assert _order(5, 4, 1, native_order="mdy") == "dmy"  # the data beats the platform
    assert _order(5, 1, 4) == "mdy"
    assert _order(5, 2, 2) == "dmy"  # a tie reads day-first
    assert _order(5, 0, 0, native_order="mdy", dmy_only=True) == "mdy"
    assert _order(5, 0, 0, dmy_only=True) == "dmy"
    assert _order(5, 0, 0, mdy_only=True) == "mdy"
    assert _order(5, 0, 0) is None  # undecidable: the caller raises AmbiguousDateError


def test_classify_shapes_counts_evidence_and_fixed_formats() -> None:
    rows = [
        ("9999-99-99", "2024-03-05", 7, 0, 0),
        ("99/99/9999", "25/03/2024", 4, 3, 0),
        ("9/99/9999", "3/14/2024", 2, 0, 2),
        ("word", "not a date", 1, 0, 0),
    ]
    s = _classify_shapes(rows)
    assert s.fixed == {"9999-99-99": "%Y-%m-%d"}
    assert s.n_slash == 6
    assert (s.n_dmy, s.n_mdy) == (3, 2)
    assert s.dmy["99/99/9999"] == "%d/%m/%Y"
    assert s.mdy["9/99/9999"] == "%m/%d/%Y"
    assert s.example == "25/03/2024"


# --- orders ------------------------------------------------------------------------


def test_default_currency_precedence() -> None:
    shopify = next(p for p in ORDER_PROFILES if p.currency is not None)
    assert default_currency_of("usd", shopify, "GBP", "EUR") == ("USD", "--currency usd")
    assert default_currency_of(None, shopify, "GBP", "EUR")[1] == "the export's currency"
    assert default_currency_of(None, None, "gbp", "EUR") == (
        "GBP",
        "detected from the amounts' signs",
    )
    assert default_currency_of(None, None, None, "eur") == (
        "EUR",
        "the workspace's base currency",
    )


def test_parse_notes_order_and_wording() -> None:
    first, last = _parse_notes([("requires_payment_method", 2), ("canceled", 1)], ["Total"], "dmy")
    assert first == [
        "3 payment attempts without a payment id skipped (requires_payment_method: 2, "
        "canceled: 1): abandoned or unfinished checkouts, not payments"
    ]
    assert last[0].startswith('amounts use a decimal comma (detected in "Total")')
    assert last[1] == "day/month dates read as day-first (DD/MM)"
    assert _parse_notes([("x", 1)], [], None)[0][0].startswith("1 payment attempt without")
    assert _parse_notes([], [], "mdy") == ([], ["day/month dates read as month-first (MM/DD)"])


# --- column plans ------------------------------------------------------------------


def test_generic_fields_map_first_then_names() -> None:
    header = ["Invoice", "Date", "Sum Paid", "Order"]
    fields = _generic_fields("f.csv", header, {"Sum Paid": "total"})
    assert fields["total"] == "Sum Paid"
    assert fields["order_id"] == "Order"  # the alias list decides, not the column order
    assert fields["ordered_at"] == "Date"
    # a reversed mapping (field=Column) is read the right way round
    assert _generic_fields("f.csv", header, {"total": "Sum Paid"})["total"] == "Sum Paid"


def test_generic_fields_bad_mapping_names_the_problem() -> None:
    with pytest.raises(ConfigError, match="'colour' is not an order field"):
        _generic_fields("f.csv", ["A"], {"A": "colour"})
    with pytest.raises(SchemaError, match="f.csv has no column 'Nope'"):
        _generic_fields("f.csv", ["A"], {"Nope": "total"})


def test_order_plan_unknown_layout_lists_what_is_missing() -> None:
    with pytest.raises(UnknownLayoutError) as e:
        _order_plan("f.csv", ["Order", "Colour"], "csv", None, {})
    msg = str(e.value)
    assert "lacks ordered_at, an amount" in msg
    assert "order_id" not in msg.split("lacks")[1].split(".")[0]
    assert "--map" in msg


def test_check_options_rejects_bad_values() -> None:
    _check_options("orders", None, 0.05, "EUR", "shop-1", "%d.%m.%Y")
    for args, match in [
        (("nope", None, 0.01, None, None, None), "unknown kind"),
        (("products", "shopify", 0.01, None, None, None), "orders only"),
        (("orders", None, True, None, None, None), "must be a number"),
        (("orders", None, 1.5, None, None, None), "from 0 to 1"),
        (("orders", None, 0.01, "EURO", None, None), "3-letter"),
        (("orders", None, 0.01, None, "a:b", None), "without ':'"),
        (("orders", None, 0.01, None, None, "dd.mm"), "no % codes"),
    ]:
        with pytest.raises(ConfigError, match=match):
            _check_options(*args)  # type: ignore[arg-type]


def test_reject_rate_threshold() -> None:
    ok = _Tally(rows_in=200, rejected=2, top=[("bad", 2)], examples=[])
    _check_reject_rate("f.csv", ok, 0.01)  # 1 % allowed, 1 % rejected
    over = _Tally(rows_in=200, rejected=3, top=[("bad", 3)], examples=[(5, "Total", "x", "odd")])
    with pytest.raises(RejectThresholdError, match=r"3 of 200 rows \(1.5%\).*bad \(3\)"):
        _check_reject_rate("f.csv", over, 0.01)
    every = _Tally(rows_in=1, rejected=1, top=[("bad", 1)], examples=[])
    with pytest.raises(RejectThresholdError):
        _check_reject_rate("f.csv", every, 1.0)  # all rows rejected never imports


def test_table_checks_required_first_in_reverse_spec_order() -> None:
    spec = TABLE_SPECS["fx_rates"]
    columns = {c.name: i for i, c in enumerate(spec.cols)}
    first, last = _table_checks(spec, columns, {})
    required = [c.name for c in spec.cols if c.required]
    assert [f for _, f, _ in first] == required[::-1]
    assert [f for _, f, _ in last] == ["rate"]


# --- competitors -------------------------------------------------------------------


def test_split_shared_name_by_telling_attribute_merge_or_number() -> None:
    renames, kept, merged = split_shared_name(
        "blackrocks", "Blackrocks", [3, 9], [{"state": "MI"}, {"state": "MA"}], ["state"]
    )
    assert [r[0] for r in renames] == ["blackrocks-mi", "blackrocks-ma"]
    assert kept == "Blackrocks (state: MI / MA)" and merged is None
    same = [{"state": "MI"}, {"state": "MI"}]
    assert split_shared_name("b", "B", [1, 2], same, ["state"]) == ([], None, "rows 1, 2 (B)")
    differ = [{"state": "MI", "x": "1"}, {"state": "MI", "x": None}]
    renames, kept, merged = split_shared_name("b", "B", [4, 6], differ, ["state", "x"])
    assert renames == [("b-1", "B (1)", 4), ("b-2", "B (2)", 6)]
    assert kept == "B (rows 4, 6, numbered)"


# --- parsing staged order rows ---------------------------------------------------


def _parsed_rows(opts: OrderOptions, prefix: str) -> list[tuple[object, ...]]:
    """Three staged rows (a good one, a bad amount, a bad date) parsed by ``_create_pv``."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE raw AS SELECT * FROM (VALUES (1, '1001', '2024-03-01 10:00', '12,50'), "
        "(2, '1002', '2024-03-02', 'abc'), (3, '1003', 'soon', '3,00')) t(_row, id, d, amt)"
    )
    has, _, _ = _stage_fields(con, {"order_id": "id", "ordered_at": "d", "gross": "amt"}, "raw")
    plan = plan_dates(
        con, ST, "ordered_at", name="f.csv", label="Date", dayfirst=None, date_format=None
    )
    parsing = _RowParsing(
        has=has,
        labels={"order_id": "Id", "ordered_at": "Date", "gross": "Total"},
        opts=opts,
        dc_by={f: f == "gross" for f in (*_MONEY_FIELDS, "quantity")},
        plan_sql=plan.sql("ordered_at", "_dshape", None),
        zone=None,
        gross_from="gross",
        prefix=prefix,
    )
    _create_pv(con, parsing)
    return con.execute(f"SELECT key, nkey, ts, gross, err FROM {PV} ORDER BY _row").fetchall()


def test_create_pv_parses_rows_as_the_bundle_says() -> None:
    good, bad_amount, bad_date = _parsed_rows(OrderOptions(), "shop:")
    assert good == ("shop:1001", "1001", dt.datetime(2024, 3, 1, 10), Decimal("12.5"), None)
    assert bad_amount[3] is None
    assert bad_amount[4] == {"col": "Total", "val": "abc", "reason": "not a number"}
    assert bad_date[2] is None and bad_date[3] == Decimal("3")
    assert bad_date[4]["col"] == "Date" and "--date-format" in bad_date[4]["reason"]


def test_create_pv_without_prefix_and_with_a_date_format() -> None:
    rows = _parsed_rows(OrderOptions(date_format="%Y-%m-%d"), "")
    assert [r[0] for r in rows] == ["1001", "1002", "1003"]
    assert rows[2][4]["reason"] == "not a date in the format %Y-%m-%d"
