"""Contacts page: a segment's customers with their e-mails, as a download; nothing is kept.

``GET /orgs/{id}/contacts`` shows the form. ``POST /orgs/{id}/contacts`` takes one of
the owner's order exports (the file the customers were imported from), the segment and
the layout (csv, Klaviyo, Mailchimp, Shopify), and answers with the CSV as an attachment
(``Cache-Control: no-store``). The upload has the limits of the import flow (size, type
sniffed from the content, column count and the workbook guard), lives in the app's temp
folder only while it is read and is deleted in every case; the workspace receives no
clear value (:func:`levelfield.report.contact_list`), and nothing about the file's
content is logged or stored: errors are shown to the owner with e-mail addresses and
phone numbers masked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException

from levelfield.errors import DataError, LevelfieldError
from levelfield.report import (
    CONTACT_FORMATS,
    CONTACT_SEGMENTS,
    PERSONAL_DATA_WARNING,
    ContactSource,
    contact_list,
)
from levelfield.web._auth import AppState, PageUser, csrf_ok, page_member, page_user
from levelfield.web._store import Membership, new_id
from levelfield.web._upload_guard import check_columns, redact
from levelfield.web._uploads import UploadTypeError, display_name, sniff_type

__all__ = ["contacts_router"]

Render = Callable[..., Response]
_FORMAT_NAMES = {
    "csv": "Plain CSV (every column)",
    "klaviyo": "Klaviyo list import",
    "mailchimp": "Mailchimp audience import",
    "shopify": "Shopify customers import (tags and note)",
}


def _copy(upload: UploadFile, dest: Path, limit: int) -> None:
    upload.file.seek(0)
    written = 0
    with dest.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise HTTPException(
                    413, f"the file is larger than the limit of {limit / 1e6:,.0f} MB"
                )
            out.write(chunk)


def _field(form: Any, name: str, allowed: Any) -> str:
    value = form.get(name)
    if not isinstance(value, str) or value not in allowed:
        raise HTTPException(422, f"choose a {name}: one of {', '.join(allowed)}")
    return value


def _choices(form: FormData, pu: PageUser, header_token: str | None) -> tuple[str, str, UploadFile]:
    """The form's segment, layout and file, after the CSRF token (403, 422 otherwise).

    The token comes from the ``x-csrf-token`` header, else the form's field.
    """
    token = header_token or form.get("csrf_token")
    if not csrf_ok(pu.session, token if isinstance(token, str) else None):
        raise HTTPException(403, "the form expired or did not come from this site; reload the page")
    segment = _field(form, "segment", CONTACT_SEGMENTS)
    fmt = _field(form, "format", CONTACT_FORMATS)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "attach your order export as the 'file' field")
    return segment, fmt, upload


def _failure(exc: LevelfieldError, tmp_name: str, source: str) -> tuple[int, str]:
    """The status and the owner's message for a file the export could not use.

    The message names the uploaded file (not its temporary name) and masks e-mail
    addresses and phone numbers; 415 for a file type the import flow does not read, 400
    for an export of another business, 422 for other problems with its content.
    """
    message = redact(f"{type(exc).__name__}: {exc}".replace(tmp_name, source))
    code = 415 if isinstance(exc, UploadTypeError) else 422
    if isinstance(exc, DataError) and "does not belong" in str(exc):
        code = 400
    return code, message


def _attachment(body: bytes, segment: str, fmt: str) -> Response:
    """The contact list as a CSV download the browser does not keep."""
    filename = f"contacts-{segment}-{fmt}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


class _ContactsPages:
    """The contacts page and download of one app (its state and page renderer)."""

    def __init__(self, st: AppState, render: Render) -> None:
        self.st = st
        self.render = render
        self.tmp_dir = st.tenants.data_dir / "tmp"

    def page(
        self, request: Request, pu: PageUser, m: Membership, code: int = 200, **ctx: Any
    ) -> Response:
        """The form, with ``ctx`` (an error, the segment and layout chosen) over defaults."""
        return self.render(
            request,
            "contacts.html",
            code,
            user=pu.user,
            org=m.org,
            session=pu.session,
            segments=list(CONTACT_SEGMENTS),
            formats=_FORMAT_NAMES,
            warning=PERSONAL_DATA_WARNING,
            **({"error": None, "segment": "at-risk", "fmt": "csv"} | ctx),
        )

    async def contacts_page(
        self,
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        return self.page(request, pu, m)

    def build(self, m: Membership, path: Path, source: str, segment: str, fmt: str) -> bytes:
        """The contact list of the export at ``path`` (deleted here, read or not)."""
        detected = sniff_type(path, source)
        check_columns(path, detected, source, self.st.settings.max_columns)
        typed = path.with_suffix(f".{detected}")
        path.replace(typed)
        tenants = self.st.tenants
        try:
            with tenants.lock(m.org.org_id):
                ws = tenants.workspace(m.org)
                contacts = contact_list(
                    ws,
                    [ContactSource(typed, display_name=source)],
                    segments=[segment],
                    fmt=fmt,
                )
            return contacts.to_csv()
        finally:
            typed.unlink(missing_ok=True)

    async def contacts_download(
        self,
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        try:
            form = await request.form(max_files=1, max_fields=10)
        except MultiPartException as exc:
            raise HTTPException(400, f"the upload could not be read: {exc.message}") from None
        tmp = self.tmp_dir / f"{new_id()}.contacts"
        try:
            segment, fmt, upload = _choices(form, pu, request.headers.get("x-csrf-token"))
            source = display_name(upload.filename)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            await run_in_threadpool(_copy, upload, tmp, self.st.settings.max_upload_bytes)
            try:
                body = await run_in_threadpool(self.build, m, tmp, source, segment, fmt)
            except LevelfieldError as exc:
                code, message = _failure(exc, tmp.name, source)
                return self.page(request, pu, m, code, error=message, segment=segment, fmt=fmt)
        finally:
            await form.close()
            for leftover in self.tmp_dir.glob(f"{tmp.stem}.*"):
                leftover.unlink(missing_ok=True)
        return _attachment(body, segment, fmt)


def contacts_router(st: AppState, render: Render) -> APIRouter:
    """The contacts export of an organization (page and download)."""
    views = _ContactsPages(st, render)
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/orgs/{org_id}/contacts", views.contacts_page, methods=["GET"])
    router.add_api_route("/orgs/{org_id}/contacts", views.contacts_download, methods=["POST"])
    return router
