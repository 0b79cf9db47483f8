"""Fixtures for the web app: a fresh data folder, cheap password hashing, test doubles.

Fast doubles that honour docs/contracts.md (tests/report/fakes.py) stand in for the
analyses, the advice playbook and ingest, so the web app's own behaviour is tested in
seconds; tests/web/test_browser_real.py runs the real components.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from levelfield import Workspace
from levelfield.web import Settings, create_app

_FAKES = Path(__file__).resolve().parents[1] / "report" / "fakes.py"


def load_fakes() -> ModuleType:
    if "lf_test_fakes" in sys.modules:
        return sys.modules["lf_test_fakes"]
    spec = importlib.util.spec_from_file_location("lf_test_fakes", _FAKES)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lf_test_fakes"] = mod
    spec.loader.exec_module(mod)
    return mod


fakes = load_fakes()

FAST = Settings(
    argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1, allow_weak_hashing=True
)
PASSWORD = "correct horse battery"
ORDERS_CSV = (
    "order_id,customer,date,channel,total\n"
    "1001,ann@example.com,2024-03-01,shopify,120.50\n"
    "1002,bob@example.com,2024-03-02,etsy,80.00\n"
    "1003,ann@example.com,2024-04-11,shopify,64.25\n"
    "1004,cat@example.com,2024-05-20,shopify,twelve\n"
)


@dataclass(frozen=True)
class FakeSummary:
    import_id: int
    profile: str
    rows_in: int
    rows_loaded: int
    rows_rejected: int


def fake_import_file(
    ws: Workspace,
    kind: str,
    path: Path,
    *,
    profile: str | None = None,
    mapping: dict[str, str] | None = None,
    channel: str | None = None,
    dayfirst: bool | None = None,
    decimal_comma: bool | None = None,
    **options: Any,
) -> FakeSummary:
    """A minimal stand-in for levelfield.ingest.import_file: orders CSV with 5 columns.

    A header that does not start with ``order_id`` fails like ingest when no profile
    matches (the message lists the columns found), so the mapping step can be reached.
    """
    from levelfield.errors import SchemaError, UnknownLayoutError

    source_name = Path(path).name
    if kind != "orders":
        raise SchemaError(f"{source_name}: the test importer reads orders only")
    header = Path(path).read_text(encoding="utf-8").splitlines()[0].split(",")
    if header[0] != "order_id" and not mapping:
        raise UnknownLayoutError(
            f"{source_name}: no profile matched the header and the generic layout lacks "
            f"order_id. Columns found: {', '.join(header)}."
        )
    con = ws.con
    import_id = int(con.execute("SELECT nextval('import_id_seq')").fetchall()[0][0])
    rows = con.execute(
        "SELECT * FROM read_csv(?, all_varchar=true, header=true)", [str(path)]
    ).fetchall()
    good = [r for r in rows if re.fullmatch(r"-?\d+(\.\d+)?", r[4] or "")]
    with ws.transaction():
        for i, r in enumerate(rows, start=2):
            if r not in good:
                con.execute(
                    "INSERT INTO rejects VALUES (?, ?, 'total', ?, 'not a number')",
                    [import_id, i, r[4]],
                )
        for r in good:
            con.execute(
                "INSERT OR REPLACE INTO orders (order_id, customer_id, ordered_at, channel, "
                "currency, gross, status, import_id) VALUES (?, lf_pseudonym(?), ?::TIMESTAMP, ?, "
                "'USD', ?::DECIMAL(18,4), 'paid', ?)",
                [r[0], r[1], r[2], r[3], r[4], import_id],
            )
        con.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, 'test-orders', ?, ?, ?, now()::TIMESTAMP, "
            "now()::TIMESTAMP, 'ok', NULL)",
            [
                import_id,
                kind,
                source_name,
                str(import_id),
                len(rows),
                len(good),
                len(rows) - len(good),
            ],
        )
    return FakeSummary(import_id, "test-orders", len(rows), len(good), len(rows) - len(good))


@pytest.fixture
def doubles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake customers/exposure analyses, advice and ingest.import_file; others stay real."""
    import levelfield.ingest

    fakes.install(
        monkeypatch,
        {
            "customers": fakes.make_analysis("customers"),
            "exposure": fakes.make_analysis("exposure"),
        },
        fakes.fake_plan(),
    )
    monkeypatch.setattr(levelfield.ingest, "import_file", fake_import_file, raising=False)
    monkeypatch.setattr(levelfield.ingest, "KINDS", ("orders", "products"), raising=False)


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    made: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(**{**FAST.__dict__, **overrides})
        client = TestClient(create_app(tmp_path / "data", settings=settings))
        client.__enter__()
        made.append(client)
        return client

    yield make
    for c in made:
        c.app.state.lf.tenants.wait()
        c.__exit__(None, None, None)


@pytest.fixture
def client(app_factory: Callable[..., TestClient], doubles: None) -> TestClient:
    return app_factory()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def sign_up(client: TestClient, email: str, org: str = "Shop") -> str:
    """Sign up and log in through the pages; returns the new organization's id."""
    page = client.get("/signup")
    r = client.post(
        "/signup",
        data={
            "email": email,
            "password": PASSWORD,
            "org_name": org,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login?notice=signed-up", r.text
    log_in(client, email)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/orgs/"), r.headers
    return r.headers["location"].rsplit("/", 1)[-1]


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    """Log in through the login page; returns the response (303 on success)."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def page_csrf(client: TestClient, org_id: str) -> str:
    return csrf_of(client.get(f"/orgs/{org_id}").text)


def all_routes(routes: Any) -> list[Any]:
    """Every route, including those of included routers (FastAPI >= 0.16x nests them)."""
    out: list[Any] = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            out.extend(all_routes(inner.routes))
        else:
            out.append(r)
    return out
