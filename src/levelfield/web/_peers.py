"""Peer page: where the organization's business stands among the association's peers.

``GET /orgs/{id}/peers`` shows the business's position on each published peer metric
(:func:`levelfield.report.peer_positions`), from the organization's latest recorded
findings and the peer release it uploaded. ``POST /orgs/{id}/peers`` stores a release
(``peer_benchmarks.parquet`` from the association's ``levelfield fleet run``), checked
before it replaces the previous one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from levelfield.errors import LevelfieldError
from levelfield.report import peer_positions, read_peer_release
from levelfield.web._auth import AppState, PageUser, page_member, page_user, require_csrf
from levelfield.web._store import Membership

__all__ = ["peers_router"]

Render = Callable[..., Response]
_ANALYSES = ("customers", "exposure")
_MAX_BYTES = 20_000_000


def peers_router(st: AppState, render: Render) -> APIRouter:
    """The peer page of an organization."""
    router = APIRouter(include_in_schema=False)
    tenants = st.tenants

    def release_path(m: Membership) -> Path:
        return tenants.org_dir(m.org) / "peers.parquet"

    def overview(m: Membership) -> dict[str, Any]:
        path = release_path(m)
        if not path.is_file():
            return {"positions": [], "reason": "No peer release uploaded yet."}
        release = read_peer_release(path)
        with tenants.lock(m.org.org_id):
            ws = tenants.workspace(m.org)
            profile = {k: str(ws.get_business(k) or "") for k in ("sector", "region", "size_band")}
            found = [f for a in _ANALYSES for f in (ws.latest_findings(a) or [])]
        if not found:
            return {"positions": [], "reason": "Run the analyses first: no findings yet."}
        try:
            positions = peer_positions(release, profile, {f.metric: f.value for f in found})
        except LevelfieldError as exc:
            return {"positions": [], "reason": str(exc)}
        reason = "" if positions else "No published peer group has a metric you measured."
        return {"positions": positions, "reason": reason, "profile": profile}

    @router.get("/orgs/{org_id}/peers")
    async def peers_page(
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        ctx = await run_in_threadpool(overview, m)
        return render(request, "peers.html", user=pu.user, org=m.org, session=pu.session, **ctx)

    def store(m: Membership, data: bytes) -> None:
        target = release_path(m)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".peers-{uuid.uuid4().hex}.parquet")
        try:
            tmp.write_bytes(data)
            read_peer_release(tmp)  # a file that is not a release never replaces one
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)

    @router.post("/orgs/{org_id}/peers")
    async def peers_upload(
        file: UploadFile,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        data = await file.read(_MAX_BYTES + 1)
        if len(data) > _MAX_BYTES:
            raise HTTPException(413, "a peer release is at most 20 MB")
        try:
            await run_in_threadpool(store, m, data)
        except LevelfieldError as exc:
            raise HTTPException(400, str(exc)) from None
        return RedirectResponse(f"/orgs/{m.org.org_id}/peers", status_code=303)

    return router
