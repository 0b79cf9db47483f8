"""Tenant isolation: a user of organization A can reach nothing of organization B."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from conftest import ORDERS_CSV, all_routes, page_csrf, sign_up

WHOLESALE_CSV = "Invoice No,Date,Client,Item,Qty,Unit Price\nW-1,2024-03-01,Acme,Tea,2,5.00\n"


def _api_token(client: TestClient, org_id: str) -> str:
    r = client.post("/account/tokens", data={"name": "t", "csrf_token": page_csrf(client, org_id)})
    m = re.search(r'id="new-token">([^<]+)<', r.text)
    assert m, r.text
    return m.group(1)


def _fill_path(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "customers"), path)


def test_every_org_route_refuses_another_orgs_user(client: TestClient) -> None:
    b = TestClient(client.app)
    org_a = sign_up(client, "a@x.com", "A")
    org_b = sign_up(b, "b@x.com", "B")
    csrf_b = page_csrf(b, org_b)
    # B has data, a run, a report and an upload, so every B resource exists.
    b.post(
        f"/orgs/{org_b}/uploads",
        data={"kind": "orders"},
        files={"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf_b, "HX-Request": "true"},
    )
    # ... and an upload waiting for a column mapping (its file kept under B's folder).
    b.post(
        f"/orgs/{org_b}/uploads",
        data={"kind": "orders"},
        files={"file": ("w.csv", WHOLESALE_CSV.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf_b, "HX-Request": "true"},
    )
    store = client.app.state.lf.store
    waiting_b = next(u for u in store.uploads(org_b) if u["status"] == "failed")
    assert '"needs_mapping": true' in waiting_b["summary_json"]
    stored_b = client.app.state.lf.tenants.stored_upload_path(
        store.org(org_b), waiting_b["upload_id"], "csv"
    )
    assert stored_b.exists()
    b.post(f"/orgs/{org_b}/runs", headers={"X-CSRF-Token": csrf_b})
    client.app.state.lf.tenants.wait()
    job_b = client.app.state.lf.store.latest_job(org_b).job_id
    assert client.app.state.lf.store.latest_job(org_b).status == "done"

    token_a = _api_token(client, org_a)
    csrf_a = page_csrf(client, org_a)
    values = {
        "org_id": org_b,
        "job_id": job_b,
        "name": "customers",
        "upload_id": waiting_b["upload_id"],
        "token_id": "x",
    }
    checked = 0
    for route in all_routes(client.app.routes):
        if not isinstance(route, Route) or "{org_id}" not in route.path:
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            url = _fill_path(route.path, values)
            headers = {"X-CSRF-Token": csrf_a}
            if isinstance(route, APIRoute) and route.path.startswith("/api/"):
                headers["Authorization"] = f"Bearer {token_a}"
            kwargs = {}
            if method == "POST":
                kwargs = {
                    "data": {
                        "kind": "orders",
                        "csrf_token": csrf_a,
                        "field_0": "order_id",
                        "field_1": "ordered_at",
                        "field_4": "quantity",
                        "field_5": "unit_price",
                    },
                    "files": {"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")},
                }
            r = client.request(method, url, headers=headers, follow_redirects=False, **kwargs)
            assert r.status_code in (403, 404), (method, url, r.status_code, r.text[:200])
            checked += 1
    # 22 page routes (overview, uploads, mapping x2, runs, jobs, analyses, report,
    # provenance x2, cooperation x2, contacts x2, settings x2, financing x2, peers x2,
    # invitations x2) + 8 API routes take an org id
    assert checked == 30
    # And B's data are untouched: two uploads (one still waiting), one run, nothing from A.
    assert len(store.uploads(org_b)) == 2
    assert store.upload(org_b, waiting_b["upload_id"]) == waiting_b
    assert stored_b.exists()
    assert client.app.state.lf.store.latest_job(org_b).job_id == job_b


def test_own_routes_work_with_the_same_requests(client: TestClient) -> None:
    """The isolation test's requests succeed on one's own org (so 404s are real refusals)."""
    org = sign_up(client, "a@x.com", "A")
    csrf = page_csrf(client, org)
    r = client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders", "csrf_token": csrf},
        files={"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and "3 rows loaded" in r.text
    assert client.get(f"/orgs/{org}/analyses/customers").status_code == 200
    token = _api_token(client, org)
    r = client.get(f"/api/v1/orgs/{org}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["name"] == "A"


def test_job_of_another_org_is_not_found_through_ones_own_org(client: TestClient) -> None:
    b = TestClient(client.app)
    org_a = sign_up(client, "a@x.com", "A")
    org_b = sign_up(b, "b@x.com", "B")
    b.post(f"/orgs/{org_b}/runs", headers={"X-CSRF-Token": page_csrf(b, org_b)})
    client.app.state.lf.tenants.wait()
    job_b = client.app.state.lf.store.latest_job(org_b).job_id
    assert client.get(f"/orgs/{org_a}/jobs/{job_b}").status_code == 404
    token = _api_token(client, org_a)
    r = client.get(
        f"/api/v1/orgs/{org_a}/jobs/{job_b}", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 404


def test_api_lists_only_own_orgs_and_revoked_tokens_stop_working(client: TestClient) -> None:
    b = TestClient(client.app)
    org_a = sign_up(client, "a@x.com", "A")
    sign_up(b, "b@x.com", "B")
    token = _api_token(client, org_a)
    auth = {"Authorization": f"Bearer {token}"}
    assert [o["name"] for o in client.get("/api/v1/orgs", headers=auth).json()] == ["A"]
    assert client.get("/api/v1/orgs").status_code == 401
    assert (
        client.get("/api/v1/orgs", headers={"Authorization": "Bearer lf_nope"}).status_code == 401
    )
    store = client.app.state.lf.store
    user = store.user_by_email("a@x.com")
    ((token_id, *_rest),) = store.tokens(user.user_id)
    # tokens are stored hashed
    raw = store._all("SELECT token_hash FROM api_tokens")
    assert token not in str(raw)
    r = client.post(
        f"/account/tokens/{token_id}/delete",
        data={"csrf_token": page_csrf(client, org_a)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get("/api/v1/orgs", headers=auth).status_code == 401
