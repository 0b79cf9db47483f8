"""Issue 16, items 5, 7, 8, 9, 10 and 11 in the app (TestClient); the attacks that need a
real server (uvicorn, concurrency, proxy headers) are in test_attacks_real_server.py."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PASSWORD, csrf_of, log_in, page_csrf, sign_up
from levelfield.errors import ConfigError, DataError
from levelfield.web import Settings
from levelfield.web._passwords import WeakPasswordError, check_password_policy, common_passwords
from levelfield.web._pending import PendingUploads
from levelfield.web._tenants import OWASP_ARGON2_MIN_KIB
from levelfield.web._upload_guard import looks_like_data, redact

HEADERLESS = (
    "1001,ann.lee@example.com,+44 7700 900123,Ann Lee,2024-03-01,120.50\n"
    "1002,bob.ray@example.com,+44 7700 900456,Bob Ray,2024-03-02,80.00\n"
)
WHOLESALE = (
    "Invoice No,Date,Client,Item,Qty,Unit Price\n"
    "INV-1,2024-03-01,zed.secret@example.com,Tea,10,6.50\n"
)


def _signup(client: TestClient, email: str, password: str = PASSWORD, org: str = "Shop") -> object:
    page = client.get("/signup")
    return client.post(
        "/signup",
        data={
            "email": email,
            "password": password,
            "org_name": org,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )


# -- item 9: passwords ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "password",
    [
        " " * 12,
        "1234567890",
        "qwertyuiop123",
        "Password123!",
        "abcdefghijkl",
        "a" * 12,
        "x      y     ",  # 12 characters only before runs of spaces are combined
        "p" * 129,
    ],
)
def test_common_and_trivial_passwords_are_refused(password: str) -> None:
    """NIST SP 800-63B 5.1.1.2 and OWASP ASVS 4.0.3 V2.1.1/V2.1.7."""
    with pytest.raises(WeakPasswordError):
        check_password_policy(password)


def test_password_list_ships_with_the_package_and_is_large() -> None:
    words = common_passwords()
    assert len(words) == 30_000
    assert {"123456", "password", "1234567890", "qwertyuiop"} <= words


def test_password_may_not_be_the_email_or_business_name() -> None:
    with pytest.raises(WeakPasswordError, match="e-mail, business"):
        check_password_policy("tearooms-of-york", context=("owner@x.com", "Tearooms of York"))
    check_password_policy("correct horse battery", context=("owner@x.com", "Tearooms"))


@given(st.text(min_size=0, max_size=11))
@settings(max_examples=50, deadline=None)
def test_short_passwords_are_always_refused(password: str) -> None:
    with pytest.raises(WeakPasswordError):
        check_password_policy(password)


def test_signup_refuses_a_common_password(client: TestClient) -> None:
    r = _signup(client, "weak@x.com", "Password1234")
    assert r.status_code == 400 and "common and breached" in r.text
    assert client.app.state.lf.store.user_by_email("weak@x.com") is None


def test_argon2_below_owasp_minimum_is_refused() -> None:
    with pytest.raises(ConfigError, match="OWASP"):
        Settings(argon2_time_cost=1, argon2_memory_kib=19456)
    Settings(argon2_time_cost=3, argon2_memory_kib=12288)  # an equal-strength OWASP option
    default = Settings()
    assert default.argon2_parallelism == 1 and 1 <= default.argon2_time_cost <= 5
    assert default.argon2_memory_kib >= OWASP_ARGON2_MIN_KIB[default.argon2_time_cost]


def test_login_rehashes_a_password_hashed_with_other_parameters(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    """A hash made under old parameters is replaced by one under the current ones."""
    old = app_factory(argon2_time_cost=1, argon2_memory_kib=1024)
    assert _signup(old, "re@x.com").status_code == 303  # type: ignore[attr-defined]
    new = app_factory(argon2_time_cost=2, argon2_memory_kib=2048)
    store = new.app.state.lf.store
    before = store.user_by_email("re@x.com").password_hash
    assert "m=1024,t=1" in before
    assert log_in(new, "re@x.com").status_code == 303
    after = store.user_by_email("re@x.com").password_hash
    assert "m=2048,t=2" in after and after != before
    assert log_in(new, "re@x.com").status_code == 303  # the new hash verifies
    assert store.user_by_email("re@x.com").password_hash == after  # and is kept


def test_change_password_ends_the_other_sessions(client: TestClient) -> None:
    org = sign_up(client, "cp@x.com")
    other = TestClient(client.app)
    assert log_in(other, "cp@x.com").status_code == 303
    assert other.get(f"/orgs/{org}", follow_redirects=False).status_code == 200
    page = client.get("/account")
    new = "a brand new passphrase"
    r = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_of(page.text),
            "current_password": "wrong one!",
            "new_password": new,
        },
    )
    assert r.status_code == 403 and "current password is wrong" in r.text
    r = client.post(
        "/account/password",
        data={"csrf_token": csrf_of(page.text), "current_password": PASSWORD, "new_password": new},
    )
    assert r.status_code == 200 and "1 other session(s) logged out" in r.text
    assert other.get(f"/orgs/{org}", follow_redirects=False).status_code == 303  # logged out
    assert client.get(f"/orgs/{org}").status_code == 200  # this one stays
    client.cookies.clear()
    assert log_in(client, "cp@x.com").status_code == 401
    assert log_in(client, "cp@x.com", new).status_code == 303


def test_log_out_everywhere(client: TestClient) -> None:
    org = sign_up(client, "lo@x.com")
    other = TestClient(client.app)
    log_in(other, "lo@x.com")
    page = client.get("/account")
    r = client.post(
        "/account/logout-everywhere",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login?notice=logged-out-everywhere"
    for c in (client, other):
        assert c.get(f"/orgs/{org}", follow_redirects=False).headers["location"] == "/login"
    r = client.post("/account/logout-everywhere", data={}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


# -- item 10: sign-up does not tell who has an account -------------------------------------
def test_signup_answers_alike_for_new_and_existing_addresses(client: TestClient) -> None:
    st = client.app.state.lf
    st.sign_up("taken@x.com", PASSWORD, "Taken")
    # The cost that could tell the two apart is the password hash: count it rather than
    # time it (wall-clock timings on a loaded CI machine are noise, not a test).
    hashed: list[str] = []
    real_hash = st.hash_password

    def counting_hash(password: str) -> str:
        hashed.append(password)
        return real_hash(password)

    answers = []
    for email in ("taken@x.com", "fresh@x.com"):
        client.cookies.clear()
        hashed.clear()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(st, "hash_password", counting_hash)
            r = _signup(client, email, "another good passphrase")
        answers.append((r.status_code, r.headers.get("location"), r.text, len(hashed)))
    (c1, l1, b1, h1), (c2, l2, b2, h2) = answers
    assert (c1, l1, b1) == (c2, l2, b2) == (303, "/login?notice=signed-up", "")
    # Both paths hash the password exactly once: no tell-tale difference in work.
    assert h1 == h2 == 1
    # The existing account's password did not change.
    client.cookies.clear()
    assert log_in(client, "taken@x.com").status_code == 303


# -- item 7: sign-up limits, private servers, invitations, idle workspaces ---------------
def test_signup_is_rate_limited_per_address(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(signups_per_ip=3)
    codes = [_signup(client, f"s{i}@x.com").status_code for i in range(5)]
    assert codes == [303, 303, 303, 429, 429]
    assert client.app.state.lf.store.user_by_email("s3@x.com") is None


def test_no_signup_server_is_joined_by_invitation(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(allow_signup=False)
    assert client.get("/signup").status_code == 404
    form = {"email": "x@x.com", "password": PASSWORD, "org_name": "X", "csrf_token": "t"}
    assert client.post("/signup", data=form).status_code == 404
    _owner, org = client.app.state.lf.sign_up("owner@x.com", PASSWORD, "Private Co")
    log_in(client, "owner@x.com")
    page = client.get("/account")
    r = client.post(f"/orgs/{org.org_id}/invitations", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200
    link = r.text.split('id="invite-link">', 1)[1].split("<", 1)[0]
    path = "/invite/" + link.rsplit("/invite/", 1)[1]
    guest = TestClient(client.app)
    form = guest.get(path)
    assert form.status_code == 200 and "Join Private Co" in form.text
    r = guest.post(
        path,
        data={"csrf_token": csrf_of(form.text), "email": "guest@x.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert log_in(guest, "guest@x.com").status_code == 303
    assert guest.get(f"/orgs/{org.org_id}").status_code == 200
    assert guest.get(path).status_code == 404  # one use only
    # A member who is not the owner cannot invite.
    r = guest.post(
        f"/orgs/{org.org_id}/invitations", data={"csrf_token": page_csrf(guest, org.org_id)}
    )
    assert r.status_code == 403


def test_idle_workspaces_are_closed_least_recently_used_first(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(max_open_workspaces=2, signups_per_ip=10)
    st_ = client.app.state.lf
    orgs = [st_.sign_up(f"w{i}@x.com", PASSWORD, f"W{i}")[1] for i in range(4)]
    assert st_.tenants.open_count() == 0  # sign-up creates the file, keeps nothing open
    for org in orgs:
        st_.tenants.workspace(org)
    assert st_.tenants.open_count() == 2
    assert set(st_.tenants._workspaces) == {orgs[2].org_id, orgs[3].org_id}
    with st_.tenants.lock(orgs[2].org_id):  # busy: never closed under an import
        st_.tenants.workspace(orgs[0])
        assert orgs[2].org_id in st_.tenants._workspaces


# -- item 8: back-off that the owner's known device passes ----------------------------------
def test_failures_elsewhere_do_not_lock_out_a_known_device(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(login_failures_per_account=3, login_backoff_s=60)
    sign_up(client, "own@x.com")  # this browser logged in: it is a known device now
    assert client.cookies.get("lf_device")
    attacker = TestClient(client.app)
    codes = [log_in(attacker, "own@x.com", "guess number one").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]  # back-off for unknown devices
    client.cookies.delete("lf_session")
    assert log_in(client, "own@x.com").status_code == 303  # the owner gets in


def test_backoff_doubles_and_expires(app_factory: Callable[..., TestClient], doubles: None) -> None:
    client = app_factory(login_failures_per_account=2, login_backoff_s=0.4)
    client.app.state.lf.sign_up("bo@x.com", PASSWORD, "B")
    assert [log_in(client, "bo@x.com", "wrong password!").status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]
    time.sleep(0.5)  # the first wait (0.4 s) is over
    assert log_in(client, "bo@x.com", "wrong password!").status_code == 401
    assert log_in(client, "bo@x.com", PASSWORD).status_code == 429  # now 0.8 s
    time.sleep(0.9)
    assert log_in(client, "bo@x.com", PASSWORD).status_code == 303


# -- item 5: no customer data kept in clear -----------------------------------------------------
def _upload(client: TestClient, org: str, name: str, text: str) -> object:
    return client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders"},
        files={"file": (name, text.encode(), "text/csv")},
        headers={"X-CSRF-Token": page_csrf(client, org), "HX-Request": "true"},
    )


def _app_db_text(client: TestClient) -> str:
    path = Path(client.app.state.lf.store.path)
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT * FROM uploads").fetchall()
    return repr(rows)


def test_headerless_file_first_row_is_never_echoed_nor_stored(
    app_factory: Callable[..., TestClient],
) -> None:
    client = app_factory()  # the real ingest
    org = sign_up(client, "hl@x.com")
    r = _upload(client, org, "customers.csv", HEADERLESS)
    assert r.status_code == 400
    assert "first row holds values" in r.text and 'id="mapping-form"' not in r.text
    for secret in ("ann.lee@example.com", "7700 900123", "Ann Lee"):
        assert secret not in r.text
        assert secret not in _app_db_text(client)
        assert secret not in client.get(f"/orgs/{org}").text
    org_dir = client.app.state.lf.tenants.data_dir / "orgs" / org
    assert not list(org_dir.glob("uploads/*"))  # not kept either


def test_pending_upload_is_encrypted_and_deleted_on_a_timer(
    app_factory: Callable[..., TestClient],
) -> None:
    client = app_factory(pending_upload_ttl_s=4.0)
    org = sign_up(client, "pu@x.com")
    r = _upload(client, org, "wholesale.csv", WHOLESALE)
    assert r.status_code == 400 and 'id="mapping-form"' in r.text
    kept = list((client.app.state.lf.tenants.data_dir / "orgs" / org).glob("uploads/*"))
    assert len(kept) == 1
    raw = kept[0].read_bytes()
    assert b"zed.secret" not in raw and b"INV-1" not in raw  # encrypted at rest
    assert oct(kept[0].stat().st_mode & 0o777) == "0o600"
    assert "zed.secret" not in _app_db_text(client)
    deadline = time.monotonic() + 10
    while kept[0].exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the sweeper runs every ttl/4 s
    assert not kept[0].exists()


def test_pending_upload_cannot_be_read_by_another_process(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes(os.urandom(3_000_000))  # three chunks
    mine, theirs = PendingUploads(60), PendingUploads(60)
    mine.seal(src, tmp_path / "a.enc")
    mine.open(tmp_path / "a.enc", tmp_path / "back.csv")
    assert (tmp_path / "back.csv").read_bytes() == src.read_bytes()
    with pytest.raises(DataError, match="no longer kept"):
        theirs.open(tmp_path / "a.enc", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    sealed = (tmp_path / "a.enc").read_bytes()
    (tmp_path / "cut.enc").write_bytes(sealed[: len(sealed) // 2])  # truncated
    with pytest.raises(DataError, match="no longer kept"):
        mine.open(tmp_path / "cut.enc", tmp_path / "y.csv")


def test_header_detection_and_redaction() -> None:
    assert looks_like_data(("1001", "ann@example.com", "2024-03-01"))
    assert looks_like_data(("Ann Lee", "+44 7700 900123"))
    assert not looks_like_data(("Invoice No", "Date", "Client", "Qty", "Unit Price"))
    text = "row 3: 'ann@example.com' and +44 7700 900123 on 2024-03-01, total 12,50"
    assert redact(text) == "row 3: '[e-mail]' and [phone] on 2024-03-01, total 12,50"


# -- item 11: API docs do not load a CDN ---------------------------------------------------------
def test_docs_do_not_load_swagger_from_a_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 404 and "cdn" not in r.text.lower()
    assert client.get("/openapi.json").status_code == 200


def test_pages_are_not_cached_and_logout_clears_site_data(client: TestClient) -> None:
    """ASVS V8.2.1 and V8.2.3."""
    org = sign_up(client, "nc@x.com")
    page = client.get(f"/orgs/{org}")
    assert page.headers["cache-control"] == "no-store"
    assert "max-age" in client.get("/static/report.css").headers["cache-control"]
    r = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["clear-site-data"] == '"cache", "storage"'
    assert "strict-transport-security" not in r.headers  # plain HTTP: no HSTS


def test_page_views_never_wait_for_an_organizations_import(client: TestClient) -> None:
    """Issue 16 item 6: no request thread waits on the organization's lock."""
    org_id = sign_up(client, "busy@x.com")
    st_ = client.app.state.lf
    org = st_.store.org(org_id)
    assert st_.tenants.cached_numbers(org) is None  # a new organization: never computed
    with st_.tenants.lock(org_id):  # an import is writing the workspace
        t0 = time.perf_counter()
        assert st_.tenants.numbers_if_idle(org) == ()
        assert client.get(f"/orgs/{org_id}").status_code == 200
        assert time.perf_counter() - t0 < 5
    assert len(st_.tenants.numbers_if_idle(org)) == 5  # computed once the lock is free


def test_serve_cli_closes_signup_and_names_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import levelfield.web
    from levelfield.cli import app

    seen: list[Settings] = []
    monkeypatch.setattr(levelfield.web, "serve", lambda **kw: seen.append(kw["settings"]))
    r = CliRunner().invoke(
        app, ["serve", "--no-signup", "--trusted-proxy", "10.0.0.1", "--trusted-proxy", "::1"]
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["serve"])
    assert r.exit_code == 0, r.output
    assert (seen[0].allow_signup, seen[0].trusted_proxies) == (False, ("10.0.0.1", "::1"))
    assert (seen[1].allow_signup, seen[1].trusted_proxies) == (True, ())  # the defaults
