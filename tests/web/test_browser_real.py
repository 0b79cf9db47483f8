"""Real browser, real components: the demo's own export files uploaded through the page,
imported by the real ingest, analysed by the real analyses and advice.

Complements test_browser.py (which pins the app's own behaviour with test doubles).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser import ARGS, ARTIFACTS, chromium_path, running

from conftest import FAST, PASSWORD
from levelfield.web import create_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
]


@pytest.fixture
def real_server(tmp_path: Path) -> Iterator[str]:
    with running(create_app(tmp_path / "data", settings=FAST)) as url:
        yield url


def test_demo_exports_uploaded_and_analysed_in_a_real_browser(
    real_server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from levelfield.demo import build_demo

    built = build_demo(tmp_path / "demo", seed=3, n_customers=400)
    files = json.loads(Path(built.manifest).read_text())["files"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{real_server}/signup")
            page.fill("input[name=org_name]", "Ember & Oak")
            page.fill("input[name=email]", "owner@ember.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            # Sign-up answers alike for new and known addresses: then one logs in.
            page.wait_for_selector("text=If this e-mail address was new")
            page.fill("input[name=email]", "owner@ember.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_selector("h1:has-text('Ember & Oak')")

            for f in files:
                path = built.directory / f["file"]
                page.select_option("#kind", f["kind"])
                page.set_input_files("#file", str(path))
                page.click("#upload-form button[type=submit]")
                # A file that needs a column mapping (the wholesale spreadsheet) is
                # refused with a message naming what is missing and a mapping form whose
                # choices, guessed from the column names, are the CLI's --map; the rest load.
                verdict = "error" if f["options"] else "ok"
                page.wait_for_selector(
                    f"#upload-result .{verdict} strong:has-text('{path.name}')", timeout=60_000
                )
                shown = page.inner_text("#upload-result")
                if f["options"]:
                    assert "column" in shown.lower()
                    form = page.locator("#mapping-form")
                    chosen = {
                        form.locator(f"label[for={sel.get_attribute('id')}]").inner_text(): (
                            sel.input_value()
                        )
                        for sel in form.locator("select[name^=field_]").all()
                    }
                    assert chosen == f["options"]["mapping"]
                    form.locator("input[name=channel]").fill(f["options"]["channel"])
                    form.locator("button[type=submit]").click()
                    page.wait_for_selector(
                        f"#upload-result .ok strong:has-text('{path.name}')", timeout=60_000
                    )
                    assert "generic" in page.inner_text("#upload-result")
                else:
                    assert f["profile"] in shown  # the detected profile is shown to the owner

            # The upload needing a mapping answers 400 at first, which the browser logs;
            # nothing else may fail.
            refused = sum(1 for f in files if f["options"])
            assert (
                errors
                == [
                    "Failed to load resource: the server responded with a status "
                    "of 400 (Bad Request)"
                ]
                * refused
            ), errors
            errors.clear()

            page.click("#run-button")
            page.wait_for_selector("text=Download the report", timeout=180_000)
            assert page.locator("text=not yet analysed").count() == 0
            page.screenshot(path=str(ARTIFACTS / "web_real_overview.png"), full_page=True)

            page.click("a:has-text('Dashboards')")
            page.wait_for_selector(".lf-chart .main-svg", timeout=30_000)
            page.wait_for_timeout(1000)
            assert page.locator(".lf-chart .main-svg").count() >= 10
            page.screenshot(path=str(ARTIFACTS / "web_real_dashboard.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
