"""Cooperation page: this business's share of its group's results.

``GET /orgs/{id}/cooperation`` shows what the organization's workspace holds from its
group (``levelfield cooperate buying-group --workspaces`` and ``cooperate partners``): its
saving in the buying group under the three splits, the pooled items, its partners with the
reasons and a suggestion, its rivals for co-opetition, and the privacy model.

``POST /orgs/{id}/cooperation/buying-group`` lets the group's treasurer run the
buying-group simulation from two uploads (a purchases CSV and a price-breaks CSV, the
``levelfield template`` files): the page shows the pooled items, the three splits side by
side with the core check of each, or (``action=pack``) answers with the evidence pack
(:func:`levelfield.cooperation.render_buying_pack`) as a download. The uploads have the
import flow's limits (size, type sniffed from the content, column count), live in the
app's temp folder only while they are read and are deleted in every case; nothing about
them is stored in the workspace or logged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException

from levelfield.cooperation import BuyingGroupResult, buying_group
from levelfield.cooperation._inputs import (
    _read_csv,
    check_price_breaks,
    check_purchases,
)
from levelfield.cooperation._pack import PACK_CSP, render_buying_pack
from levelfield.cooperation._sentences import (
    RULES,
    core_sentences,
    item_sentences,
    recommendation,
)
from levelfield.errors import DataError, LevelfieldError
from levelfield.report import cooperation_view
from levelfield.web._auth import AppState, PageUser, csrf_ok, page_member, page_user
from levelfield.web._contacts import _copy
from levelfield.web._store import Membership, new_id
from levelfield.web._upload_guard import check_columns, redact
from levelfield.web._uploads import display_name, sniff_type

__all__ = ["cooperation_router"]

Render = Callable[..., Response]


_FILES = {"purchases": "purchases", "price_breaks": "price breaks"}


def _simulate(
    paths: dict[str, Path], names: dict[str, str], max_columns: int
) -> tuple[BuyingGroupResult, list[tuple[str, str]]]:
    """Read and check both uploads (errors name the uploaded file), then simulate."""
    frames = {}
    for kind, path in paths.items():
        detected = sniff_type(path, names[kind])
        if detected not in ("csv", "txt", "tsv"):
            raise DataError(
                f"{names[kind]}: the {_FILES[kind]} file must be a CSV (it looks like "
                f"{detected}); download the template with 'levelfield template {kind}'"
            )
        check_columns(path, detected, names[kind], max_columns)
        frames[kind] = _read_csv(path)
    check_purchases(frames["purchases"], names["purchases"])
    check_price_breaks(frames["price_breaks"], names["price_breaks"])
    result = buying_group(frames["purchases"], frames["price_breaks"])
    shas = [
        (names[k], hashlib.sha256(paths[k].read_bytes()).hexdigest())
        for k in ("purchases", "price_breaks")
    ]
    return result, shas


def _sim_view(result: BuyingGroupResult, inputs: list[tuple[str, str]]) -> dict[str, Any]:
    """What the page shows of a simulation (sentences and the members' rows)."""
    return {
        "items": item_sentences(result),
        "total_saving": result.total_saving,
        "members": result.members.to_dict("records"),
        "shapley_se": None if result.shapley_se is None else list(result.shapley_se),
        "method": result.shapley_method,
        "rules": RULES,
        "core": core_sentences(result),
        "recommendation": recommendation(result),
        "notes": list(result.notes),
        "inputs": inputs,
    }


async def _form(request: Request) -> FormData:
    try:
        return await request.form(max_files=2, max_fields=10)
    except MultiPartException as exc:
        raise HTTPException(400, f"the upload could not be read: {exc.message}") from None


async def _save_uploads(
    form: FormData, pu: PageUser, header_token: str | None, paths: dict[str, Path], limit: int
) -> dict[str, str]:
    """Check the CSRF token, copy both uploads to ``paths``; their display names by kind.

    The token comes from the ``x-csrf-token`` header, else the form's field (403
    otherwise); a missing file is a 422, a file over ``limit`` bytes a 413.
    """
    token = header_token or form.get("csrf_token")
    if not csrf_ok(pu.session, token if isinstance(token, str) else None):
        raise HTTPException(403, "the form expired or did not come from this site; reload the page")
    names = {}
    for kind, label in _FILES.items():
        upload = form.get(kind)
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(422, f"attach the {label} CSV as the '{kind}' field")
        names[kind] = display_name(upload.filename)
        paths[kind].parent.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(_copy, upload, paths[kind], limit)
    return names


def _failure_message(exc: LevelfieldError, paths: dict[str, Path], names: dict[str, str]) -> str:
    """The error for the page: the uploaded files' names instead of the temporary ones,
    e-mail addresses and phone numbers masked."""
    message = f"{type(exc).__name__}: {exc}"
    for kind, path in paths.items():
        message = message.replace(str(path), names[kind]).replace(path.name, names[kind])
    return redact(message)


def _evidence_pack(result: BuyingGroupResult, shas: list[tuple[str, str]], org: str) -> Response:
    """The buying group's evidence pack as a download (sandboxed, never cached)."""
    body = render_buying_pack(result, shas, title=f"{org}: buying group")
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="buying-group-evidence.html"',
            "Cache-Control": "no-store",
            "Content-Security-Policy": "sandbox; " + PACK_CSP,
        },
    )


