"""A real browser changes a price guardrail on the settings page, runs the analyses
again and sees the new price recommendations (chromium, real server, real analyses)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import ARGS, ARTIFACTS, chromium_path, running

from conftest import FAST, PASSWORD
from levelfield.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    app = create_app(tmp_path / "data", settings=FAST)
    with running(app) as url:
        yield url, app


def _changes(page: Any) -> list[float]:
    """The ``change`` column of the pricing page's recommendations table (shares)."""
    table = page.locator("details:has(summary:has-text('Table: recommendations')) table")
    headers = [h.strip() for h in table.locator("thead th").all_text_contents()]
    col = headers.index("change")
    cells = table.locator(f"tbody tr td:nth-child({col + 1})").all_text_contents()
    return [float(c.replace(",", "")) for c in cells if c.strip()]


def _run_and_wait(page: Any) -> None:
    page.click("#settings-run")  # posts to the run, lands on the overview
    page.wait_for_selector("text=Analyses finished", timeout=300_000)


def test_max_step_changed_in_the_settings_page_bounds_the_new_recommendations(
    served: tuple[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from levelfield.demo import build_demo
    from levelfield.ingest import import_file

    url, app = served
    built = build_demo(tmp_path / "demo", seed=3, n_customers=400)
    exports = built.directory / "exports"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/signup")
            page.fill("input[name=org_name]", "Ember & Oak")
            page.fill("input[name=email]", "owner@ember.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("text=If this e-mail address was new")
            page.fill("input[name=email]", "owner@ember.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_selector("h1:has-text('Ember & Oak')")
            org_id = page.url.rstrip("/").rsplit("/", 1)[-1]
            # The data: the demo's products and Shopify orders (uploading through the
            # page is test_browser_real's subject), imported into this organization.
            st = app.state.lf
            m = st.store.membership(st.store.user_by_email("owner@ember.example").user_id, org_id)
            with st.tenants.lock(org_id):
                ws = st.tenants.workspace(m.org)
                import_file(ws, "products", exports / "products.csv")
                import_file(ws, "orders", exports / "orders_export_1.csv")

            page.click("nav a:has-text('Settings')")
            page.wait_for_selector("h1:has-text('Settings')")
            page.fill("#s-scenarios-n_trials-value", "2000")  # a quicker run
            page.click("#s-scenarios-n_trials button[type=submit]")
            page.wait_for_selector("#settings-saved:has-text('scenarios.n_trials')")
            _run_and_wait(page)
            page.goto(f"{url}/orgs/{org_id}/analyses/pricing")
            before = _changes(page)
            assert before and max(abs(c) for c in before) > 0.03 + 1e-9, before

            page.goto(f"{url}/orgs/{org_id}/settings")
            page.fill("#s-pricing-max_step-value", "150%")
            page.click("#s-pricing-max_step button[type=submit]")
            alert = page.inner_text("#settings-error")
            assert "pricing.max_step" in alert and "0 < x <= 1" in alert
            page.fill("#s-pricing-max_step-value", "3%")
            page.click("#s-pricing-max_step button[type=submit]")
            page.wait_for_selector("#settings-saved:has-text('pricing.max_step')")
            row = page.inner_text("#s-pricing-max_step")
            assert "user" in row and "web:owner@ember.example" in row
            assert page.input_value("#s-pricing-max_step-value") == "0.03"
            ledger = page.inner_text("#settings-ledger")
            assert "pricing.max_step" in ledger and "0.1" in ledger and "0.03" in ledger
            page.screenshot(path=str(ARTIFACTS / "web_settings.png"), full_page=True)

            _run_and_wait(page)
            page.goto(f"{url}/orgs/{org_id}/analyses/pricing")
            after = _changes(page)
            assert after and max(abs(c) for c in after) <= 0.03 + 1e-9, after
            assert after != before
            page.screenshot(path=str(ARTIFACTS / "web_settings_pricing.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
