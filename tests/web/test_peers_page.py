"""Peer page: upload the association's release, see where the business stands."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from conftest import sign_up
from levelfield.findings import Finding
from levelfield.fleet import peer_benchmarks


def _release() -> bytes:
    rng = np.random.default_rng(1)
    ids = [f"b{i}" for i in range(20)]
    biz = pd.DataFrame(
        {"business_id": ids, "sector": "coffee", "region": "north", "size_band": "micro"}
    ).assign(consent=True)
    findings = pd.DataFrame(
        {
            "business_id": ids,
            "metric": "exposure.fee_rate_max",
            "value": rng.uniform(0.1, 0.3, 20),
            "error": None,
        }
    )
    buf = io.BytesIO()
    peer_benchmarks(findings, biz, k=10).table.to_parquet(buf, index=False)
    return buf.getvalue()


def test_peer_page_shows_the_position_after_upload(client: TestClient, tmp_path: Path) -> None:
    org_id = sign_up(client, "peer@example.com")
    st: Any = client.app.state.lf  # type: ignore[attr-defined]
    org = st.store.membership(st.store.user_by_email("peer@example.com").user_id, org_id).org
    assert f'href="/orgs/{org_id}/peers"' in client.get(f"/orgs/{org_id}").text  # in the menu
    page = client.get(f"/orgs/{org_id}/peers")
    assert page.status_code == 200 and "No peer release uploaded yet" in page.text
    files = {"file": ("peers.parquet", _release(), "application/octet-stream")}
    assert client.post(f"/orgs/{org_id}/peers", files=files).status_code == 403  # no CSRF
    token = page.text.split('"X-CSRF-Token": "')[1].split('"')[0]
    bad = client.post(
        f"/orgs/{org_id}/peers",
        files={"file": ("x.parquet", b"not parquet", "application/octet-stream")},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 400
    r = client.post(f"/orgs/{org_id}/peers", files=files, headers={"X-CSRF-Token": token})
    assert r.status_code == 200  # followed the redirect
    assert "Run the analyses first" in r.text
    with st.tenants.lock(org_id):
        ws = st.tenants.workspace(org)
        for key, value in (("sector", '"coffee"'), ("region", '"north"'), ("size_band", '"micro"')):
            ws.con.execute("INSERT INTO business VALUES (?, ?, 0)", [key, value])
        run = ws.record_run("exposure", {}, {}, dt.datetime(2026, 12, 3))
        ws.record_findings(
            run, "exposure", [Finding("exposure.fee_rate_max", 0.35, "share", "x", "warning")]
        )
    page = client.get(f"/orgs/{org_id}/peers")
    assert "is higher than 90 % of 20 similar businesses (coffee, north, micro" in page.text
