"""The financing page and the lender-pack download: real analyses, tenant-scoped, CSRF.

The page runs the real financing analysis on the organization's workspace; the download
is the same one-file pack as ``levelfield report --lender``. Checked in process and on a
real uvicorn server in chromium (upload through the page, open the page, download).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_browser import ARGS, chromium_path, running

from conftest import FAST, PASSWORD, csrf_of, sign_up
from levelfield.ingest import import_file
from levelfield.web import create_app

PSEUDONYM = re.compile(r"c_[0-9a-f]{20}")
OFFERS_CSV = (
    "offer_id,lender,kind,amount,annual_rate,term_months,fees,factor_rate,remittance_share\n"
    "MCA-1,FastCash,merchant_cash_advance,20000,,,,1.35,0.12\n"
    "TL-1,Local bank,term_loan,20000,0.11,24,400,,\n"
)


def _orders_csv(weeks: int = 60) -> str:
    rng = np.random.default_rng(2)
    start = dt.date(2024, 1, 1)
    lines = ["order_id,ordered_at,customer_id,currency,status,sku,quantity,unit_price"]
    for d in range(7 * weeks):
        day = start + dt.timedelta(days=d)
        level = 900 * (1 + 0.3 * np.cos(2 * np.pi * d / 364))
        for k in range(3):
            lines.append(
                f"O{d}-{k},{day} 12:00:00,buyer{rng.integers(0, 300)}@example.com,EUR,paid,S,1,"
                f"{level / 3:.2f}"
            )
    return "\n".join(lines) + "\n"


def _files(folder: Path) -> dict[str, Path]:
    out = {
        "orders": folder / "orders.csv",
        "costs": folder / "costs.csv",
        "business": folder / "business.csv",
        "credit_offers": folder / "offers.csv",
    }
    out["orders"].write_text(_orders_csv())
    out["costs"].write_text(
        "month,category,amount,fixed,currency\n"
        + "".join(f"2025-{m:02d},everything,20000,yes,EUR\n" for m in range(1, 3))
    )
    out["business"].write_text("key,value\ncurrency,EUR\nopening_cash,30000\n")
    out["credit_offers"].write_text(OFFERS_CSV)
    return out


def _member_workspace(client: TestClient, email: str, org_id: str) -> Any:
    st: Any = client.app.state.lf  # type: ignore[attr-defined]
    org = st.store.membership(st.store.user_by_email(email).user_id, org_id).org
    return st, org


def test_financing_page_and_lender_pack_download(
    app_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = app_factory()
    org_id = sign_up(client, "owner@example.com", "Seasonal Shop")
    st, org = _member_workspace(client, "owner@example.com", org_id)
    with st.tenants.lock(org_id):
        ws = st.tenants.workspace(org)
        for kind, path in _files(tmp_path).items():
            import_file(ws, kind, path)
    page = client.get(f"/orgs/{org_id}/financing")
    assert page.status_code == 200, page.text
    text = page.text
    assert text.index("TL-1") < text.index("MCA-1")  # ranked by true cost
    assert "13-week cash" in text and "Debt-service coverage" in text
    assert "Download the lender pack" in text and "<svg" in text
    assert f'href="/orgs/{org_id}/financing"' in text  # in the menu
    assert not PSEUDONYM.search(text) and "@example.com" not in text

    url = f"/orgs/{org_id}/financing/lender-pack"
    assert client.post(url, data={"csrf_token": "wrong"}).status_code == 403
    r = client.post(url, data={"csrf_token": csrf_of(text)})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="lender-pack.html"'
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp and "script-src" not in csp
    assert "Credit offers ranked by true cost" in r.text and "What a lender checks" in r.text
    assert not PSEUDONYM.search(r.text) and "@example.com" not in r.text
    assert "<script" not in r.text.lower()

    # Another organization's member sees neither the page nor the pack.
    other = app_factory()
    other_org = sign_up(other, "stranger@example.com", "Other")
    assert other.get(f"/orgs/{org_id}/financing").status_code == 404
    own = other.get(f"/orgs/{other_org}/financing")
    assert other.post(url, data={"csrf_token": csrf_of(own.text)}).status_code == 404
    # An organization with no orders: the page says what is missing, offers no download.
    assert own.status_code == 200
    assert "InsufficientDataError" in own.text and "Download the lender pack" not in own.text
    assert "Upload at least 8 weeks of orders" in own.text
    r = other.post(
        f"/orgs/{other_org}/financing/lender-pack", data={"csrf_token": csrf_of(own.text)}
    )
    assert r.status_code == 400 and "InsufficientDataError" in r.text


def test_financing_page_requires_login(app_factory: Callable[..., TestClient]) -> None:
    client = app_factory()
    r = client.get("/orgs/whatever/financing", follow_redirects=False)
    assert r.status_code in (303, 401)


@pytest.mark.browser
@pytest.mark.slow
def test_financing_page_and_download_on_a_real_server(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    files = _files(tmp_path)
    with (
        running(create_app(tmp_path / "data", settings=FAST)) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/signup")
            page.fill("input[name=org_name]", "Seasonal Shop")
            page.fill("input[name=email]", "owner@shop.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("text=If this e-mail address was new")
            page.fill("input[name=email]", "owner@shop.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_selector("h1:has-text('Seasonal Shop')")
            for kind, path in files.items():
                page.select_option("#kind", kind)
                page.set_input_files("#file", str(path))
                page.click("#upload-form button[type=submit]")
                page.wait_for_selector(
                    f"#upload-result .ok strong:has-text('{path.name}')", timeout=60_000
                )
            page.click("a:has-text('Financing')")
            page.wait_for_selector("#offers table", timeout=60_000)
            rows = page.locator("#offers tbody tr").all_inner_texts()
            assert rows[0].split("\t")[1] == "TL-1" and "MCA-1" in rows[1]
            assert page.is_visible("#cash svg")
            with page.expect_download() as info:
                page.click("#lender-pack-form button[type=submit]")
            saved = tmp_path / "pack.html"
            info.value.save_as(saved)
            assert info.value.suggested_filename == "lender-pack.html"
            assert errors == []
        finally:
            browser.close()
    html = saved.read_text(encoding="utf-8")
    assert "Credit offers ranked by true cost" in html
    assert not PSEUDONYM.search(html) and "@shop.example" not in html
    assert "buyer" not in html  # no customer identifier from the orders file
