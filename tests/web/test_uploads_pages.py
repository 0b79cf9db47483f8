"""Uploads (size limit, type sniffing, safe names), background runs, dashboards, API."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from conftest import ORDERS_CSV, page_csrf, sign_up
from levelfield.web import UploadTypeError, create_demo, sniff_type


def _upload(
    client: TestClient, org: str, name: str, content: bytes, kind: str = "orders"
) -> object:
    return client.post(
        f"/orgs/{org}/uploads",
        data={"kind": kind},
        files={"file": (name, content, "application/octet-stream")},
        headers={"X-CSRF-Token": page_csrf(client, org), "HX-Request": "true"},
    )


def _xlsx() -> bytes:
    wb = openpyxl.Workbook()
    wb.active.append(["sku", "name"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_upload_shows_profile_rows_and_reject_reasons(client: TestClient) -> None:
    org = sign_up(client, "a@x.com")
    r = _upload(client, org, "orders.csv", ORDERS_CSV.encode())
    assert r.status_code == 201
    assert "test-orders" in r.text  # detected profile
    assert ">3<" in r.text and ">1<" in r.text  # loaded, rejected
    assert "not a number" in r.text and "twelve" in r.text
    page = client.get(f"/orgs/{org}")
    assert "USD 265" in page.text  # the five numbers follow the upload


def test_upload_over_the_limit_is_413(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(max_upload_mb=0.01)  # 10 kB
    org = sign_up(client, "a@x.com")
    big = ORDERS_CSV.encode() + b"9999,x@y.z,2024-01-01,shopify,1.00\n" * 2000
    r = _upload(client, org, "big.csv", big)
    assert r.status_code == 413
    assert "larger than the limit" in r.text
    assert client.app.state.lf.store.uploads(org) == []


def test_streamed_body_over_the_limit_is_413_without_content_length(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(max_upload_mb=0.01)
    org = sign_up(client, "a@x.com")

    def chunks():  # a generator body is sent chunked: no Content-Length to trust
        for _ in range(100):
            yield b"x" * 100_000

    r = client.post(
        f"/orgs/{org}/uploads",
        content=chunks(),
        headers={
            "X-CSRF-Token": page_csrf(client, org),
            "Content-Type": "multipart/form-data; boundary=abc",
        },
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("name", "content", "status", "text"),
    [
        ("orders.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 415, "not a CSV"),
        ("orders.csv", b"", 415, "is empty"),
        ("export.xlsx", b"PK\x03\x04" + b"junk", 415, "ZIP archive"),
        ("report.pdf", b"%PDF-1.7\n\x00\x01\x02\x03binary", 415, "not a CSV"),
    ],
)
def test_upload_type_is_sniffed_from_content(
    client: TestClient, name: str, content: bytes, status: int, text: str
) -> None:
    org = sign_up(client, "a@x.com")
    r = _upload(client, org, name, content)
    assert r.status_code == status and text in r.text


def test_csv_named_like_a_picture_is_still_read_as_csv(client: TestClient) -> None:
    org = sign_up(client, "a@x.com")
    r = _upload(client, org, "holiday.png", ORDERS_CSV.encode())
    assert r.status_code == 201 and "3 rows loaded" in r.text


def test_sniff_type_recognises_spreadsheets(tmp_path: Path) -> None:
    p = tmp_path / "a"
    p.write_bytes(_xlsx())
    assert sniff_type(p) == "xlsx"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert sniff_type(p) == "xls"
    p.write_bytes(b"PAR1" + b"\x00" * 20 + b"PAR1")
    assert sniff_type(p) == "parquet"
    p.write_bytes("Datum;Betrag\n01.02.2024;12,50 €\n".encode("cp1252"))
    assert sniff_type(p, "x.csv") == "csv"
    p.write_bytes("a\tb\n1\t2\n".encode("utf-16"))
    assert sniff_type(p, "orders.txt") == "txt"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", "x")
    p.write_bytes(buf.getvalue())
    with pytest.raises(UploadTypeError, match="ZIP archive"):
        sniff_type(p)


def test_filenames_are_never_used_as_paths(client: TestClient) -> None:
    org = sign_up(client, "a@x.com")
    data_dir = client.app.state.lf.tenants.data_dir
    r = _upload(client, org, "../../../../tmp/evil.csv", ORDERS_CSV.encode())
    assert r.status_code == 201
    (upload,) = client.app.state.lf.store.uploads(org)
    assert upload["source_name"] == "evil.csv"
    assert not Path("/tmp/evil.csv").exists()
    assert list((data_dir / "tmp").iterdir()) == []  # temp copies are removed


def test_display_name_keeps_only_a_printable_last_component() -> None:
    from levelfield.web._uploads import display_name

    assert display_name("C:\\Users\\x\\orders\x07.csv") == "orders.csv"
    assert display_name("../..") == ".."
    assert display_name("") == "upload"
    assert display_name(None) == "upload"


def test_unknown_kind_and_missing_file_are_422(client: TestClient) -> None:
    org = sign_up(client, "a@x.com")
    r = _upload(client, org, "o.csv", ORDERS_CSV.encode(), kind="spaceships")
    assert r.status_code == 422 and "kind must be one of orders, products" in r.text
    r = client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders"},
        headers={"X-CSRF-Token": page_csrf(client, org), "HX-Request": "true"},
    )
    assert r.status_code == 422


def test_import_error_is_shown_not_raised(client: TestClient) -> None:
    org = sign_up(client, "a@x.com")
    r = _upload(client, org, "products.xlsx", _xlsx(), kind="products")
    assert r.status_code == 400
    assert "SchemaError" in r.text and "reads orders only" in r.text


def test_run_progress_dashboard_and_report(client: TestClient) -> None:
    org = sign_up(client, "a@x.com")
    _upload(client, org, "orders.csv", ORDERS_CSV.encode())
    csrf = page_csrf(client, org)
    r = client.post(f"/orgs/{org}/runs", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 200 and 'hx-trigger="every 1s"' in r.text
    job_id = client.app.state.lf.store.latest_job(org).job_id
    client.app.state.lf.tenants.wait()
    r = client.get(f"/orgs/{org}/jobs/{job_id}", headers={"HX-Request": "true"})
    assert r.headers.get("HX-Refresh") == "true" and "Analyses finished" in r.text
    dash = client.get(f"/orgs/{org}/analyses/customers")
    assert dash.status_code == 200
    assert dash.text.count('class="lf-chart"') == 1
    assert "customers revenue by channel" in dash.text
    assert client.get(f"/orgs/{org}/analyses/landscape").text.count("not yet analysed") >= 1
    assert client.get(f"/orgs/{org}/analyses/nope").status_code == 404
    overview = client.get(f"/orgs/{org}")
    assert "Action 1" in overview.text and "Download the report" in overview.text
    # The whole plan on the organization's page: every action (three headline, the rest
    # below) with its assumptions and chance of success, automation and the scorecard.
    page = overview.text
    assert page.index('id="headline-actions"') < page.index("Action 3")
    assert page.index("Action 3") < page.index('id="more-actions"') < page.index("Action 5")
    assert "assumption 2" in page and "Chance it works: 50%" in page
    assert 'id="automation"' in page and "bookkeeping" in page
    assert 'id="scorecard"' in page and "Gross margin" in page
    rep = client.get(f"/orgs/{org}/report")
    assert rep.status_code == 200 and "attachment" in rep.headers["content-disposition"]
    assert "customers revenue by channel" in rep.text


def test_second_run_request_while_running_returns_the_same_job(client: TestClient) -> None:
    org = sign_up(client, "a@x.com")
    store = client.app.state.lf.store
    job, created = store.create_job(org, None)
    again, created_again = store.create_job(org, None)
    assert created and not created_again and again.job_id == job.job_id


def test_api_run_and_read_results(client: TestClient) -> None:
    org = sign_up(client, "a@x.com", "A")
    _upload(client, org, "orders.csv", ORDERS_CSV.encode())
    r = client.post("/account/tokens", data={"name": "t", "csrf_token": page_csrf(client, org)})
    token = r.text.split('id="new-token">')[1].split("<")[0]
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        client.get(f"/api/v1/orgs/{org}/analyses/customers", headers=auth).json()["status"]
        == "never_run"
    )
    job = client.post(f"/api/v1/orgs/{org}/runs", headers=auth)
    assert job.status_code == 202
    client.app.state.lf.tenants.wait()
    assert (
        client.get(f"/api/v1/orgs/{org}/jobs/{job.json()['id']}", headers=auth).json()["status"]
        == "done"
    )
    sec = client.get(f"/api/v1/orgs/{org}/analyses/customers", headers=auth).json()
    assert sec["status"] == "done" and sec["findings"][0]["metric"] == "customers.top_channel_share"
    assert sec["findings"][0]["value"] == pytest.approx(184.75 / 264.75)
    detail = client.get(f"/api/v1/orgs/{org}", headers=auth).json()
    assert detail["key_numbers"][0]["key"] == "net_revenue_12m"
    # The whole plan, ranked; the first three are this quarter's headline.
    assert [a["rank"] for a in detail["actions"]] == [1, 2, 3, 4, 5]
    assert [a["headline"] for a in detail["actions"]] == [True] * 3 + [False] * 2
    assert detail["actions"][1]["success_probability"] == 0.5
    up = client.post(
        f"/api/v1/orgs/{org}/imports",
        data={"kind": "orders"},
        files={"file": ("more.csv", ORDERS_CSV.encode(), "text/csv")},
        headers=auth,
    )
    # Queued: 202 with the upload's id and where to poll (issue 16 item 6).
    assert up.status_code == 202 and up.json()["status"] in ("queued", "importing", "ok")
    poll = up.headers["location"]
    assert poll == f"/api/v1/orgs/{org}/imports/{up.json()['id']}"
    for _ in range(200):
        up = client.get(poll, headers=auth)
        if up.json()["status"] in ("ok", "failed"):
            break
        time.sleep(0.05)
    assert up.json()["status"] == "ok" and up.json()["rows_rejected"] == 1
    assert up.json()["rejects"][0]["reason"] == "not a number"
    assert client.get(f"/api/v1/orgs/{org}/report", headers=auth).status_code == 200


def test_openapi_documents_bearer_tokens(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert any(p.startswith("/api/v1/") for p in spec["paths"])
    assert not any(p.startswith("/orgs") for p in spec["paths"])  # pages are not API
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme", "").lower() == "bearer" for s in schemes.values())
    body = spec["paths"]["/api/v1/orgs/{org_id}/imports"]["post"]["requestBody"]
    assert "multipart/form-data" in body["content"]


def test_demo_whose_data_cannot_be_built_says_why(
    app_factory: Callable[..., TestClient], doubles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import levelfield.web._serve as serve_mod
    from levelfield.errors import ConfigError

    def broken(*_a: object, **_kw: object) -> None:
        raise ConfigError("the demo's seed must be a whole number")

    monkeypatch.setattr(serve_mod, "build_demo", broken)
    client = app_factory()
    acct = create_demo(client.app)
    assert not acct.has_data
    assert acct.message == "demo data could not be built: the demo's seed must be a whole number"
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "email": acct.email,
            "password": acct.password,
            "csrf_token": page.text.split('name="csrf_token" value="')[1].split('"')[0],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get(f"/orgs/{acct.org_id}").status_code == 200
    again = create_demo(client.app)  # idempotent: same org, new password
    assert again.org_id == acct.org_id and again.password != acct.password
