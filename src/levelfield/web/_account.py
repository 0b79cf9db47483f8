"""Account pages: change the password, log out everywhere, invite people to a business."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from levelfield.errors import AuthError, LevelfieldError
from levelfield.web._auth import (
    MIN_PASSWORD,
    SESSION_COOKIE,
    AppState,
    PageUser,
    csrf_ok,
    page_member,
    page_user,
    require_csrf,
)
from levelfield.web._store import Membership

__all__ = ["account_router"]

#: ``render(request, template, status, **context)`` and the same for visitors' pages.
Render = Callable[..., Response]


def account_router(st: AppState, render: Render, anon_page: Render) -> APIRouter:
    """``/account`` pages and invitations (``/orgs/{id}/invitations``, ``/invite/...``).

    Long by design: a router factory in FastAPI's layout, each nested function one
    route (none over ~40 lines) sharing the app state it closes over.
    """
    store = st.store
    router = APIRouter(include_in_schema=False)

    def account_page(request: Request, pu: PageUser, code: int = 200, **ctx: Any) -> Response:
        ms = store.memberships(pu.user.user_id)
        ctx.setdefault("error", "")
        ctx.setdefault("message", "")
        ctx.setdefault("invite_link", "")
        return render(
            request,
            "account.html",
            code,
            user=pu.user,
            org=ms[0].org if ms else None,
            session=pu.session,
            owned=[m.org for m in ms if m.role == "owner"],
            min_password=MIN_PASSWORD,
            **ctx,
        )

    @router.get("/account")
    def account_get(request: Request, pu: Annotated[PageUser, Depends(page_user)]) -> Response:
        return account_page(request, pu)

    @router.post("/account/password")
    async def change_password(
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        current_password: Annotated[str, Form(max_length=1024)],
        new_password: Annotated[str, Form(max_length=1024)],
    ) -> Response:
        def change() -> Response:
            try:
                ended = st.change_password(
                    pu.user, current_password, new_password, pu.session.session_hash
                )
            except LevelfieldError as exc:
                code = 403 if isinstance(exc, AuthError) else 400
                return account_page(request, pu, code, error=str(exc))
            return account_page(
                request,
                pu,
                message=f"Password changed; {ended} other session(s) logged out.",
            )

        return await st.in_hash_pool(change)

    @router.post("/account/logout-everywhere")
    def logout_everywhere(
        request: Request, pu: Annotated[PageUser, Depends(require_csrf)]
    ) -> Response:
        store.delete_user_sessions(pu.user.user_id)
        store.forget_devices(pu.user.user_id)
        resp = RedirectResponse("/login?notice=logged-out-everywhere", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return resp

    @router.post("/orgs/{org_id}/invitations")
    def invite(
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        if m.role != "owner":
            raise HTTPException(403, "only the business's owner may invite people")
        token = store.create_invitation(
            m.org.org_id, pu.user.user_id, st.settings.invitation_days * 86400
        )
        link = f"{str(request.base_url).rstrip('/')}/invite/{token}"
        return account_page(request, pu, invite_link=link, invite_org=m.org.name)

    @router.get("/invite/{token}")
    def invitation_page(request: Request, token: str) -> Response:
        org = store.invitation_org(token)
        if org is None:
            raise HTTPException(404, "this invitation was used, has expired or does not exist")
        row = st.session(request)
        return anon_page(
            request,
            "invite.html",
            org_name=org.name,
            token=token,
            logged_in=bool(row and row.user_id),
            error="",
            email="",
            min_password=MIN_PASSWORD,
        )

    @router.post("/invite/{token}")
    async def accept_invitation(
        request: Request,
        token: str,
        csrf_token: Annotated[str, Form(max_length=200)] = "",
        email: Annotated[str, Form(max_length=320)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
    ) -> Response:
        row = st.session(request)
        if not csrf_ok(row, csrf_token):
            raise HTTPException(
                403, "the form expired or did not come from this site; reload the page"
            )
        if row is not None and row.user_id is not None:
            org = store.use_invitation(token, row.user_id)
            if org is None:
                raise HTTPException(404, "this invitation was used, has expired or does not exist")
            return RedirectResponse(f"/orgs/{org.org_id}", status_code=303)

        def join() -> Response:
            try:
                st.join(token, email, password)
            except LevelfieldError as exc:
                org = store.invitation_org(token)
                return anon_page(
                    request,
                    "invite.html",
                    400,
                    org_name=org.name if org else "",
                    token=token,
                    logged_in=False,
                    error=str(exc),
                    email=email,
                    min_password=MIN_PASSWORD,
                )
            return RedirectResponse("/login?notice=joined", status_code=303)

        return await st.in_hash_pool(join)

    return router
