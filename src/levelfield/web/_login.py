"""Signing in and out: ``/``, ``/login``, ``/signup`` and ``/logout``.

Password hashing runs in the app's bounded hashing pool (``AppState.in_hash_pool``), so a
crowd of logins cannot starve page views of worker threads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from levelfield.errors import AuthError, LevelfieldError
from levelfield.web._auth import (
    DEVICE_COOKIE,
    MIN_PASSWORD,
    PageUser,
    RateLimitError,
    client_ip,
    require_csrf,
)
from levelfield.web._pages import Pages

__all__ = ["NOTICES", "SIGNUP_CLOSED", "login_router"]

SIGNUP_CLOSED = "sign-up is closed on this server; ask an organization's owner for an invitation"
#: Messages the login page shows after a redirect (``/login?notice=...``).
NOTICES = {
    "signed-up": "If this e-mail address was new, its account and business are ready: log in. "
    "If it had an account already, log in with that account's password.",
    "logged-out-everywhere": "You are logged out on every device.",
    "joined": "Your account is ready: log in to open the business you were invited to.",
}


def login_router(pages: Pages) -> APIRouter:
    """The home redirect, log-in, sign-up and log-out pages.

    Long by design: a router factory in FastAPI's layout, each nested function one
    route (none over ~40 lines) sharing the app state it closes over.
    """
    st = pages.st
    cfg, store = st.settings, st.store
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(request: Request) -> Response:
        row = st.session(request)
        if row is None or row.user_id is None:
            return RedirectResponse("/login", status_code=303)
        ms = store.memberships(row.user_id)
        return RedirectResponse(f"/orgs/{ms[0].org.org_id}" if ms else "/account/tokens", 303)

    @router.get("/login")
    def login_page(request: Request, notice: str = "") -> Response:
        return pages.anon_page(
            request,
            "login.html",
            error="",
            email="",
            allow_signup=cfg.allow_signup,
            notice=NOTICES.get(notice, ""),
        )

    @router.post("/login")
    async def login(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=1024)],
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        pages.check_form_csrf(request, csrf_token)
        return await st.in_hash_pool(log_in, request, email, password)

    def log_in(request: Request, email: str, password: str) -> Response:
        try:
            result = st.log_in(
                email, password, client_ip(request), request.cookies.get(DEVICE_COOKIE)
            )
        except AuthError as exc:
            return pages.anon_page(
                request,
                "login.html",
                429 if isinstance(exc, RateLimitError) else 401,
                error=str(exc),
                email=email,
                allow_signup=cfg.allow_signup,
                notice="",
            )
        resp = pages.signed_in_redirect(request, result.user, "/")
        if result.new_device is not None:
            st.remember_device(request, resp, result.new_device)
        return resp

    @router.get("/signup")
    def signup_page(request: Request) -> Response:
        if not cfg.allow_signup:
            raise HTTPException(404, SIGNUP_CLOSED)
        return pages.anon_page(
            request, "signup.html", error="", email="", org_name="", min_password=MIN_PASSWORD
        )

    @router.post("/signup")
    async def signup(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=1024)],
        org_name: Annotated[str, Form(max_length=200)],
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        if not cfg.allow_signup:
            raise HTTPException(404, SIGNUP_CLOSED)
        pages.check_form_csrf(request, csrf_token)
        try:
            st.signup_allowed(client_ip(request))
        except RateLimitError as exc:
            raise HTTPException(429, str(exc)) from None
        return await st.in_hash_pool(sign_up, request, email, password, org_name)

    def sign_up(request: Request, email: str, password: str, org_name: str) -> Response:
        try:
            st.register(email, password, org_name)
        except LevelfieldError as exc:
            return pages.anon_page(
                request,
                "signup.html",
                400,
                error=str(exc),
                email=email,
                org_name=org_name,
                min_password=MIN_PASSWORD,
            )
        # The same answer whether the address was new or had an account already.
        return RedirectResponse("/login?notice=signed-up", status_code=303)

    @router.post("/logout")
    def logout(request: Request, pu: Annotated[PageUser, Depends(require_csrf)]) -> Response:
        resp = RedirectResponse("/login", status_code=303)
        st.end_session(request, resp)
        resp.headers["Clear-Site-Data"] = '"cache", "storage"'
        return resp

    return router
