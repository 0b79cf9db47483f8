"""Issue 16 attacks against a real uvicorn server (items 3, 6 and 8).

Hostile files are generated here, not stored. The server runs in this process on a
free loopback port with the same Uvicorn settings as ``levelfield serve``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from test_browser import running

from conftest import FAST, ORDERS_CSV, PASSWORD
from levelfield.web import Settings, create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Any]]]:
    """Start the app under uvicorn with settings overrides; yields (url, app)."""
    stack: list[Any] = []

    def start(**overrides: Any) -> tuple[str, Any]:
        app = create_app(tmp_path / "data", settings=Settings(**{**FAST.__dict__, **overrides}))
        ctx = running(app)
        url = ctx.__enter__()
        stack.append(ctx)
        return url, app

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def _logged_in(url: str, email: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=60)
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    r = c.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf[1]})
    assert r.status_code == 303, r.text
    return c


class _Poller:
    """GET ``path`` back to back in a thread; keeps each latency (seconds)."""

    def __init__(self, url: str, path: str, headers: dict[str, str] | None = None) -> None:
        self.times: list[float] = []
        self.codes: list[int] = []
        self._stop = threading.Event()
        self._client = httpx.Client(base_url=url, timeout=60, headers=headers)
        self._path = path
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            self.codes.append(self._client.get(self._path).status_code)
            self.times.append(time.perf_counter() - t)
            time.sleep(0.02)

    def __enter__(self) -> _Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self._client.close()


def test_a_116000_column_csv_does_not_stall_healthz(
    serve: Callable[..., tuple[str, Any]], doubles: None
) -> None:
    url, app = serve()
    _user, org = app.state.lf.sign_up("wide@x.com", PASSWORD, "Wide")
    c = _logged_in(url, "wide@x.com")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', c.get(f"/orgs/{org.org_id}").text)
    assert csrf
    wide = ",".join(f"column number {i}" for i in range(116_000)) + "\n" + "1," * 115_999 + "1\n"
    with _Poller(url, "/healthz") as health:
        time.sleep(0.2)
        r = c.post(
            f"/orgs/{org.org_id}/uploads",
            data={"kind": "orders"},
            files={"file": ("wide.csv", wide.encode(), "text/csv")},
            headers={"X-CSRF-Token": csrf[1], "HX-Request": "true"},
        )
        time.sleep(0.2)
    c.close()
    assert r.status_code == 422, r.text[:300]
    assert "116,000 columns" in r.text and "at most 500" in r.text
    assert len(r.content) < 10_000  # no page listing 116,000 columns
    assert health.codes and set(health.codes) == {200}
    assert max(health.times) < 1.0, max(health.times)


# Refused uploads are answered before their body is read; the load generator's
# connections that uvicorn then closes are collected late (client-side warning only).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def _sparse_xlsx() -> bytes:
    """Cells A1 and XFD1048576 only: 1.6 KB that a reader would make a 16-billion-cell grid."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"] = "order_id"
    wb.active["XFD1048576"] = 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_sparse_xlsx_through_the_api_is_refused_and_healthz_stays_fast(
    serve: Callable[..., tuple[str, Any]],
) -> None:
    url, app = serve()  # the real ingest
    user, org = app.state.lf.sign_up("sparse@x.com", PASSWORD, "Sparse")
    token = app.state.lf.store.create_token(user.user_id, "t")[1]
    with _Poller(url, "/healthz") as health, httpx.Client(base_url=url, timeout=60) as c:
        r = c.post(
            f"/api/v1/orgs/{org.org_id}/imports?wait=true",
            data={"kind": "orders"},
            files={"file": ("sparse.xlsx", _sparse_xlsx(), "application/octet-stream")},
            headers={"Authorization": f"Bearer {token}"},
        )
        time.sleep(0.3)
        assert c.get("/healthz", timeout=1.0).status_code == 200  # the server is alive
    assert r.status_code == 422, r.text
    assert "LimitExceededError" in r.json()["message"] and "sparse.xlsx" in r.json()["message"]
    assert max(health.times) < 1.0


def test_90_uploads_into_one_org_do_not_slow_another_tenant(
    serve: Callable[..., tuple[str, Any]], doubles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import levelfield.ingest

    fast_import = levelfield.ingest.import_file

    def slow_import(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # a heavy import, holding the organization's lock
        return fast_import(*args, **kwargs)

    monkeypatch.setattr(levelfield.ingest, "import_file", slow_import)
    url, app = serve()
    st = app.state.lf
    user_a, org_a = st.sign_up("a@x.com", PASSWORD, "A")
    user_b, _org_b = st.sign_up("b@x.com", PASSWORD, "B")
    token_a = st.store.create_token(user_a.user_id, "a")[1]
    token_b = st.store.create_token(user_b.user_id, "b")[1]
    me = {"Authorization": f"Bearer {token_b}"}
    with _Poller(url, "/api/v1/me", me) as quiet:
        time.sleep(1.0)
    baseline = float(np.percentile(quiet.times, 95))

    async def flood() -> list[int]:
        async with httpx.AsyncClient(
            base_url=url, timeout=120, limits=httpx.Limits(max_connections=100)
        ) as ac:

            async def one(i: int) -> int:
                r = await ac.post(
                    f"/api/v1/orgs/{org_a.org_id}/imports",
                    data={"kind": "orders"},
                    files={"file": (f"o{i}.csv", ORDERS_CSV.encode(), "text/csv")},
                    headers={"Authorization": f"Bearer {token_a}"},
                )
                return r.status_code

            return list(await asyncio.gather(*(one(i) for i in range(90))))

    with _Poller(url, "/api/v1/me", me) as loaded:
        codes = asyncio.run(flood())
        time.sleep(0.5)
    under_attack = float(np.percentile(loaded.times, 95))
    assert set(loaded.codes) == {200}
    assert codes.count(202) >= 4 and set(codes) <= {202, 429}  # queued, or told to wait
    assert codes.count(429) >= 80
    assert under_attack < max(2 * baseline, 0.25), (baseline, under_attack)


def test_spoofed_forwarded_for_does_not_escape_the_per_address_limit(
    serve: Callable[..., tuple[str, Any]], doubles: None
) -> None:
    url, _app = serve(login_failures_per_ip=4)
    codes = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for i in range(6):
            page = c.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            r = c.post(
                "/login",
                data={"email": f"u{i}@x.com", "password": "wrong password!", "csrf_token": csrf[1]},
                headers={"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"198.51.100.{i}"},
            )
            codes.append(r.status_code)
    assert codes == [401] * 4 + [429] * 2


def test_forwarded_for_is_believed_from_a_configured_proxy(
    serve: Callable[..., tuple[str, Any]], doubles: None
) -> None:
    url, _app = serve(login_failures_per_ip=4, trusted_proxies=("127.0.0.1",))
    codes = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for i in range(6):
            page = c.get("/login", headers={"X-Forwarded-For": f"203.0.113.{i}"})
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            r = c.post(
                "/login",
                data={"email": f"u{i}@x.com", "password": "wrong password!", "csrf_token": csrf[1]},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            codes.append(r.status_code)
    assert codes == [401] * 6  # six different clients behind the proxy
