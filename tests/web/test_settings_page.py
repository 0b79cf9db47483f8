"""The settings page: every setting, changed with CSRF, per organization, logged."""

from __future__ import annotations

import html
from typing import Any

from fastapi.testclient import TestClient

from conftest import csrf_of, sign_up
from levelfield.workspace import SETTINGS


def _ws(client: TestClient, email: str, org_id: str) -> Any:
    st: Any = client.app.state.lf  # type: ignore[attr-defined]
    org = st.store.membership(st.store.user_by_email(email).user_id, org_id).org
    return st.tenants.workspace(org)


def test_settings_page_lists_every_setting_and_changes_one(client: TestClient) -> None:
    org_id = sign_up(client, "owner@example.com")
    page = client.get(f"/orgs/{org_id}/settings")
    assert page.status_code == 200
    for key in SETTINGS:
        assert f'value="{key}"' in page.text
    assert "No setting changed yet" in page.text
    token = csrf_of(page.text)
    r = client.post(
        f"/orgs/{org_id}/settings",
        data={"csrf_token": token, "key": "pricing.max_step", "value": "4%"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "changed=pricing.max_step" in r.headers["location"]
    assert _ws(client, "owner@example.com", org_id).settings.get("pricing.max_step") == 0.04
    page = client.get(r.headers["location"])
    ledger = page.text[page.text.index('id="settings-ledger"') :]
    assert "web:owner@example.com" in ledger and "0.1" in ledger and "0.04" in ledger
    r = client.post(
        f"/orgs/{org_id}/settings/reset",
        data={"csrf_token": token, "key": "pricing.max_step"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _ws(client, "owner@example.com", org_id).settings.get("pricing.max_step") == 0.1
    assert "(reset)" in client.get(f"/orgs/{org_id}/settings").text


def test_a_bad_value_is_refused_with_the_allowed_range_and_changes_nothing(
    client: TestClient,
) -> None:
    org_id = sign_up(client, "owner@example.com")
    token = csrf_of(client.get(f"/orgs/{org_id}/settings").text)
    r = client.post(
        f"/orgs/{org_id}/settings",
        data={"csrf_token": token, "key": "pricing.max_step", "value": "150%"},
    )
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert "setting pricing.max_step: '150%' is not allowed; give a number with 0 < x <= 1" in text
    assert "Traceback" not in text and ".py" not in text
    assert 'value="150%"' in r.text  # what was typed stays in the field
    r = client.post(
        f"/orgs/{org_id}/settings", data={"csrf_token": token, "key": "os.system", "value": "1"}
    )
    assert r.status_code == 400
    assert _ws(client, "owner@example.com", org_id).settings.ledger() == []


def test_settings_need_csrf_and_membership(client: TestClient) -> None:
    org_id = sign_up(client, "owner@example.com")
    r = client.post(
        f"/orgs/{org_id}/settings",
        data={"csrf_token": "forged", "key": "pricing.max_step", "value": "0.2"},
    )
    assert r.status_code == 403
    other = sign_up(client, "other@example.com", org="Other")
    token = csrf_of(client.get(f"/orgs/{other}/settings").text)
    assert client.get(f"/orgs/{org_id}/settings").status_code == 404
    r = client.post(
        f"/orgs/{org_id}/settings",
        data={"csrf_token": token, "key": "pricing.max_step", "value": "0.2"},
    )
    assert r.status_code == 404
    assert _ws(client, "owner@example.com", org_id).settings.get("pricing.max_step") == 0.1
    client.cookies.clear()
    r = client.get(f"/orgs/{org_id}/settings", follow_redirects=False)
    assert r.status_code in (303, 401)
