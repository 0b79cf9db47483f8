"""The treasurer runs the buying-group simulation from the cooperation page.

Oracle: :func:`levelfield.cooperation.buying_group` on the same two files (the demo's
planted price breaks); the page shows its three splits and the core check, the evidence
pack names both files with their SHA-256 (``hashlib``), and nothing is kept.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_browser import ARGS, ARTIFACTS, chromium_path, running

from conftest import FAST, PASSWORD, page_csrf, sign_up
from levelfield.cooperation import buying_group, demo_group
from levelfield.web import create_app


def _files() -> dict[str, tuple[str, bytes, str]]:
    purchases, breaks = demo_group()
    return {
        "purchases": ("group purchases.csv", purchases.to_csv(index=False).encode(), "text/csv"),
        "price_breaks": ("price_breaks.csv", breaks.to_csv(index=False).encode(), "text/csv"),
    }


def _runs(client: TestClient, org: str) -> int:
    st = client.app.state.lf  # type: ignore[attr-defined]
    with st.tenants.lock(org):
        ws = st.tenants.workspace(st.store.org(org))
        return int(ws.con.execute("SELECT count(*) FROM runs").fetchall()[0][0])


def test_simulation_shows_three_splits_with_the_core_check_and_keeps_nothing(
    app_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = app_factory()
    org = sign_up(client, "treasurer@coop.example", org="Coop")
    page = client.get(f"/orgs/{org}/cooperation")
    assert page.status_code == 200 and 'id="coop-simulate"' in page.text
    files = _files()
    url = f"/orgs/{org}/cooperation/buying-group"
    assert client.post(url, data={"action": "show"}, files=files).status_code == 403  # no CSRF
    runs = _runs(client, org)
    token = {"X-CSRF-Token": page_csrf(client, org)}
    r = client.post(url, data={"action": "show"}, files=files, headers=token)
    assert r.status_code == 200, r.text
    expected = buying_group(*demo_group())
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.text)))
    assert f"Total saving for the group: {expected.total_saving:,.2f} a year." in text
    for row in expected.members.to_dict("records"):
        cells = [row["today"], row["proportional"], row["shapley"], row["nucleolus"]]
        assert (
            f"{row['member']} {row['volume_share']:.0%} " + " ".join(f"{x:,.2f}" for x in cells)
            in text
        )
    assert "Proportional split:" in text and "Shapley split:" in text
    assert "Suggested split:" in text
    sha = hashlib.sha256(files["purchases"][1]).hexdigest()
    assert f"group purchases.csv (SHA-256 {sha[:12]}" in text
    # the evidence pack: a download with both files' SHA-256, no script
    r = client.post(url, data={"action": "pack"}, files=files, headers=token)
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    pack = r.text
    assert sha in pack and hashlib.sha256(files["price_breaks"][1]).hexdigest() in pack
    assert "<script" not in pack and 'id="pack-members"' in pack
    table = pd.read_html(io.StringIO(pack), attrs={"id": "pack-members"})[0]
    assert list(table["Member"]) == list(expected.members["member"])
    # nothing stored: no run in the workspace, no file left in the temp folder
    assert _runs(client, org) == runs
    assert not any((tmp_path / "data" / "tmp").glob("*"))


def test_bad_files_are_named_and_other_organizations_cannot_post(
    app_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = app_factory()
    org = sign_up(client, "treasurer@coop.example", org="Coop")
    token = {"X-CSRF-Token": page_csrf(client, org)}
    url = f"/orgs/{org}/cooperation/buying-group"
    files = _files()
    bad = dict(files)
    name, body, kind = files["purchases"]
    bad["purchases"] = (name, body.replace(b",600,", b",lots,", 1), kind)
    r = client.post(url, data={"action": "show"}, files=bad, headers=token)
    assert r.status_code == 422
    assert "ParseError: group purchases.csv row 2" in r.text and "annual_volume" in r.text
    assert str(tmp_path) not in r.text  # the temp path is never shown
    png = {**files, "price_breaks": ("x.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "")}
    r = client.post(url, data={"action": "show"}, files=png, headers=token)
    assert r.status_code in (415, 422) and "x.csv" in r.text
    one = {"purchases": files["purchases"]}
    r = client.post(url, data={"action": "show"}, files=one, headers=token)
    assert r.status_code == 422 and "price breaks" in r.text
    other = app_factory()
    sign_up(other, "rival@else.example", org="Else")
    r = other.post(url, data={"action": "show"}, files=files, headers=token)
    assert r.status_code in (403, 404)
    assert not any((tmp_path / "data" / "tmp").glob("*"))


@pytest.mark.browser
def test_treasurer_simulates_and_downloads_the_pack_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    files = _files()
    for name, body, _ in files.values():
        (tmp_path / name).write_bytes(body)
    app = create_app(tmp_path / "data", settings=FAST)
    expected = buying_group(*demo_group())
    with running(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(f"{url}/signup")
            page.fill("input[name=org_name]", "Main Street Coop")
            page.fill("input[name=email]", "treasurer@coop.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("text=If this e-mail address was new")
            page.fill("input[name=email]", "treasurer@coop.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_selector("h1:has-text('Main Street Coop')")
            page.click("nav a:has-text('Cooperation')")
            for kind, (name, _, _) in files.items():
                page.set_input_files(f"#coop-simulate input[name={kind}]", str(tmp_path / name))
            page.click("#coop-simulate button[value=show]")
            page.wait_for_selector("#coop-sim-members")
            rows = page.locator("#coop-sim-members tbody tr")
            assert rows.count() == len(expected.members)
            first = expected.members.iloc[0]
            assert f"{first['shapley']:,.2f}" in rows.nth(0).inner_text()
            assert "Suggested split:" in page.locator("#coop-sim-result").inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "web-cooperation-simulate.png"), full_page=True)
            for kind, (name, _, _) in files.items():
                page.set_input_files(f"#coop-simulate input[name={kind}]", str(tmp_path / name))
            with page.expect_download() as dl:
                page.click("#coop-simulate button[value=pack]")
            saved = tmp_path / "pack.html"
            dl.value.save_as(saved)
            assert dl.value.suggested_filename == "buying-group-evidence.html"
            pack = saved.read_text(encoding="utf-8")
            assert hashlib.sha256(files["purchases"][1]).hexdigest() in pack
            assert f"{expected.total_saving:,.2f}" in pack
        finally:
            browser.close()
