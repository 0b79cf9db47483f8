"""Subscriptions: Stripe's subscriptions export and levelfield's template."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import counts, write

from levelfield import Workspace
from levelfield.errors import RejectThresholdError, SchemaError
from levelfield.ingest import import_file, template_csv

STRIPE = Path(__file__).resolve().parents[1] / "data" / "subscriptions" / "stripe_subscriptions.csv"


def test_stripe_subscriptions_export_imports(ws: Workspace) -> None:
    s = import_file(ws, "subscriptions", STRIPE)
    assert (s.rows_in, s.rows_loaded, s.rows_rejected) == (11, 11, 0)
    rows = ws.con.execute(
        "SELECT subscription_id, customer_id, plan, status, started_at, trial_end, ended_at, "
        "quantity, amount, currency, interval FROM subscriptions ORDER BY subscription_id"
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    b = by_id["sub_1OaB02"]
    assert b[2] == "price_1OaCoffee250"
    assert b[3] == "canceled"
    assert b[4] == dt.datetime(2024, 1, 10, 14, 3)
    assert b[6] == dt.datetime(2024, 3, 10, 14, 3)
    assert b[7] == 2
    assert b[8] == Decimal("20.0000")
    assert by_id["sub_1ObD04"][5] == dt.datetime(2024, 3, 15, 11, 30)
    assert by_id["sub_1OeG09"][10] == "week"
    assert by_id["sub_1OeG09"][3] == "past_due"
    # Ann's two subscriptions share one pseudonymous customer id; no e-mail or name kept.
    assert by_id["sub_1OaA01"][1] == by_id["sub_1OdA06"][1] != "cus_PaA001"
    dump = str(ws.con.execute("SELECT * FROM subscriptions").fetchall())
    for clear in ("cus_PaA001", "ann@example.com", "Ann Example"):
        assert clear not in dump
    again = import_file(ws, "subscriptions", STRIPE)
    assert again.skipped_duplicate


def test_subscriptions_template_imports(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "subs.csv", template_csv("subscriptions"))
    s = import_file(ws, "subscriptions", f)
    assert s.rows_loaded == 1
    assert counts(ws)["subscriptions"] == 1


def test_bad_subscription_rows_are_rejected_with_row_and_column(
    ws: Workspace, tmp_path: Path
) -> None:
    good = "\n".join(
        f"sub_{i},cust_{i},2024-01-{i % 28 + 1:02d},,month,10.00,1" for i in range(200)
    )
    bad = (
        "sub_x1,cust_x,2024-03-01,2024-02-01,month,10.00,1\n"  # ends before it starts
        "sub_x2,cust_x,2024-03-01,,fortnight,10.00,1\n"  # unknown interval
    )
    text = "subscription_id,customer_id,started_at,ended_at,interval,amount,quantity\n"
    f = write(tmp_path / "subs.csv", text + good + "\n" + bad)
    s = import_file(ws, "subscriptions", f)
    assert (s.rows_loaded, s.rows_rejected) == (200, 2)
    rej = ws.con.execute('SELECT row_number, "column", reason FROM rejects ORDER BY 1').fetchall()
    assert rej[0][1:] == ("ended_at", "before the subscription started (started_at)")
    assert rej[1][1] == "interval" and "day, week, month or year" in rej[1][2]
    assert rej[0][0] + 1 == rej[1][0]


def test_too_many_bad_subscription_rows_write_nothing(ws: Workspace, tmp_path: Path) -> None:
    text = "subscription_id,customer_id,started_at,amount\ns1,c1,2024-01-01,-5\ns2,c2,soon,5\n"
    with pytest.raises(RejectThresholdError, match="nothing was imported"):
        import_file(ws, "subscriptions", write(tmp_path / "s.csv", text))
    assert counts(ws)["subscriptions"] == 0 and counts(ws)["imports"] == 0


def test_subscriptions_without_start_column_say_what_is_missing(
    ws: Workspace, tmp_path: Path
) -> None:
    f = write(tmp_path / "s.csv", "id,Customer ID,Status\nsub_1,cus_1,active\n")
    with pytest.raises(SchemaError, match="started_at"):
        import_file(ws, "subscriptions", f)
