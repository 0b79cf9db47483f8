"""The exported page verifies itself offline in Debian's chromium (WebCrypto Ed25519).

Each tampered variant must show exactly the failures the Python verifier reports, and
the page must make no network request at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from levelfield.provenance import ProvenanceLog, build_export, verify_export, write_export_html

from . import variants
from .conftest import T0

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():  # make test installs it; a missing browser is a failure
        pytest.fail(f"Debian's chromium is not at {CHROMIUM}: run 'make browser' first")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(
    browser: Any, export: dict[str, Any], path: Path, fragment: str = ""
) -> tuple[str, list[str], str]:
    page_file, _ = write_export_html(export, path)
    context = browser.new_context(offline=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri() + fragment)
    page.wait_for_function("document.getElementById('lf-status').className !== ''", timeout=15_000)
    status = page.text_content("#lf-status") or ""
    failures = [li.text_content() or "" for li in page.query_selector_all("#lf-failures li")]
    story = page.inner_text("#lf-story") if page.is_visible("#lf-story") else ""
    context.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
    return status, failures, story


def test_good_export_shows_verified_and_the_story(
    browser: Any, export: dict[str, Any], tmp_path: Path, plog: ProvenanceLog
) -> None:
    status, failures, story = _open(browser, export, tmp_path / "good.html")
    assert status.startswith("verified") and failures == []
    assert "Finca El Mirador, Huila, CO" in story and "Bensa cooperative, Sidama, ET" in story
    assert "made by roast" in story and "Fairtrade certificate FT-77 by FLOCERT" in story
    status, failures, _ = _open(
        browser, export, tmp_path / "good2.html", f"#key={plog.active_key()}"
    )
    assert status.startswith("verified") and "(the published key)" in status


def test_tampered_exports_show_the_exact_failure(
    browser: Any, export: dict[str, Any], tmp_path: Path, plog: ProvenanceLog
) -> None:
    forged, _ = variants.resign_with_own_key(export)
    cases = {
        "byte": (variants.change_body(export, 1, '"country":"ET"', '"country":"KE"'), None),
        "reorder": (variants.swap(export, 0, 1), None),
        "drop": (variants.drop(export, 2), None),
        "drop-publication": (variants.drop(export, 4), None),
        "resigned": (variants.resign_keep_key(export), None),
        "own-key": (forged, plog.active_key()),
    }
    for name, (doc, expected) in cases.items():
        want = [str(f) for f in verify_export(doc, expected_key=expected).failures]
        assert want, name
        fragment = f"#key={expected}" if expected else ""
        status, failures, story = _open(browser, doc, tmp_path / f"{name}.html", fragment)
        assert status.startswith("NOT verified"), name
        assert failures == want, name
        assert story == "", name


def test_rotated_key_verifies_in_the_browser_from_the_old_fingerprint(
    browser: Any, plog: ProvenanceLog, tmp_path: Path
) -> None:
    first = plog.active_key()
    plog.rotate_key(at=T0)
    export = build_export(plog, "R1", url="https://ember.example/lots/R1.html")
    status, failures, _ = _open(browser, export, tmp_path / "rotated.html", f"#key={first}")
    assert status.startswith("verified") and failures == []
    status, failures, _ = _open(browser, export, tmp_path / "wrong.html", "#key=" + "ab" * 32)
    assert failures == [str(f) for f in verify_export(export, expected_key="ab" * 32).failures]
