"""The contacts download: re-upload the order export, get the segment's CSV, keep nothing.

Oracle: the demo's Shopify export parsed with the ``csv`` module and pseudonymized with
the organization's own workspace key.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_browser import ARGS, chromium_path, running

from conftest import FAST, PASSWORD, page_csrf, sign_up
from levelfield.pipeline import run_analysis
from levelfield.web import create_app

WILD = Path(__file__).resolve().parents[3] / "shared" / "data" / "wild-exports"
OTHER = WILD / "shopify_maisonmaria_GBP_orders_export_1.csv"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from levelfield.demo import build_demo

    root = tmp_path_factory.mktemp("contacts-web") / "demo"
    built = build_demo(root, seed=5, n_customers=300)
    return Path(built.directory) / "exports" / "orders_export_1.csv"


def _emails(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return {r["Email"].strip() for r in csv.DictReader(fh) if (r["Email"] or "").strip()}


def _expected(app: Any, org_id: str, emails: set[str]) -> dict[str, str]:
    """E-mail -> segment of every customer the organization's model values."""
    st = app.state.lf
    org = st.store.org(org_id)
    with st.tenants.lock(org_id):
        ws = st.tenants.workspace(org)
        result = run_analysis(ws, "customers")
        pseudo = dict(zip(sorted(emails), ws.pseudonymize(sorted(emails)), strict=True))
    seg = result.customers["segment"]  # type: ignore[attr-defined]
    return {e: str(seg[p]) for e, p in pseudo.items() if p in seg.index}


def _upload(client: TestClient, org: str, path: Path) -> None:
    r = client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders"},
        files={"file": (path.name, path.read_bytes(), "text/csv")},
        headers={"X-CSRF-Token": page_csrf(client, org), "HX-Request": "true"},
    )
    assert r.status_code == 201, r.text


def _no_clear_email_kept(data_dir: Path, emails: set[str]) -> None:
    assert not any((data_dir / "tmp").glob("*")), "an upload was left behind"
    probes = [e.lower().encode() for e in sorted(emails)[:200]]
    for f in data_dir.rglob("*"):
        if f.is_file():
            blob = f.read_bytes().lower()
            assert not any(p in blob for p in probes), f"{f.name} keeps a clear e-mail"


def test_contacts_download_is_exact_csrf_checked_tenant_scoped_and_keeps_nothing(
    app_factory: Callable[..., TestClient], export: Path, tmp_path: Path
) -> None:
    client = app_factory()
    org = sign_up(client, "owner@shop.example")
    _upload(client, org, export)
    page = client.get(f"/orgs/{org}/contacts")
    assert page.status_code == 200 and "Personal data" in page.text
    form = {"segment": "all", "format": "csv"}
    files = {"file": (export.name, export.read_bytes(), "text/csv")}
    r = client.post(f"/orgs/{org}/contacts", data=form, files=files)
    assert r.status_code == 403  # no CSRF token
    token = {"X-CSRF-Token": page_csrf(client, org)}
    r = client.post(f"/orgs/{org}/contacts", data=form, files=files, headers=token)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="contacts-all-csv.csv"'
    assert r.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    emails = _emails(export)
    expected = _expected(client.app, org, emails)
    assert {row["email"]: row["segment"] for row in rows} == expected
    # a wrong export is refused with its name, and no e-mail of it is echoed
    other = {"file": (OTHER.name, OTHER.read_bytes(), "text/csv")}
    r = client.post(f"/orgs/{org}/contacts", data=form, files=other, headers=token)
    assert r.status_code == 400 and OTHER.name in r.text and "does not belong" in r.text
    assert "@" not in r.text.split("does not belong")[0].rsplit(OTHER.name, 1)[-1]
    # a bad segment or an attached image: clear refusals
    bad = {**form, "segment": "vip"}
    assert (
        client.post(f"/orgs/{org}/contacts", data=bad, files=files, headers=token).status_code
        == 422
    )
    png = {"file": ("x.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png")}
    r = client.post(f"/orgs/{org}/contacts", data=form, files=png, headers=token)
    assert r.status_code == 415 and "not a CSV" in r.text  # as the upload flow answers
    # another organization's member cannot reach this one
    other_client = app_factory()
    sign_up(other_client, "rival@else.example", org="Else")
    assert other_client.get(f"/orgs/{org}/contacts").status_code == 404
    _no_clear_email_kept(tmp_path / "data", emails)


@pytest.mark.browser
@pytest.mark.slow
def test_contacts_export_downloads_in_a_real_browser(tmp_path: Path, export: Path) -> None:
    from playwright.sync_api import sync_playwright

    app = create_app(tmp_path / "data", settings=FAST)
    with running(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
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
            page.select_option("#kind", "orders")
            page.set_input_files("#file", str(export))
            page.click("#upload-form button[type=submit]")
            page.wait_for_selector(f"#upload-result .ok strong:has-text('{export.name}')")

            page.click("a:has-text('Contacts')")
            page.wait_for_selector("h1:has-text('Contacts to act on')")
            page.select_option("select[name=segment]", "win-back")
            page.select_option("select[name=format]", "klaviyo")
            page.set_input_files("input[name=file]", str(export))
            with page.expect_download(timeout=120_000) as dl:
                page.click("button:has-text('Download the list')")
            download = dl.value
            assert download.suggested_filename == "contacts-win-back-klaviyo.csv"
            text = Path(download.path()).read_text(encoding="utf-8")
        finally:
            browser.close()
        rows = list(csv.DictReader(io.StringIO(text)))
        emails = _emails(export)
        expected = _expected(app, org_id, emails)
        win_back = {"can't lose", "at risk", "about to sleep", "hibernating"}
        want = {e for e, s in expected.items() if s in win_back}
        assert want, "the demo has lapsed customers"
        assert list(rows[0])[:3] == ["Email", "First Name", "Last Name"]
        assert {r["Email"] for r in rows} == want
        assert {r["levelfield segment"] for r in rows} <= win_back
    _no_clear_email_kept(tmp_path / "data", emails)
