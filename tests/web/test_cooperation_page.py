"""The cooperation page (real server, chromium) and the report's cooperation section.

The group results are made by the real cooperation code: a buying group (the demo's
planted price breaks) and partner matching over two small workspaces built through
ingest, stored in the organization's workspace as ``levelfield cooperate`` stores them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import ARGS, ARTIFACTS, chromium_path, running

from conftest import FAST, PASSWORD
from levelfield import open_workspace
from levelfield.cooperation import (
    PartnersResult,
    buying_group,
    demo_group,
    derive_tokens,
    match_partners,
    new_group_key,
    store_buying_share,
    store_partner_share,
)
from levelfield.ingest import import_file
from levelfield.report import ReportData, cooperation_section, key_numbers, render_report
from levelfield.web import create_app
from levelfield.workspace import Workspace

pytestmark = [pytest.mark.browser]

_ME, _PARTNER = "Bean There Cafe", "Corner Bakery"


def _member(folder: Path, name: str, category: str, people: range) -> Path:
    folder.mkdir(parents=True)
    (folder / "business.csv").write_text(f"key,value\nname,{name}\ncurrency,USD\nregion,north\n")
    rows = "".join(
        f"{name[:3].upper()}-{i},2025-0{1 + i % 8}-1{i % 9} 10:00:00,p{i}@example.org,USD,paid,"
        f"{category}-1,{category},{category},1,4.50,0,0,0,0.12,0\n"
        for i in people
    )
    (folder / "orders.csv").write_text(
        "order_id,ordered_at,email,currency,status,sku,product,category,quantity,unit_price,"
        "discount,tax,shipping,fees,refunded\n" + rows
    )
    path = folder / "levelfield.duckdb"
    with open_workspace(path) as ws:
        import_file(ws, "business", folder / "business.csv")
        import_file(ws, "orders", folder / "orders.csv")
    return path


def _partners(tmp_path: Path) -> PartnersResult:
    """Two members whose customers overlap by 10 of 40: 25 % of each one's customers."""
    key = new_group_key()
    a = _member(tmp_path / "a", _ME, "coffee", range(0, 40))
    b = _member(tmp_path / "b", _PARTNER, "bread", range(30, 70))
    for p in (a, b):
        with open_workspace(p, create=False) as ws:
            derive_tokens(ws, key, [p.parent / "orders.csv"])
    return match_partners([a, b], key)


def _store_group_results(ws: Workspace, tmp_path: Path) -> None:
    store_buying_share(ws, buying_group(*demo_group()), _ME, {"test": True})
    store_partner_share(ws, _partners(tmp_path), _ME, {"test": True})


def test_report_cooperation_section_renders_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with open_workspace(tmp_path / "me.duckdb") as ws:
        _store_group_results(ws, tmp_path / "group")
        section = cooperation_section(ws, "USD")
        numbers = key_numbers(ws)
    assert section is not None and section.status == "done"
    assert any("25% of your customers also buy from Corner Bakery" in h for h in section.headline)
    data = ReportData(
        business_name=_ME,
        currency="USD",
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        fingerprint="test",
        version="test",
        key_numbers=numbers,
        actions=(),
        advice_status="missing",
        advice_reason="not run in this test",
        advice_headline=(),
        sections=(section,),
    )
    report = tmp_path / "report.html"
    report.write_text(render_report(data), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())
            card = page.locator("section#cooperation")
            assert "Cooperation: what you can do with other businesses" in card.inner_text()
            assert "buying group of 6 saves" in card.inner_text()
            page.wait_for_selector("section#cooperation .lf-chart svg", timeout=30_000)
            bars = page.locator("section#cooperation .lf-chart .bars path").count()
            assert bars == 3  # by volume, Shapley, nucleolus
            assert page.locator("nav a[href='#cooperation']").count() == 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-cooperation.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    app = create_app(tmp_path / "data", settings=FAST)
    with running(app) as url:
        yield url, app


def test_cooperation_page_on_a_real_server_is_tenant_scoped(
    served: tuple[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, app = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            orgs = {}
            for who, org in (("owner@bean.example", "Bean There"), ("other@x.example", "Other")):
                page = browser.new_context().new_page()
                page.goto(f"{url}/signup")
                page.fill("input[name=org_name]", org)
                page.fill("input[name=email]", who)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("text=If this e-mail address was new")
                page.fill("input[name=email]", who)
                page.fill("input[name=password]", PASSWORD)
                page.click("form[action='/login'] button[type=submit]")
                page.wait_for_selector(f"h1:has-text('{org}')")
                orgs[who] = (page, page.url.rstrip("/").rsplit("/", 1)[-1])
            page, org_id = orgs["owner@bean.example"]
            page.click("nav a:has-text('Cooperation')")
            page.wait_for_selector("#coop-empty")  # nothing stored yet: says how to get it
            st = app.state.lf
            user = st.store.user_by_email("owner@bean.example").user_id
            with st.tenants.lock(org_id):
                ws = st.tenants.workspace(st.store.membership(user, org_id).org)
                _store_group_results(ws, tmp_path / "group")
            page.reload()
            text = page.locator("main").inner_text()
            assert "Best partner: Corner Bakery" in text
            assert "25% of your customers also buy from Corner Bakery (10 of 40)" in text
            assert "Suggested split:" in text and "espresso beans 1 kg" in text
            assert "Privacy:" in text and "test a guessed e-mail" in text
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "web-cooperation.png"), full_page=True)
            other, other_org = orgs["other@x.example"]
            other.goto(f"{url}/orgs/{other_org}/cooperation")
            assert other.locator("#coop-empty").count() == 1  # its own (empty) results
            r = other.goto(f"{url}/orgs/{org_id}/cooperation")  # not a member there
            assert r is not None and r.status in (403, 404)
        finally:
            browser.close()
