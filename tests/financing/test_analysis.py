"""``analyze financing`` on a small seasonal shop: offers ranked, cash, lender metrics, CLI."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from levelfield import financing
from levelfield.cli import app
from levelfield.errors import InsufficientDataError
from levelfield.ingest import import_file
from levelfield.workspace import Workspace, open_workspace

START = dt.date(2022, 1, 3)
WEEKS = 130


def _weekly_truth() -> np.ndarray:
    t = np.arange(WEEKS)
    return 6_000 * (1 + 0.35 * np.cos(2 * np.pi * (t - 10) / 52))


def _write_shop(folder: Path, offers: bool) -> dict[str, Path]:
    rng = np.random.default_rng(5)
    orders = folder / "orders.csv"
    with orders.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "order_id",
                "ordered_at",
                "customer_id",
                "currency",
                "status",
                "sku",
                "quantity",
                "unit_price",
            ]
        )
        n = 0
        for week, total in enumerate(_weekly_truth()):
            for day in range(7):
                when = START + dt.timedelta(days=7 * week + day)
                for _ in range(4):
                    n += 1
                    w.writerow(
                        [
                            f"O{n}",
                            f"{when} 12:00:00",
                            f"C{rng.integers(0, 400)}",
                            "EUR",
                            "paid",
                            "SKU-1",
                            1,
                            f"{total / 28:.2f}",
                        ]
                    )
    costs = folder / "costs.csv"
    with costs.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["month", "category", "amount", "fixed", "currency"])
        for m in range(1, 13):
            w.writerow([f"2024-{m:02d}", "everything", "20000", "yes", "EUR"])
    business = folder / "business.csv"
    business.write_text("key,value\ncurrency,EUR\nopening_cash,8000\n")
    out = {"orders": orders, "costs": costs, "business": business}
    if offers:
        path = folder / "offers.csv"
        path.write_text(
            "offer_id,lender,kind,amount,annual_rate,term_months,fees,factor_rate,remittance_share\n"
            "MCA-1,FastCash,merchant_cash_advance,20000,,,,1.35,0.12\n"
            "TL-1,Local bank,term_loan,20000,0.11,24,400,,\n"
        )
        out["credit_offers"] = path
    return out


def _shop(tmp_path: Path, offers: bool = True) -> Workspace:
    ws = open_workspace(tmp_path / "ws.duckdb")
    for kind, path in _write_shop(tmp_path, offers).items():
        import_file(ws, kind, path)
    return ws


def test_offers_ranked_by_true_cost_with_bands_and_cash_low_week(tmp_path: Path) -> None:
    with _shop(tmp_path) as ws:
        res = financing.analyze(ws, n_futures=400)
        assert ws.latest_run("financing") is not None
    assert res.offers["offer_id"].tolist() == ["TL-1", "MCA-1"]
    mca = res.offers.iloc[1]
    assert mca["apr_p05"] < mca["apr_median"] < mca["apr_p95"]
    # 27,000 repaid at 12 % of about 6,000 a week: roughly 37 weeks; APR far above the loan.
    assert 25 <= mca["weeks_to_repay"] <= 50
    assert mca["apr_median"] > 0.4
    # Receipts ~6,000 - 4,600 costs a week from 8,000 cash: the buffer (2 weeks of
    # costs, about 9,200) is crossed at once in the P10 path.
    assert res.cash.buffer == pytest.approx(2 * 20_000 * 12 / 52)
    assert res.cash.cash_low_week == 1
    assert res.backtest_mape is not None and res.backtest_mape < 0.25
    ids = {f.metric for f in res.findings()}
    assert {
        "financing.best_offer_apr",
        "financing.worst_offer_apr",
        "financing.cash_low_week",
        "financing.top_customer_share",
    } <= ids
    text = "\n".join(res.headline())
    assert "TL-1" in text and "90 % band" in text and "not financial advice" in text
    assert set(res.tables()) == {"offers", "cash_forecast", "cash_drivers", "lender_metrics"}
    assert res.to_frame()["offer_id"].tolist() == ["TL-1", "MCA-1"]
    assert "13-week cash forecast" in financing.figures(res)


def test_lender_metrics_carry_threshold_source_and_verdict(tmp_path: Path) -> None:
    with _shop(tmp_path) as ws:
        res = financing.analyze(ws, n_futures=200)
    m = res.metrics.set_index("metric")
    assert m.loc["dscr_with_offer", "threshold"] == ">= 1.25"
    assert "SBA" in m.loc["dscr_with_offer", "source"]
    # Sales about 312,000 a year against 240,000 costs and ~11,000 a year of loan payments.
    assert m.loc["dscr_with_offer", "value"] == pytest.approx(
        (_weekly_truth()[-52:].sum() - 240_000) / (12 * 932.2), rel=0.05
    )
    assert m.loc["top_customer_share", "status"] == "passes"
    # No debt in the profile: no historical coverage to show, and the label says why.
    assert np.isnan(m.loc["dscr_historical", "value"])
    assert "no debt service recorded" in m.loc["dscr_historical", "label"]


def test_historical_debt_service_coverage_uses_the_existing_debt(tmp_path: Path) -> None:
    """Issue 23 item 3: coverage over the last year on the existing debt, next to the
    pro forma coverage with the offer being considered."""
    with _shop(tmp_path) as ws:
        ws.con.execute(
            "INSERT INTO business VALUES ('debt', '50000', 1), ('interest_rate', '0.08', 1)"
        )
        res = financing.analyze(ws, n_futures=200)
    m = res.metrics.set_index("metric")
    noi = _weekly_truth()[-52:].sum() - 240_000
    assert m.loc["dscr_historical", "value"] == pytest.approx(noi / 4_000, rel=0.05)
    assert m.loc["dscr_historical", "threshold"] == ">= 1.25"
    assert m.loc["dscr_with_offer", "value"] == pytest.approx(noi / (4_000 + 12 * 932.2), rel=0.05)


def test_without_offers_the_analysis_says_what_to_import(tmp_path: Path) -> None:
    with _shop(tmp_path, offers=False) as ws:
        res = financing.analyze(ws, n_futures=200)
    assert res.offers.empty
    assert any("levelfield import credit_offers" in line for line in res.headline())
    assert res.summary()["n_offers"] == 0


def test_cli_analyze_financing_prints_ranked_offers(tmp_path: Path) -> None:
    ws = _shop(tmp_path)
    path = ws.path
    ws.close()
    out = CliRunner().invoke(app, ["analyze", "financing", "--workspace", str(path)])
    assert out.exit_code == 0, out.output
    assert out.output.index("TL-1") < out.output.index("MCA-1")
    assert "13-week cash" in out.output


def test_too_few_weeks_is_a_clear_error(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws.duckdb")
    p = tmp_path / "o.csv"
    p.write_text(
        "order_id,ordered_at,customer_id,currency,status,sku,quantity,unit_price\n"
        "A,2024-01-02 10:00:00,C1,EUR,paid,S,1,10\n"
    )
    import_file(ws, "orders", p)
    with pytest.raises(InsufficientDataError, match="weeks of sales"):
        financing.analyze(ws)
    ws.close()


def test_template_credit_offers_round_trips_through_import(tmp_path: Path) -> None:
    from levelfield.ingest import template_csv

    p = tmp_path / "t.csv"
    p.write_text(template_csv("credit_offers"))
    with open_workspace(tmp_path / "ws.duckdb") as ws:
        import_file(ws, "credit_offers", p)
        rows = ws.con.execute("SELECT offer_id, kind FROM credit_offers").fetchall()
    assert rows == [("MCA-1", "merchant_cash_advance")]


def test_without_costs_the_cash_low_week_is_not_claimed(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws.duckdb")
    files = _write_shop(tmp_path, offers=False)
    import_file(ws, "orders", files["orders"])
    res = financing.analyze(ws, n_futures=200)
    ws.close()
    assert "cannot be told" in "\n".join(res.headline())
    assert "financing.cash_low_week" not in {f.metric for f in res.findings()}
    assert res.summary()["cash_low_week"] is None
    m = res.metrics.set_index("metric")
    assert "dscr_with_offer" not in m.index
    # 130 weeks: the year-on-year trend is measured (the shop's truth is flat: about 0).
    assert abs(m.loc["revenue_trend", "value"]) < 0.05


def test_playbook_points_to_the_cheaper_offer_as_information(tmp_path: Path) -> None:
    from levelfield.advice import advise

    with _shop(tmp_path) as ws:
        res = financing.analyze(ws, n_futures=200)
        plan = advise(ws, findings={"financing": res.findings()}, skipped={})
    text = "\n".join(plan.to_frame().astype(str).to_numpy().ravel())
    # The advance is priced per year against the term loan (the deeper rule replaces the
    # plain comparison), the cash low and the debt-service coverage are stated as information.
    assert "Know the yearly price of MCA-1 before signing" in text
    assert "The term loan TL-1 at" in text and "would save" in text
    assert "Compare your credit offers on one scale" not in text
    assert "Build a cash buffer before week 1" in text
    assert "passes the usual 1.25 threshold" in text  # (72,000 earned over ~11,000 due)
    assert "not financial advice" in text
