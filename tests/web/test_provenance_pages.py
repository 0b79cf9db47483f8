"""Provenance pages: the lot list and the self-verifying export, behind login and CSRF."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from conftest import csrf_of, sign_up
from levelfield.provenance import ProvenanceLog, lot_entry, transformation_entry, verify_export


def _embedded(html: str) -> str:
    m = re.search(r'<script type="application/json" id="lf-export">(.*?)</script>', html, re.S)
    assert m
    return m.group(1)


def test_provenance_page_lists_lots_and_exports_a_verifiable_page(
    client: TestClient, tmp_path: Path
) -> None:
    org_id = sign_up(client, "owner@example.com")
    st: Any = client.app.state.lf  # type: ignore[attr-defined]
    org = st.store.membership(st.store.user_by_email("owner@example.com").user_id, org_id).org
    ws = st.tenants.workspace(org)
    with st.tenants.lock(org_id):
        log = ProvenanceLog(ws)
        log.add(
            [
                lot_entry(
                    "G1",
                    "Green <coffee>",
                    60,
                    "kg",
                    "2025-01-01",
                    country="CO",
                    producer="El Mirador",
                ),
                transformation_entry("roast", {"G1": 30}, "R1", "Roasted", 25, "kg", "2025-01-05"),
            ]
        )
        signing_dir = log.key_dir
    assert signing_dir.parent == ws.key_path.parent  # the app's key folder, not the workspace's

    page = client.get(f"/orgs/{org_id}/provenance")
    assert page.status_code == 200
    assert "G1" in page.text and "El Mirador, CO" in page.text and "roast" in page.text
    assert "Green &lt;coffee&gt;" in page.text  # escaped
    r = client.post(f"/orgs/{org_id}/provenance/R1/export", data={"csrf_token": "wrong"})
    assert r.status_code == 403
    r = client.post(f"/orgs/{org_id}/provenance/R1/export", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert verify_export(_embedded(r.text)).ok
    r = client.post(
        f"/orgs/{org_id}/provenance/NOPE/export", data={"csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 404


def test_provenance_page_needs_membership(client: TestClient) -> None:
    org_id = sign_up(client, "owner@example.com")
    client.cookies.clear()
    r = client.get(f"/orgs/{org_id}/provenance", follow_redirects=False)
    assert r.status_code in (303, 401, 404)
    sign_up(client, "other@example.com", org="Other")
    assert client.get(f"/orgs/{org_id}/provenance").status_code == 404
