"""Upload pages: send an export, and map its columns when no profile knows its header.

The file goes through the upload flow (size and type checks, the per-organization
queue); a header no profile recognises keeps the upload, encrypted, for the
column-mapping step, which re-imports it with the generic profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from levelfield.ingest import GENERIC_FIELDS
from levelfield.web._auth import PageUser, page_member, page_user, require_csrf
from levelfield.web._org import OrgViews
from levelfield.web._store import Membership
from levelfield.web._tenants import (
    ImportOptions,
    ImportOutcome,
    MappingError,
    guess_fields,
    parse_choice,
    validate_mapping,
)
from levelfield.web._upload_flow import UploadFlow

__all__ = ["MappingForm", "upload_router"]


@dataclass(frozen=True)
class MappingForm:
    """What the column-mapping form shows: the stored upload's columns and the choices."""

    org_id: str
    upload_id: str
    columns: tuple[tuple[int, str, str], ...]  # (index, column, chosen field or "")
    fields: tuple[str, ...]
    channel: str = ""
    dayfirst: str = "auto"
    decimal_comma: str = "auto"
    error: str = ""

    @classmethod
    def initial(cls, org_id: str, upload_id: str, columns: tuple[str, ...]) -> MappingForm:
        """The form as first shown: each column's guessed field."""
        guesses = guess_fields(columns)
        return cls(
            org_id,
            upload_id,
            tuple((i, c, guesses.get(c, "")) for i, c in enumerate(columns)),
            tuple(GENERIC_FIELDS),
        )

    @classmethod
    def submitted(
        cls, org_id: str, upload_id: str, columns: tuple[str, ...], data: Any
    ) -> MappingForm:
        """The form as the owner filled it in (``data``: the posted form)."""

        def text(name: str) -> str:
            value = data.get(name)
            return value.strip()[:100] if isinstance(value, str) else ""

        chosen = [
            v if isinstance(v := data.get(f"field_{i}"), str) else "" for i in range(len(columns))
        ]
        return cls(
            org_id,
            upload_id,
            tuple((i, c, chosen[i]) for i, c in enumerate(columns)),
            tuple(GENERIC_FIELDS),
            channel=text("channel"),
            dayfirst=text("dayfirst") or "auto",
            decimal_comma=text("decimal_comma") or "auto",
        )

    def options(self) -> ImportOptions:
        """The import options the form asks for (``MappingError`` when they are invalid)."""
        chosen = {c: field for _i, c, field in self.columns}
        return ImportOptions(
            mapping=validate_mapping(chosen, tuple(c for _i, c, _f in self.columns)),
            channel=self.channel or None,
            dayfirst=parse_choice("day-first dates", self.dayfirst),
            decimal_comma=parse_choice("decimal comma", self.decimal_comma),
        )


def upload_router(views: OrgViews, flow: UploadFlow) -> APIRouter:
    """``/orgs/{org_id}/uploads``: the upload form's target and the column-mapping step.

    Long by design: a router factory in FastAPI's layout, each nested function one
    route (none over ~40 lines) sharing the app state it closes over.
    """
    pages, st = views.pages, views.st
    store, tenants = st.store, st.tenants
    router = APIRouter(include_in_schema=False)

    async def upload_result(
        request: Request,
        pu: PageUser,
        m: Membership,
        outcome: ImportOutcome,
        form: MappingForm | None,
        status: int,
    ) -> HTMLResponse:
        if pages.is_htmx(request):
            return pages.render(
                request,
                "_upload_result.html",
                status,
                session=pu.session,
                outcome=outcome,
                mapping_form=form,
            )
        page = await views.overview(request, pu, m, outcome, form)
        page.status_code = 200 if outcome.ok else status
        return page

    def waiting_upload(m: Membership, upload_id: str) -> tuple[dict[str, Any], ImportOutcome, Path]:
        """An upload of ``m.org`` kept for the mapping step, its outcome and stored file."""
        row = store.upload(m.org.org_id, upload_id)
        if row is None:
            raise HTTPException(404, "no such upload")
        outcome = ImportOutcome.from_json(row["summary_json"])
        path = tenants.stored_upload_path(m.org, upload_id, row["detected_type"])
        if not outcome.needs_mapping or not path.is_file():
            raise HTTPException(
                404, "this upload is not waiting for a column mapping; upload the file again"
            )
        return row, outcome, path

    @router.post("/orgs/{org_id}/uploads")
    async def upload_page(
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        queued = await flow.receive(request, m, pu.user.user_id, pu.session)
        outcome, status = await queued.outcome()
        form = (
            MappingForm.initial(m.org.org_id, queued.upload_id, outcome.columns)
            if outcome.needs_mapping
            else None
        )
        return await upload_result(request, pu, m, outcome, form, status)

    @router.get("/orgs/{org_id}/uploads/{upload_id}/mapping")
    async def mapping_page(
        request: Request,
        upload_id: str,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        _row, outcome, _path = waiting_upload(m, upload_id)
        form = MappingForm.initial(m.org.org_id, upload_id, outcome.columns)
        return await views.overview(request, pu, m, outcome, form)

    @router.post("/orgs/{org_id}/uploads/{upload_id}/mapping")
    async def mapping_submit(
        request: Request,
        upload_id: str,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        row, outcome, _path = waiting_upload(m, upload_id)
        data = await request.form(max_files=0, max_fields=len(outcome.columns) + 10)
        form = MappingForm.submitted(m.org.org_id, upload_id, outcome.columns, data)
        try:
            options = form.options()
        except MappingError as exc:
            return await upload_result(request, pu, m, outcome, replace(form, error=str(exc)), 422)
        result, status = await flow.submit_mapping(m.org, upload_id, row, options).outcome()
        if result.ok or not result.needs_mapping:
            return await upload_result(request, pu, m, result, None, status)
        return await upload_result(
            request, pu, m, result, replace(form, error=result.message), status
        )

    return router
