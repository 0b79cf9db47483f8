"""The FastAPI application: assembles the page routers, the JSON API and static files.

Each area of the app is its own router module, as in FastAPI's "bigger applications"
layout: ``_login`` (sign in/up/out), ``_org`` (overview, analyses, runs, report),
``_upload_pages`` (uploads and column mapping), ``_tokens``, ``_account``,
``_provenance`` and ``_api`` (``/api/v1``). Tenant membership and CSRF are FastAPI
dependencies (``_auth.page_member``, ``_auth.require_csrf``); ``_pages.Pages`` renders
templates and error pages for all of them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import argon2
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from levelfield._version import __version__
from levelfield.report import asset_text, make_environment
from levelfield.report._data import analysis_names
from levelfield.report._render import plotly_js
from levelfield.web._account import account_router
from levelfield.web._api import api_router
from levelfield.web._auth import AppState
from levelfield.web._contacts import contacts_router
from levelfield.web._cooperation import cooperation_router
from levelfield.web._financing import financing_router
from levelfield.web._login import login_router
from levelfield.web._org import OrgViews, org_router
from levelfield.web._pages import Pages, install_error_handlers
from levelfield.web._peers import peers_router
from levelfield.web._provenance import provenance_router
from levelfield.web._settings import settings_router
from levelfield.web._store import Store
from levelfield.web._tenants import Settings, Tenants
from levelfield.web._tokens import tokens_router
from levelfield.web._upload_flow import UploadFlow
from levelfield.web._upload_pages import upload_router
from levelfield.web._uploads import BodyLimitMiddleware

__all__ = ["create_app"]

WEB_DIR = Path(str(resources.files("levelfield.web")))
TEMPLATES = WEB_DIR / "templates"
STATIC = WEB_DIR / "static"

# Plotly needs inline styles and (for some trace types) Function(); nothing loads from
# another origin.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
_ASSET_TYPES = {
    "plotly.min.js": "text/javascript",
    "report.css": "text/css",
    "charts.js": "text/javascript",
}


class SecurityHeaders:
    """Add security headers to every response (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", CSP.encode()),
                    # Pages and API answers hold a business's data: never kept in caches
                    # (static assets set their own Cache-Control).
                    (b"cache-control", b"no-store"),
                ]
                if https:  # behind a trusted HTTPS proxy, or TLS in uvicorn
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(data_dir: str | Path, *, settings: Settings | None = None) -> FastAPI:
    """The levelfield web app over ``data_dir``.

    ``data_dir`` holds ``app.sqlite3`` (users, organizations, memberships, sessions,
    hashed API tokens, login failures, jobs, cached results) and one folder per
    organization under ``orgs/`` with its DuckDB workspace and latest report.
    """
    cfg = settings or Settings()
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    store = Store(root / "app.sqlite3")
    store.interrupt_running_jobs()
    tenants = Tenants(root, store, cfg.max_open_workspaces)
    hasher = argon2.PasswordHasher(
        time_cost=cfg.argon2_time_cost,
        memory_cost=cfg.argon2_memory_kib,
        parallelism=cfg.argon2_parallelism,
    )
    st = AppState(cfg, store, tenants, hasher)
    flow = UploadFlow(st)
    env = make_environment(TEMPLATES)
    # The templates ship with the package: compile each once, never stat them per request.
    env.auto_reload = False
    pages = Pages(st, env)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Warm up before the first visitor: the analysis list imports the analyses.
        await run_in_threadpool(analysis_names)
        # Pending uploads of an earlier process cannot be decrypted (the key was in its
        # memory): delete them now, and expired ones every minute from now on.
        await run_in_threadpool(functools.partial(flow.sweep, everything=True))
        sweeper = asyncio.create_task(_sweep_pending(flow))
        yield
        sweeper.cancel()
        # Imports still running write to the store: let them finish before it closes.
        await run_in_threadpool(flow.queue.wait_idle)
        await run_in_threadpool(tenants.close)
        st.close()

    app = FastAPI(
        title="levelfield",
        version=__version__,
        description="Strategy analytics for small businesses. JSON API: authenticate with "
        "`Authorization: Bearer <token>` (create tokens under API in the web app).",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN: not offered. The OpenAPI
        # document at /openapi.json works with any local OpenAPI viewer.
        docs_url=None,
        redoc_url=None,
    )
    app.state.lf = st
    app.state.uploads = flow
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_upload_bytes + 1_000_000)
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app, pages)
    _add_static(app)

    views = OrgViews(pages)
    app.include_router(login_router(pages))
    app.include_router(org_router(views))
    app.include_router(upload_router(views, flow))
    app.include_router(tokens_router(pages))
    app.include_router(account_router(st, pages.render, pages.anon_page))
    app.include_router(provenance_router(st, pages.render))
    app.include_router(peers_router(st, pages.render))
    app.include_router(cooperation_router(st, pages.render))
    app.include_router(contacts_router(st, pages.render))
    app.include_router(settings_router(st, pages.render))
    app.include_router(financing_router(st, pages.render))
    app.include_router(api_router(st, flow))
    return app


def _add_static(app: FastAPI) -> None:
    """The report's assets from memory (cached a day), the rest from ``static/``."""
    cache = {"Cache-Control": "public, max-age=86400"}

    def asset_route(name: str, media_type: str) -> None:
        async def asset() -> Response:
            return Response(_asset_bytes(name), media_type=media_type, headers=cache)

        app.add_api_route(f"/static/{name}", asset, methods=["GET"], include_in_schema=False)

    for name, media_type in _ASSET_TYPES.items():
        asset_route(name, media_type)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)


async def _sweep_pending(flow: UploadFlow) -> None:
    """Delete pending uploads past their time limit, every minute (or sooner)."""
    period = max(1.0, min(60.0, flow.pending.ttl_s / 4))
    while True:
        await asyncio.sleep(period)
        await run_in_threadpool(flow.sweep)


@functools.cache
def _asset_bytes(name: str) -> bytes:
    """A static asset served from memory, encoded once (Plotly's bundle is 4.6 MB)."""
    text = plotly_js() if name == "plotly.min.js" else asset_text(name)
    return text.encode("utf-8")
