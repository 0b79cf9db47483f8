"""The API tokens page (``/account/tokens``): create, list and revoke bearer tokens.

A new token's secret is shown once, on the page that created it; the store keeps only
its hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from levelfield.web._auth import PageUser, page_user, require_csrf
from levelfield.web._pages import Pages

__all__ = ["tokens_router"]


def tokens_router(pages: Pages) -> APIRouter:
    """``/account/tokens``: the signed-in user's API tokens."""
    store = pages.st.store
    router = APIRouter(include_in_schema=False)

    def tokens_page(request: Request, pu: PageUser, new_token: str = "") -> HTMLResponse:
        toks = [
            {
                "token_id": t[0],
                "name": t[1],
                "created": dt.datetime.fromtimestamp(t[2], dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            }
            for t in store.tokens(pu.user.user_id)
        ]
        ms = store.memberships(pu.user.user_id)
        return pages.render(
            request,
            "tokens.html",
            user=pu.user,
            org=ms[0].org if ms else None,
            session=pu.session,
            tokens=toks,
            new_token=new_token,
        )

    @router.get("/account/tokens")
    def tokens_get(request: Request, pu: Annotated[PageUser, Depends(page_user)]) -> Response:
        return tokens_page(request, pu)

    @router.post("/account/tokens")
    def tokens_post(
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        name: Annotated[str, Form(min_length=1, max_length=80)],
    ) -> Response:
        _tid, secret = store.create_token(pu.user.user_id, " ".join(name.split()) or "token")
        return tokens_page(request, pu, new_token=secret)

    @router.post("/account/tokens/{token_id}/delete")
    def tokens_delete(token_id: str, pu: Annotated[PageUser, Depends(require_csrf)]) -> Response:
        if not store.delete_token(pu.user.user_id, token_id):
            raise HTTPException(404, "no such token")
        return RedirectResponse("/account/tokens", status_code=303)

    return router
