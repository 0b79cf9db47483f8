"""Run the web app with Uvicorn, optionally with a demo organization and account."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from levelfield.demo import build_demo
from levelfield.errors import LevelfieldError
from levelfield.web._app import create_app
from levelfield.web._auth import AppState
from levelfield.web._tenants import Settings

__all__ = ["DEMO_EMAIL", "DemoAccount", "create_demo", "serve", "uvicorn_config"]

DEMO_EMAIL = "demo@levelfield.local"
DEMO_ORG = "Demo business"


@dataclass(frozen=True)
class DemoAccount:
    """The demo login, its organization and what happened to the demo data."""

    email: str
    password: str
    org_id: str
    message: str
    has_data: bool


def create_demo(app: FastAPI, *, seed: int = 7) -> DemoAccount:
    """Create (or reset the password of) the demo account and fill its organization.

    The demo data come from :func:`levelfield.demo.build_demo`; when it cannot build
    them the organization starts empty and ``message`` says why. A filled organization
    gets an analysis run started in the background.
    """
    st: AppState = app.state.lf
    password = secrets.token_urlsafe(12)
    user = st.store.user_by_email(DEMO_EMAIL)
    if user is None:
        user, org = st.sign_up(DEMO_EMAIL, password, DEMO_ORG)
    else:
        st.store.set_password_hash(user.user_id, st.hash_password(password))
        org = st.store.memberships(user.user_id)[0].org
    ws = st.tenants.workspace(org)
    if ws.counts()["orders"] > 0:
        if st.tenants.report_data(org.org_id) is None:
            st.tenants.start_run(org, user.user_id)
        return DemoAccount(DEMO_EMAIL, password, org.org_id, "demo data loaded earlier", True)
    demo_dir = st.tenants.org_dir(org) / "demo"
    try:
        build_demo(demo_dir, seed=seed, force=True, key_dir=st.tenants.key_dir)
    except LevelfieldError as exc:
        return DemoAccount(
            DEMO_EMAIL, password, org.org_id, f"demo data could not be built: {exc}", False
        )
    built = demo_dir / "levelfield.duckdb"
    if not built.exists():
        return DemoAccount(
            DEMO_EMAIL,
            password,
            org.org_id,
            f"the demo builder wrote no workspace at {built}",
            False,
        )
    st.tenants.adopt_workspace(org, built)
    org = st.store.memberships(user.user_id)[0].org
    st.tenants.start_run(org, user.user_id)
    return DemoAccount(
        DEMO_EMAIL, password, org.org_id, "demo business loaded; analyses are running", True
    )


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: str | Path = "levelfield-web",
    demo: bool = False,
    console: Any = None,
    settings: Settings | None = None,
) -> None:
    """Serve the web app with Uvicorn until interrupted (``levelfield serve``)."""
    say = console.print if console is not None else print
    app = create_app(data_dir, settings=settings)
    url = f"http://{host}:{port}"
    if demo:
        acct = create_demo(app)
        say(f"Demo organization: {acct.message}")
        say(f"Log in at {url}/login as {acct.email} with password {acct.password}")
    if host not in ("127.0.0.1", "localhost", "::1") and not app.state.lf.settings.trusted_proxies:
        say(
            "Serving beyond this computer: put levelfield behind an HTTPS proxy and name it "
            "with --trusted-proxy, so cookies get the Secure flag and limits see real clients."
        )
    if not app.state.lf.settings.allow_signup:
        say("Sign-up is closed: owners invite people from their Account page.")
    say(f"levelfield web app: {url} (Ctrl+C to stop); data in {Path(data_dir).resolve()}")
    import uvicorn

    uvicorn.Server(uvicorn_config(app, host=host, port=port)).run()


def uvicorn_config(app: FastAPI, *, host: str, port: int) -> Any:
    """How levelfield runs under Uvicorn (``serve``, the tests' real server, benchmarks).

    Proxy headers (``X-Forwarded-For``/``-Proto``) are believed only from the addresses
    in ``Settings.trusted_proxies``; by default the client is the TCP peer, so nobody can
    choose the address that login limits count.
    """
    import uvicorn

    trusted: tuple[str, ...] = app.state.lf.settings.trusted_proxies
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=list(trusted) if trusted else [],
        server_header=False,
    )
