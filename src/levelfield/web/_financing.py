"""Financing pages: credit offers on one scale, the 13-week cash forecast, the lender pack.

``GET /orgs/{id}/financing`` runs the financing analysis on the organization's workspace
and shows the offers ranked by APR, the cash forecast with the first week below the
buffer, and the lender metrics; without enough orders it says what to import.
``POST /orgs/{id}/financing/lender-pack`` (CSRF) returns the printable lender pack as a
download (the same file as ``levelfield report --lender``: totals only, no script).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from levelfield.errors import LevelfieldError
from levelfield.web._auth import AppState, PageUser, page_member, page_user, require_csrf
from levelfield.web._store import Membership

__all__ = ["financing_router"]

Render = Callable[..., Response]

#: Futures per page view: bands stable to about a percentage point, a few seconds of work.
N_FUTURES = 1_000


def financing_router(st: AppState, render: Render) -> APIRouter:
    """The financing page and the lender-pack download of an organization."""
    router = APIRouter(include_in_schema=False)
    tenants = st.tenants

    def overview(m: Membership) -> dict[str, Any]:
        from levelfield import financing
        from levelfield.report import build_lender_pack

        with tenants.lock(m.org.org_id):
            ws = tenants.workspace(m.org)
            try:
                res = financing.analyze(ws, n_futures=N_FUTURES)
            except LevelfieldError as exc:
                return {"pack": None, "problem": f"{type(exc).__name__}: {exc}"}
            pack = build_lender_pack(ws, res)
        return {"pack": pack, "problem": None}

    @router.get("/orgs/{org_id}/financing")
    async def financing_page(
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        ctx = await run_in_threadpool(overview, m)
        return render(request, "financing.html", user=pu.user, org=m.org, session=pu.session, **ctx)

    def lender_pack(m: Membership) -> str:
        from levelfield.report import build_lender_pack, render_lender_pack

        with tenants.lock(m.org.org_id):
            ws = tenants.workspace(m.org)
            return render_lender_pack(build_lender_pack(ws))

    @router.post("/orgs/{org_id}/financing/lender-pack")
    async def lender_pack_download(
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        try:
            html = await run_in_threadpool(lender_pack, m)
        except LevelfieldError as exc:
            raise HTTPException(400, f"{type(exc).__name__}: {exc}") from None
        from levelfield.report import LENDER_CSP

        return Response(
            html,
            media_type="text/html",
            headers={
                "Content-Disposition": 'attachment; filename="lender-pack.html"',
                "Content-Security-Policy": "sandbox; " + LENDER_CSP,
            },
        )

    return router
