"""Cooperation page: this business's share of its group's results.

``GET /orgs/{id}/cooperation`` shows what the organization's workspace holds from its
group (``levelfield cooperate buying-group --workspaces`` and ``cooperate partners``): its
saving in the buying group under the three splits, the pooled items, its partners with the
reasons and a suggestion, its rivals for co-opetition, and the privacy model. Group
analyses need the other members' workspaces, so the page shows stored results only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from levelfield.report import cooperation_view
from levelfield.web._auth import AppState, PageUser, page_member, page_user
from levelfield.web._store import Membership

__all__ = ["cooperation_router"]

Render = Callable[..., Response]


def cooperation_router(st: AppState, render: Render) -> APIRouter:
    """The cooperation page of an organization."""
    router = APIRouter(include_in_schema=False)
    tenants = st.tenants

    def overview(m: Membership) -> dict[str, Any]:
        with tenants.lock(m.org.org_id):
            ws = tenants.workspace(m.org)
            view = cooperation_view(ws)
            currency = ws.currency()
        return {
            "view": view,
            "currency": currency,
            "headline": view.headline(currency) if view else [],
        }

    @router.get("/orgs/{org_id}/cooperation")
    async def cooperation_page(
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        ctx = await run_in_threadpool(overview, m)
        return render(
            request, "cooperation.html", user=pu.user, org=m.org, session=pu.session, **ctx
        )

    return router
