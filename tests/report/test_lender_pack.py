"""The lender pack (issue 23): offers by true cost, 13-week cash, lender metrics, sources;
totals only (no customer identifier anywhere), no script, printable from chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from levelfield import financing, open_workspace
from levelfield.cli import app
from levelfield.errors import ConfigError
from levelfield.report import build_lender_pack, render_lender_pack, write_lender_pack
from levelfield.report._lender import LENDER_CSP

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PSEUDONYM = re.compile(r"c_[0-9a-f]{20}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture(scope="module")
def pack_file(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lender") / "pack.html"
    result = CliRunner().invoke(
        app,
        ["report", "--lender", "-o", str(out), "--workspace", str(demo_dir / "levelfield.duckdb")],
    )
    assert result.exit_code == 0, result.output
    assert "Lender pack written" in result.output
    return out


def test_pack_has_offers_cash_metrics_and_sources_of_the_demo(
    pack_file: Path, demo_dir: Path
) -> None:
    html = pack_file.read_text(encoding="utf-8")
    truth = json.loads((demo_dir / "manifest.json").read_text())["financing"]
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        res = financing.analyze(ws)
        files = [r[0] for r in ws.con.execute("SELECT source_name FROM imports").fetchall()]
    # Offers ranked by true cost, each with its APR and (sales-linked) band.
    offers = html[html.index('id="offers"') : html.index('id="cash"')]
    ids = [str(o) for o in res.offers["offer_id"]]
    assert [offers.index(i) for i in ids] == sorted(offers.index(i) for i in ids)
    for row in res.offers.to_dict("records"):
        assert f"{row['apr_median']:.1%}" in offers
    mca = res.offers[res.offers["sales_linked"]].iloc[0]
    assert f"{mca['apr_p05']:.1%} – {mca['apr_p95']:.1%}" in offers
    # The 13-week forecast: 13 rows, the weeks below the buffer flagged from the planted one.
    cash = html[html.index('id="cash"') : html.index('id="metrics"')]
    rows = re.findall(r"<tr( class=\"below\")?><td>(\d+)</td>", cash)
    assert [int(w) for _, w in rows] == list(range(1, 14))
    flagged = [int(w) for cls, w in rows if cls]
    assert flagged and flagged[0] == truth["cash_low_week"]
    assert f"week {truth['cash_low_week']} (from" in cash
    assert "<svg" in cash and "What moves the cash low" in cash and "Assumptions" in cash
    assert "mean absolute percentage error" in cash
    # Every lender metric with its threshold, its cited source and pass/fail.
    metrics = html[html.index('id="metrics"') : html.index('id="sources"')]
    for m in res.metrics.to_dict("records"):
        assert str(escape(m["label"])) in metrics
        assert str(escape(m["threshold"])) in metrics and str(escape(m["source"])) in metrics
        assert f">{m['status']}</td>" in metrics
    assert "SBA" in metrics and "ASC 280" in metrics
    # Data sources and period.
    sources = html[html.index('id="sources"') :]
    for name in files:
        assert str(escape(name)) in sources
    assert f"Sales data from {res.period[0]} to {res.period[1]}" in html
    assert "not financial advice" in html


def test_pack_holds_no_customer_level_data(pack_file: Path, demo_dir: Path) -> None:
    html = pack_file.read_text(encoding="utf-8")
    assert not PSEUDONYM.search(html)
    assert not EMAIL.search(html)
    with open_workspace(demo_dir / "levelfield.duckdb") as ws:
        customers = [
            r[0]
            for r in ws.con.execute(
                "SELECT DISTINCT customer_id FROM orders WHERE customer_id IS NOT NULL"
            ).fetchall()
        ]
    assert len(customers) > 1_000
    assert not [c for c in customers if c in html]


def test_pack_is_self_contained_with_no_script(pack_file: Path) -> None:
    html = pack_file.read_text(encoding="utf-8")
    assert f'content="{escape(LENDER_CSP)}"' in html
    assert "script-src" not in LENDER_CSP and "default-src 'none'" in LENDER_CSP
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert "@media print" in html and "@page" in html


def test_pack_without_offers_says_what_to_import(tmp_path: Path) -> None:
    from levelfield.ingest import import_file

    orders = tmp_path / "o.csv"
    lines = ["order_id,ordered_at,customer_id,currency,status,sku,quantity,unit_price"]
    lines += [
        f"O{i},2024-{1 + i // 28:02d}-{1 + i % 28:02d} 10:00:00,C{i % 7},EUR,paid,S,1,10"
        for i in range(300)
    ]
    orders.write_text("\n".join(lines) + "\n")
    with open_workspace(tmp_path / "ws.duckdb") as ws:
        import_file(ws, "orders", orders)
        html = render_lender_pack(build_lender_pack(ws))
        with pytest.raises(ConfigError):
            write_lender_pack(ws, tmp_path)  # a folder, not a file
    assert "No credit offers are entered yet." in html
    assert "levelfield import credit_offers" in html
    assert not PSEUDONYM.search(html)


def test_cli_lender_pack_on_too_little_data_is_a_clear_error(tmp_path: Path) -> None:
    from levelfield.ingest import import_file

    orders = tmp_path / "o.csv"
    orders.write_text(
        "order_id,ordered_at,customer_id,currency,status,sku,quantity,unit_price\n"
        "A,2024-01-02 10:00:00,C1,EUR,paid,S,1,10\n"
    )
    with open_workspace(tmp_path / "ws.duckdb") as ws:
        import_file(ws, "orders", orders)
    out = tmp_path / "pack.html"
    result = CliRunner().invoke(
        app, ["report", "--lender", "-o", str(out), "--workspace", str(tmp_path / "ws.duckdb")]
    )
    assert result.exit_code == 1
    assert result.output.startswith("InsufficientDataError: ")
    assert not out.exists() and not out.with_name("pack.html.tmp").exists()


@pytest.mark.browser
@pytest.mark.slow
def test_pack_renders_and_prints_to_pdf_in_chromium(pack_file: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is not at {CHROMIUM}: run 'make browser' first")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(pack_file.as_uri())
            assert page.is_visible("#offers table") and page.is_visible("#cash svg polygon")
            assert len(page.query_selector_all("#cash tr.below")) >= 1
            box = page.query_selector("#cash svg").bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            assert page.is_visible(".noprint")
            page.emulate_media(media="print")
            assert not page.is_visible(".noprint")
            pdf = page.pdf(format="A4")
            context.close()
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_information_actions_are_listed_as_actions_not_as_not_recommended(ws: object) -> None:
    from levelfield.advice import advise
    from levelfield.findings import Finding
    from levelfield.report._data import _plan_views

    dscr = Finding(
        "financing.dscr_with_offer",
        2.0,
        "ratio",
        "Debt-service coverage with the cheapest offer: 2.00 against >= 1.25 (passes).",
        "good",
        {"threshold": ">= 1.25", "source": "SBA SOP 50 10 7.1", "status": "passes"},
    )
    plan = advise(ws, findings={"financing": [dscr]})  # type: ignore[arg-type]
    views = {v.title: v for v in _plan_views(plan)[0]}
    view = next(v for t, v in views.items() if "passes the usual 1.25 threshold" in t)
    assert view.informational and view.worth_doing and not view.headline
    assert view.impact == "information, no money figure claimed"
