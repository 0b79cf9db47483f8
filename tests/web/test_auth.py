"""Accounts: sign-up, login, logout, cookies, CSRF and login rate limiting."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD, csrf_of, log_in, page_csrf, sign_up


def test_signup_login_logout(client: TestClient) -> None:
    org = sign_up(client, "Ann@Example.com", "Ann's Mugs")
    page = client.get(f"/orgs/{org}")
    assert page.status_code == 200 and "Ann&#39;s Mugs" in page.text
    r = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/orgs/{org}", follow_redirects=False).headers["location"] == "/login"
    login = client.get("/login")
    r = client.post(
        "/login",
        data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get(f"/orgs/{org}").status_code == 200


def test_password_is_stored_as_argon2_hash(client: TestClient) -> None:
    sign_up(client, "a@example.com")
    user = client.app.state.lf.store.user_by_email("a@example.com")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_signup_rejects_short_password_and_duplicate_email(client: TestClient) -> None:
    page = client.get("/signup")
    r = client.post(
        "/signup",
        data={
            "email": "a@x.com",
            "password": "short",
            "org_name": "S",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert r.status_code == 400 and "at least 12 characters" in r.text
    sign_up(client, "b@x.com")
    client.cookies.clear()
    page = client.get("/signup")
    r = client.post(
        "/signup",
        data={
            "email": "B@x.com",
            "password": PASSWORD,
            "org_name": "S",
            "csrf_token": csrf_of(page.text),
        },
    )
    # The same answer as for a new address (issue 16 item 10): nothing tells them apart.
    assert r.status_code == 200 and "If this e-mail address was new" in r.text
    assert "exists" not in r.text


def test_session_cookie_flags_over_http(client: TestClient) -> None:
    sign_up(client, "c@x.com")
    client.cookies.clear()
    r = log_in(client, "c@x.com")
    cookie = r.headers["set-cookie"]
    assert "lf_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory()
    client.app.state.lf.sign_up("d@x.com", PASSWORD, "S")
    client.base_url = client.base_url.copy_with(scheme="https")  # type: ignore[attr-defined]
    page = client.get("https://testserver/login")
    r = client.post(
        "https://testserver/login",
        data={"email": "d@x.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


def test_login_rotates_the_session_id(client: TestClient) -> None:
    sign_up(client, "e@x.com")
    client.cookies.clear()
    page = client.get("/login")
    before = client.cookies.get("lf_session")
    client.post(
        "/login", data={"email": "e@x.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    )
    after = client.cookies.get("lf_session")
    assert before and after and before != after


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_forms_without_the_session_csrf_token_are_rejected(
    client: TestClient, token: str | None
) -> None:
    org = sign_up(client, "f@x.com")
    data = {} if token is None else {"csrf_token": token}
    assert client.post("/logout", data=data).status_code == 403
    assert client.post(f"/orgs/{org}/runs", data=data).status_code == 403
    assert client.post("/account/tokens", data={"name": "t", **data}).status_code == 403
    files = {"file": ("o.csv", b"a,b\n1,2\n", "text/csv")}
    r = client.post(f"/orgs/{org}/uploads", data={"kind": "orders", **data}, files=files)
    assert r.status_code == 403
    client.cookies.clear()
    client.get("/login")
    r = client.post("/login", data={"email": "f@x.com", "password": PASSWORD, **data})
    assert r.status_code == 403


def test_csrf_token_of_another_session_is_rejected(
    client: TestClient, app_factory: Callable[..., TestClient]
) -> None:
    org = sign_up(client, "g@x.com")
    other = TestClient(client.app)
    stolen = csrf_of(other.get("/login").text)
    r = client.post(f"/orgs/{org}/runs", headers={"X-CSRF-Token": stolen})
    assert r.status_code == 403
    good = page_csrf(client, org)
    assert (
        client.post(
            f"/orgs/{org}/runs", headers={"X-CSRF-Token": good}, follow_redirects=False
        ).status_code
        == 303
    )


def _login(client: TestClient, email: str, password: str) -> int:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    return r.status_code


def test_login_rate_limited_per_account(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(login_failures_per_account=3)
    sign_up(client, "h@x.com")
    client.cookies.clear()
    assert [_login(client, "h@x.com", "wrong password!") for _ in range(3)] == [401] * 3
    assert _login(client, "h@x.com", PASSWORD) == 429  # even the right password waits
    assert _login(client, "other@x.com", "wrong password!") == 401  # other accounts unaffected


def test_login_rate_limited_per_address(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(login_failures_per_ip=4)
    codes = [_login(client, f"u{i}@x.com", "wrong password!") for i in range(6)]
    assert codes == [401] * 4 + [429] * 2


def test_successful_login_clears_account_failures(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(login_failures_per_account=3)
    sign_up(client, "i@x.com")
    client.cookies.clear()
    assert _login(client, "i@x.com", "wrong password!") == 401
    assert _login(client, "i@x.com", "wrong password!") == 401
    assert _login(client, "i@x.com", PASSWORD) == 303
    assert _login(client, "i@x.com", "wrong password!") == 401
    assert _login(client, "i@x.com", "wrong password!") == 401
    assert _login(client, "i@x.com", PASSWORD) == 303


def test_security_headers(client: TestClient) -> None:
    r = client.get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]
