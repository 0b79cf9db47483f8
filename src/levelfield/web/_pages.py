"""What every page router shares: template rendering, error pages and form checks.

The routers (``_login``, ``_org``, ``_tokens``, ``_account``, ``_provenance`` ...) each
take a :class:`Pages` (or its ``render``) instead of closing over ``create_app``'s
locals, so each area of the app is a module that can be read and tested alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.exceptions import HTTPException as StarletteHTTPException

from levelfield._version import __version__
from levelfield.errors import AuthError, LevelfieldError
from levelfield.report._render import report_csp
from levelfield.web._auth import AppState, LoginRequiredError, csrf_ok
from levelfield.web._store import User

__all__ = ["Pages", "Render", "install_error_handlers", "report_csp_header"]

#: A page renderer: ``render(request, template, status=200, **context)``.
Render = Callable[..., Response]


def report_csp_header() -> str:
    """The report's own policy, in a sandbox: served by the app it runs in no origin."""
    return "sandbox allow-scripts allow-downloads; " + report_csp()


@dataclass(frozen=True)
class Pages:
    """Renders pages for one app: its state, its template environment."""

    st: AppState
    env: Environment

    def render(self, request: Request, template: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        """``template`` with the session's CSRF token and the version; ``ctx`` as given."""
        row = ctx.pop("session", None) or self.st.session(request)
        ctx.setdefault("user", None)
        ctx.setdefault("org", None)
        html = self.env.get_template(template).render(
            csrf=row.csrf if row else "", version=__version__, **ctx
        )
        return HTMLResponse(html, status_code=code)

    @staticmethod
    def is_htmx(request: Request) -> bool:
        """Whether HTMX sent the request (it wants a fragment, not a page)."""
        return request.headers.get("hx-request") == "true"

    def anon_page(self, request: Request, template: str, code: int = 200, **ctx: Any) -> Response:
        """A page with a form for visitors: it gets a session so its CSRF token has an owner."""
        row = self.st.session(request)
        cookie_carrier = None
        if row is None:
            cookie_carrier = Response()
            row = self.st.start_session(request, cookie_carrier, None)
        resp = self.render(request, template, code, session=row, **ctx)
        if cookie_carrier is not None:
            for value in cookie_carrier.headers.getlist("set-cookie"):
                resp.headers.append("set-cookie", value)
        return resp

    def signed_in_redirect(self, request: Request, user: User, to: str) -> Response:
        """A redirect to ``to`` that starts ``user``'s session."""
        resp = RedirectResponse(to, status_code=303)
        self.st.start_session(request, resp, user.user_id)
        return resp

    def check_form_csrf(self, request: Request, token: str) -> None:
        """403 unless ``token`` is the session's CSRF token (forms posted by visitors)."""
        if not csrf_ok(self.st.session(request), token):
            raise HTTPException(
                403, "the form expired or did not come from this site; reload the page"
            )

    def error_response(
        self, request: Request, status: int, detail: str, headers: Any = None
    ) -> Response:
        """JSON for the API and static files, a fragment for HTMX, else an error page."""
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return JSONResponse({"detail": detail}, status_code=status, headers=headers)
        if self.is_htmx(request):
            return self.render(request, "_error_fragment.html", status, detail=detail)
        titles = {403: "Not allowed", 404: "Not found", 413: "File too large", 429: "Slow down"}
        return self.render(
            request,
            "error.html",
            status,
            status_code=status,
            title=titles.get(status, "Error"),
            detail=detail,
        )


def install_error_handlers(app: FastAPI, pages: Pages) -> None:
    """Plain-language answers for HTTP errors, bad forms, logins and library errors."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return pages.error_response(
            request, exc.status_code, str(exc.detail), getattr(exc, "headers", None)
        )

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error(request: Request, exc: StarletteHTTPException) -> Response:
        return pages.error_response(
            request, exc.status_code, str(exc.detail), getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": json.loads(json.dumps(exc.errors(), default=str))}, 422)
        fields = ", ".join(str(e.get("loc", ["", "?"])[-1]) for e in exc.errors())
        return pages.error_response(request, 422, f"the form is incomplete: check {fields}")

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "log in first"}, 401)
        if pages.is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(LevelfieldError)
    async def library_error(request: Request, exc: LevelfieldError) -> Response:
        status = 403 if isinstance(exc, AuthError) else 400
        return pages.error_response(request, status, f"{type(exc).__name__}: {exc}")