class _CooperationPages:
    """The cooperation page and the buying-group simulation of one app."""

    def __init__(self, st: AppState, render: Render) -> None:
        self.st = st
        self.render = render
        self.tmp_dir = st.tenants.data_dir / "tmp"

    def overview(self, m: Membership) -> dict[str, Any]:
        """What the workspace holds from the group (blocking: run it in a thread)."""
        tenants = self.st.tenants
        with tenants.lock(m.org.org_id):
            ws = tenants.workspace(m.org)
            view = cooperation_view(ws)
            currency = ws.currency()
        return {
            "view": view,
            "currency": currency,
            "headline": view.headline(currency) if view else [],
        }

    async def page(
        self, request: Request, pu: PageUser, m: Membership, code: int = 200, **extra: Any
    ) -> Response:
        """The page, with ``extra`` (a simulation or its error) over the overview."""
        ctx = await run_in_threadpool(self.overview, m)
        ctx = {"sim": None, "sim_error": None} | ctx | extra
        return self.render(
            request, "cooperation.html", code, user=pu.user, org=m.org, session=pu.session, **ctx
        )

    async def cooperation_page(
        self,
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        return await self.page(request, pu, m)

    async def buying_group_run(
        self,
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        form = await _form(request)
        stem = new_id()
        paths = {k: self.tmp_dir / f"{stem}.{k}" for k in _FILES}
        settings = self.st.settings
        try:
            names = await _save_uploads(
                form, pu, request.headers.get("x-csrf-token"), paths, settings.max_upload_bytes
            )
            try:
                result, shas = await run_in_threadpool(
                    _simulate, paths, names, settings.max_columns
                )
            except LevelfieldError as exc:
                message = _failure_message(exc, paths, names)
                return await self.page(request, pu, m, 422, sim_error=message)
        finally:
            await form.close()
            for leftover in self.tmp_dir.glob(f"{stem}.*"):
                leftover.unlink(missing_ok=True)
        if form.get("action") == "pack":
            return _evidence_pack(result, shas, m.org.name)
        return await self.page(request, pu, m, sim=_sim_view(result, shas))


def cooperation_router(st: AppState, render: Render) -> APIRouter:
    """The cooperation page of an organization."""
    views = _CooperationPages(st, render)
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/orgs/{org_id}/cooperation", views.cooperation_page, methods=["GET"])
    router.add_api_route(
        "/orgs/{org_id}/cooperation/buying-group", views.buying_group_run, methods=["POST"]
    )
    return router
