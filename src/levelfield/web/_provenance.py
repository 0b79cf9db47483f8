"""Provenance pages: the lots in an organization's log and their self-verifying exports.

``GET /orgs/{id}/provenance`` lists the lots (origin, use, certificates), the signing
key's fingerprint to publish, and the share of revenue whose origin is documented.
``POST /orgs/{id}/provenance/{lot}/export`` logs a publication of the lot's record and
returns the one-file page that verifies itself offline (the same as
``levelfield provenance export``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from levelfield.errors import LevelfieldError
from levelfield.provenance import (
    ProvenanceLog,
    build_export,
    documented_revenue_share,
    format_fingerprint,
    lot_rows,
    render_export_html,
)
from levelfield.web._auth import AppState, PageUser, page_member, page_user, require_csrf
from levelfield.web._store import Membership

__all__ = ["provenance_router"]

Render = Callable[..., Response]


def provenance_router(st: AppState, render: Render) -> APIRouter:
    """The provenance pages of an organization."""
    router = APIRouter(include_in_schema=False)
    tenants = st.tenants

    def overview(m: Membership) -> dict[str, Any]:
        with tenants.lock(m.org.org_id):
            ws = tenants.workspace(m.org)
            log = ProvenanceLog(ws)
            lots = lot_rows([e.body for e in log.entries()])
            key = log.active_key()
            share = documented_revenue_share(ws)
        return {
            "lots": lots.to_dict("records"),
            "fingerprint": format_fingerprint(key) if key else None,
            "share": share,
        }

    @router.get("/orgs/{org_id}/provenance")
    async def provenance_page(
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        ctx = await run_in_threadpool(overview, m)
        return render(
            request, "provenance.html", user=pu.user, org=m.org, session=pu.session, **ctx
        )

    def export(m: Membership, lot: str) -> str:
        with tenants.lock(m.org.org_id):
            doc = build_export(ProvenanceLog(tenants.workspace(m.org)), lot)
        return render_export_html(doc)

    @router.post("/orgs/{org_id}/provenance/{lot}/export")
    async def provenance_export(
        lot: str,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        try:
            html = await run_in_threadpool(export, m, lot)
        except LevelfieldError as exc:
            raise HTTPException(404 if isinstance(exc, KeyError) else 400, str(exc)) from None
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in lot)[:80] or "lot"
        return Response(
            html,
            media_type="text/html",
            headers={"Content-Disposition": f'attachment; filename="provenance-{safe}.html"'},
        )

    return router
