"""What a page view costs: cached results, one SQLite connection per thread, and logins
that hash passwords on a bounded pool without holding up the pages."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import argon2
import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import ORDERS_CSV, PASSWORD, csrf_of, page_csrf, sign_up
from levelfield.errors import ConfigError
from levelfield.report import ReportData
from levelfield.web import Settings
from levelfield.web._auth import hashing_slots
from levelfield.web._store import Store
from levelfield.web._tenants import Tenants


class _SlowHasher:
    """argon2 with a fixed delay per verification, counting how many run at once."""

    def __init__(self, real: argon2.PasswordHasher, delay_s: float) -> None:
        self.real, self.delay_s = real, delay_s
        self.running = self.peak = 0
        self.lock = threading.Lock()

    def verify(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self.delay_s)
            return bool(self.real.verify(password_hash, password))
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))

    def check_needs_rehash(self, password_hash: str) -> bool:
        return bool(self.real.check_needs_rehash(password_hash))


def test_login_burst_hashes_within_its_bound_and_pages_do_not_wait(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(hash_threads=1)
    org = sign_up(client, "a@x.com")
    st = client.app.state.lf
    slow = _SlowHasher(st.hasher, 0.3)
    st.hasher = slow
    session = client.cookies.get("lf_session")

    async def burst() -> tuple[list[int], int, float, float]:
        transport = httpx.ASGITransport(app=client.app)
        visitors = [httpx.AsyncClient(transport=transport, base_url="http://t") for _ in range(3)]
        tokens = [csrf_of((await v.get("/login")).text) for v in visitors]
        t0 = time.perf_counter()
        logins = [
            asyncio.create_task(
                v.post("/login", data={"email": "a@x.com", "password": PASSWORD, "csrf_token": t})
            )
            for v, t in zip(visitors, tokens, strict=True)
        ]
        await asyncio.sleep(0.05)  # the logins are queued or hashing now
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", cookies={"lf_session": session or ""}
        ) as browser:
            page = await browser.get(f"/orgs/{org}")
        page_s = time.perf_counter() - t0
        done = await asyncio.gather(*logins)
        logins_s = time.perf_counter() - t0
        for v in visitors:
            await v.aclose()
        return [r.status_code for r in done], page.status_code, page_s, logins_s

    codes, page_code, page_s, logins_s = asyncio.run(burst())
    assert codes == [303, 303, 303]
    assert slow.peak == 1  # one hash at a time with hash_threads=1
    assert logins_s >= 0.9  # so the three really queued
    assert page_code == 200 and page_s < logins_s  # the page did not queue behind them


def test_hashing_slots_default_to_one_per_core_and_reject_negative() -> None:
    assert hashing_slots(Settings()) == max(1, os.cpu_count() or 2)
    assert hashing_slots(Settings(hash_threads=3)) == 3
    with pytest.raises(ConfigError, match="hash_threads"):
        Settings(hash_threads=-1)


def test_default_password_hash_uses_one_lane_and_old_hashes_are_upgraded(
    app_factory: Callable[..., TestClient], doubles: None
) -> None:
    client = app_factory(argon2_parallelism=1)
    sign_up(client, "a@x.com")
    st = client.app.state.lf
    assert Settings().argon2_parallelism == 1
    old = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=2).hash(PASSWORD)
    user = st.store.user_by_email("a@x.com")
    st.store.set_password_hash(user.user_id, old)
    client.cookies.clear()
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": "a@x.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    upgraded = st.store.user_by_email("a@x.com").password_hash
    assert upgraded != old and ",p=1$" in upgraded


def test_store_keeps_one_connection_per_thread_and_closes_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "app.sqlite3")
    mine = store._con()
    assert store._con() is mine
    theirs: list[sqlite3.Connection] = []
    t = threading.Thread(target=lambda: theirs.append(store._con()))
    t.start()
    t.join()
    assert theirs[0] is not mine
    store.close()
    for con in (mine, theirs[0]):
        with pytest.raises(sqlite3.ProgrammingError):
            con.execute("SELECT 1")
    assert store.user("nobody") is None  # reopens after close


def test_failed_write_rolls_back_and_the_connection_stays_usable(tmp_path: Path) -> None:
    store = Store(tmp_path / "app.sqlite3")
    with pytest.raises(sqlite3.IntegrityError), store.connect() as con:
        con.execute("INSERT INTO login_failures VALUES ('k', 1.0)")
        con.execute("INSERT INTO users VALUES ('u', 'e', 'h', 1.0)")
        con.execute("INSERT INTO users VALUES ('u', 'e', 'h', 1.0)")
    assert store.failures("k", 1e12) == 0
    store.record_failure("k")
    assert store.failures("k", 60) == 1


def test_session_user_joins_the_user_and_ignores_expired_sessions(tmp_path: Path) -> None:
    store = Store(tmp_path / "app.sqlite3")
    user, _org = store.create_user_with_org("a@x.com", "hash", "A", lambda org_id: org_id)
    live, _row = store.create_session(user.user_id, 3600)
    expired, _row = store.create_session(user.user_id, -1)
    found = store.session_user(live)
    assert found is not None and found[1] == user and found[0].user_id == user.user_id
    assert store.session_user(expired) is None
    assert store.session_user("not a session") is None


def test_dashboards_are_served_from_cache_without_workspace_or_parsing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = sign_up(client, "a@x.com")
    client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders"},
        files={"file": ("orders.csv", ORDERS_CSV.encode(), "text/csv")},
        headers={"X-CSRF-Token": page_csrf(client, org), "HX-Request": "true"},
    )
    client.post(f"/orgs/{org}/runs", headers={"X-CSRF-Token": page_csrf(client, org)})
    client.app.state.lf.tenants.wait()
    pages = [f"/orgs/{org}", f"/orgs/{org}/analyses/customers"]
    first = [client.get(p).text for p in pages]

    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a page view must not do this")

    monkeypatch.setattr(Tenants, "workspace", forbidden)
    monkeypatch.setattr(Tenants, "refresh_numbers", forbidden)
    monkeypatch.setattr(ReportData, "from_json", forbidden)
    monkeypatch.setattr(client.app.state.lf.store, "cache", forbidden)  # the big report JSON
    again = [client.get(p) for p in pages]
    assert [r.status_code for r in again] == [200, 200]
    assert "customers revenue by channel" in again[1].text
    assert again[1].text.count('class="lf-chart"') == first[1].count('class="lf-chart"') == 1
