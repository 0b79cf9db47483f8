"""Real-browser end-to-end test: Debian's chromium driven by Playwright against uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from conftest import FAST, ORDERS_CSV, PASSWORD
from levelfield.web import create_app, uvicorn_config

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
]


def chromium_path() -> str:
    """Debian's chromium; a missing browser fails the test (``make test`` installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is not at {CHROMIUM}: run 'make browser' first")
    return str(CHROMIUM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a free loopback port; yield its URL."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    app.state.lf.tenants.wait()
    srv.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def server(tmp_path: Path, doubles: None) -> Iterator[str]:
    with running(create_app(tmp_path / "data", settings=FAST)) as url:
        yield url


def test_sign_up_upload_run_dashboard_and_offline_report(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    export = tmp_path / "orders_export.csv"
    export.write_text(ORDERS_CSV)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(f"{server}/signup")
            page.fill("input[name=org_name]", "Corner Bakery")
            page.fill("input[name=email]", "owner@bakery.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            # Sign-up answers alike for new and known addresses: then one logs in.
            page.wait_for_selector("text=If this e-mail address was new")
            page.fill("input[name=email]", "owner@bakery.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_selector("h1:has-text('Corner Bakery')")

            page.select_option("#kind", "orders")
            page.set_input_files("#file", str(export))
            page.click("#upload-form button[type=submit]")
            page.wait_for_selector("#upload-result .ok")
            assert "3 rows loaded" in page.inner_text("#upload-result")
            assert "not a number" in page.inner_text("#upload-result")

            page.click("#run-button")
            page.wait_for_selector("text=Download the report", timeout=30_000)  # HX-Refresh
            page.screenshot(path=str(ARTIFACTS / "web_overview_phone.png"), full_page=True)

            page.click("a:has-text('Dashboards')")
            page.wait_for_selector(".lf-chart .main-svg", timeout=15_000)
            n_plots = page.locator(".lf-chart[data-drawn] .main-svg").count()
            assert n_plots >= 1
            bars = page.locator(".lf-chart .main-svg .bars path").count()
            assert bars >= 2  # shopify and etsy bars drawn
            page.screenshot(path=str(ARTIFACTS / "web_dashboard_phone.png"), full_page=True)

            page.goto(f"{server}/")
            with page.expect_download() as dl:
                page.click("text=Download the report")
            report = tmp_path / "report.html"
            dl.value.save_as(report)
            assert errors == [], errors

            # The report opens offline: no request except file://, no console errors.
            rpage = ctx.new_page()
            requests: list[str] = []
            rerrors: list[str] = []
            rpage.on("request", lambda r: requests.append(r.url))
            rpage.on("console", lambda m: rerrors.append(m.text) if m.type == "error" else None)
            rpage.on("pageerror", lambda e: rerrors.append(str(e)))
            rpage.goto(report.as_uri())
            rpage.wait_for_selector("#customers .lf-chart .main-svg", timeout=15_000)
            rpage.wait_for_timeout(500)
            rpage.screenshot(path=str(ARTIFACTS / "report_phone.png"), full_page=True)
            assert all(u.startswith(("file://", "data:", "blob:")) for u in requests), requests
            assert rerrors == [], rerrors
            assert "Corner Bakery" in rpage.inner_text("h1")
        finally:
            browser.close()
