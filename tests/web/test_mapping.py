"""The column-mapping step for spreadsheets no platform profile recognises, with the REAL
ingest (no test doubles): upload, map the columns, import with the generic profile."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import page_csrf, sign_up
from levelfield.web._tenants import MappingError, guess_fields, validate_mapping

WHOLESALE_CSV = (
    "Invoice No,Date,Client,Item,Qty,Unit Price\n"
    "INV-1001,2024-03-01,Acme Deli,Darjeeling 250g,10,6.50\n"
    "INV-1001,2024-03-01,Acme Deli,Assam 250g,5,5.00\n"
    "INV-1002,2024-03-15,Corner Cafe,Darjeeling 250g,4,6.50\n"
    "INV-1003,2024-04-02,Acme Deli,Sencha 100g,12,4.25\n"
)
FIELDS = {"field_0": "order_id", "field_1": "ordered_at", "field_2": "customer_id"}
FIELDS |= {"field_3": "product", "field_4": "quantity", "field_5": "unit_price"}


@pytest.fixture
def real(app_factory: Callable[..., TestClient]) -> TestClient:
    """The app with the real ingest (no ``doubles`` fixture)."""
    return app_factory()


def _upload(client: TestClient, org: str, csrf: str, text: str = WHOLESALE_CSV) -> Any:
    return client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders", "csrf_token": csrf},
        files={"file": ("wholesale invoices.csv", text.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )


def _mapping_url(html: str) -> str:
    m = re.search(r'action="(/orgs/[^"]+/uploads/[^"]+/mapping)"', html)
    assert m, html[:500]
    return m.group(1)


def _stored_files(client: TestClient) -> list[Path]:
    root = client.app.state.lf.tenants.data_dir / "orgs"
    return sorted(p for p in root.glob("*/uploads/*") if p.is_file())


def _orders(client: TestClient, org: str) -> list[tuple[Any, ...]]:
    lf = client.app.state.lf
    ws = lf.tenants.workspace(lf.store.org(org))
    return ws.con.execute(
        "SELECT order_id, channel, gross FROM orders ORDER BY order_id"
    ).fetchall()


def test_unrecognised_spreadsheet_offers_mapping_then_imports(real: TestClient) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    csrf = page_csrf(real, org)
    r = _upload(real, org, csrf)
    assert r.status_code == 400
    assert "no platform profile matched" in r.text and 'id="mapping-form"' in r.text
    # Every column is listed; the obvious ones are pre-selected from names and aliases.
    for col in ("Invoice No", "Date", "Client", "Item", "Qty", "Unit Price"):
        assert f">{col}</label>" in r.text
    selected = dict(re.findall(r'name="(field_\d)".*?<option value="(\w*)" selected', r.text, re.S))
    assert selected == FIELDS
    # The upload is kept server-side under the org's folder with a random name.
    (stored,) = _stored_files(real)
    assert stored.parent.parent.name == org and "wholesale" not in stored.name
    url = _mapping_url(r.text)

    r = real.post(
        url,
        data={**FIELDS, "channel": "wholesale", "dayfirst": "no", "decimal_comma": "no"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 201, r.text
    assert "generic" in r.text and "Rows loaded" in r.text and "mapping-form" not in r.text
    assert _orders(real, org) == [
        ("INV-1001", "wholesale", pytest.approx(90.0)),
        ("INV-1002", "wholesale", pytest.approx(26.0)),
        ("INV-1003", "wholesale", pytest.approx(51.0)),
    ]
    assert _stored_files(real) == []  # the kept file is gone once imported
    (upload,) = real.app.state.lf.store.uploads(org)
    assert upload["status"] == "ok"
    # Nothing is waiting any more.
    assert real.get(url.removesuffix("/mapping") + "/mapping").status_code == 404


def test_mapping_page_without_htmx_shows_the_form_and_result(real: TestClient) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    csrf = page_csrf(real, org)
    url = _mapping_url(_upload(real, org, csrf).text)
    # After a reload the recent uploads list leads back to the mapping step.
    assert f'<a href="{url}">Map the columns</a>' in real.get(f"/orgs/{org}").text
    page = real.get(url)
    assert page.status_code == 200 and 'id="mapping-form"' in page.text
    assert "<h1>Tea Co</h1>" in page.text
    r = real.post(url, data={**FIELDS, "csrf_token": csrf})
    assert r.status_code == 200 and "<h1>Tea Co</h1>" in r.text and "generic" in r.text
    assert "Map the columns" not in r.text


def test_mapping_form_needs_the_csrf_token(real: TestClient) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    csrf = page_csrf(real, org)
    url = _mapping_url(_upload(real, org, csrf).text)
    assert real.post(url, data=FIELDS).status_code == 403
    assert real.post(url, data={**FIELDS, "csrf_token": "forged"}).status_code == 403
    assert _orders(real, org) == [] and len(_stored_files(real)) == 1


def test_mapping_routes_are_404_for_non_members(real: TestClient) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    url = _mapping_url(_upload(real, org, page_csrf(real, org)).text)
    other = TestClient(real.app)
    own = sign_up(other, "other@x.com", "Other")
    csrf = page_csrf(other, own)
    assert other.get(url).status_code == 404
    r = other.post(url, data={**FIELDS, "csrf_token": csrf}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404
    # The other org's id with this upload id is not a way in either.
    upload_id = url.split("/")[-2]
    r = other.post(
        f"/orgs/{own}/uploads/{upload_id}/mapping",
        data={**FIELDS, "csrf_token": csrf},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 404
    assert other.get(f"/orgs/{own}/uploads/{upload_id}/mapping").status_code == 404
    assert _orders(real, org) == [] and len(_stored_files(real)) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"field_2": "not_a_field"}, "&#39;not_a_field&#39; is not an order field"),
        ({"field_2": "order_id"}, "are both mapped to order_id"),
        ({f"field_{i}": "" for i in range(6)}, "map at least the order number"),
        ({"dayfirst": "maybe"}, "must be yes, no or auto"),
        ({"channel": "<script>"}, "must be 1-40 letters"),
    ],
)
def test_bad_mapping_input_is_explained_and_the_form_kept(
    real: TestClient, extra: dict[str, str], message: str
) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    csrf = page_csrf(real, org)
    url = _mapping_url(_upload(real, org, csrf).text)
    r = real.post(
        url, data={**FIELDS, **extra}, headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert r.status_code == 422
    assert message in r.text and 'id="mapping-form"' in r.text
    assert "<script>" not in r.text
    assert _orders(real, org) == [] and len(_stored_files(real)) == 1


def test_a_mapping_ingest_refuses_keeps_the_file_for_another_try(real: TestClient) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    csrf = page_csrf(real, org)
    url = _mapping_url(_upload(real, org, csrf).text)
    # Client names as dates: ingest rejects every row; the form comes back with its reason.
    r = real.post(
        url,
        data={**FIELDS, "field_1": "", "field_2": "ordered_at"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 400 and 'id="mapping-form"' in r.text, r.text
    assert re.search(r'id="mapping-error">\w+Error: ', r.text)
    assert _orders(real, org) == []
    assert len(_stored_files(real)) == 1
    r = real.post(url, data=FIELDS, headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 201 and len(_orders(real, org)) == 3


def _token(client: TestClient, org: str) -> str:
    r = client.post("/account/tokens", data={"name": "t", "csrf_token": page_csrf(client, org)})
    m = re.search(r'id="new-token">([^<]+)<', r.text)
    assert m, r.text
    return m.group(1)


def test_api_upload_with_a_mapping(real: TestClient) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    auth = {"Authorization": f"Bearer {_token(real, org)}"}
    url = f"/api/v1/orgs/{org}/imports?wait=true"
    files = {"file": ("w.csv", WHOLESALE_CSV.encode(), "text/csv")}
    r = real.post(url, data={"kind": "orders"}, files=files, headers=auth)
    assert r.status_code == 400
    body = r.json()
    assert body["needs_mapping"] is True
    assert body["columns"] == ["Invoice No", "Date", "Client", "Item", "Qty", "Unit Price"]
    mapping = {"Invoice No": "order_id", "Date": "ordered_at", "Client": "customer_id"}
    mapping |= {"Qty": "quantity", "Unit Price": "unit_price"}
    r = real.post(
        url,
        data={
            "kind": "orders",
            "mapping": json.dumps(mapping),
            "channel": "wholesale",
            "dayfirst": "no",
            "decimal_comma": "no",
        },
        files=files,
        headers=auth,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ok"] and body["profile"] == "generic" and body["rows_loaded"] == 4
    assert body["needs_mapping"] is False
    assert {o[1] for o in _orders(real, org)} == {"wholesale"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mapping": "Invoice No=order_id"}, "must be a JSON object"),
        ({"mapping": '{"Invoice No": "invoice"}'}, "'invoice' is not an order field"),
        ({"mapping": '{"A": "order_id", "B": "order_id"}'}, "both mapped to order_id"),
        ({"mapping": "{}"}, "map at least the order number"),
        ({"decimal_comma": "perhaps"}, "must be yes, no or auto"),
        ({"kind": "products", "mapping": '{"A": "sku"}'}, "orders uploads only"),
    ],
)
def test_api_bad_mapping_is_422(real: TestClient, data: dict[str, str], message: str) -> None:
    org = sign_up(real, "owner@x.com", "Tea Co")
    auth = {"Authorization": f"Bearer {_token(real, org)}"}
    r = real.post(
        f"/api/v1/orgs/{org}/imports",
        data={"kind": "orders", **data},
        files={"file": ("w.csv", WHOLESALE_CSV.encode(), "text/csv")},
        headers=auth,
    )
    assert r.status_code == 422 and message in r.json()["detail"]
    assert real.app.state.lf.store.uploads(org) == []


def test_openapi_documents_the_mapping_fields(real: TestClient) -> None:
    spec = real.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/orgs/{org_id}/imports"]["post"]["requestBody"]
    props = body["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"mapping", "channel", "dayfirst", "decimal_comma"} <= set(props)
    assert "order_id" in props["mapping"]["description"]
    out = spec["components"]["schemas"]["ImportOut"]["properties"]
    assert {"needs_mapping", "columns"} <= set(out)


def test_validate_mapping_and_guesses() -> None:
    cols = ("Invoice No", "Date", "Qty")
    assert validate_mapping({"Invoice No": "order_id", "Date": " ", "Qty": "quantity"}, cols) == {
        "Invoice No": "order_id",
        "Qty": "quantity",
    }
    with pytest.raises(MappingError, match="no column 'Nope'"):
        validate_mapping({"Nope": "order_id"}, cols)
    with pytest.raises(MappingError, match="not an order field"):
        validate_mapping({"Date": "when"}, cols)
    with pytest.raises(MappingError, match="map at least"):
        validate_mapping({}, cols)
    assert guess_fields(("Invoice No", "Date", "Misc", "Price", "Unit Price")) == {
        "Invoice No": "order_id",
        "Date": "ordered_at",
        "Price": "unit_price",
    }
