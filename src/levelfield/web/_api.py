"""The JSON API (``/api/v1``): models, converters and routes.

Authenticate with ``Authorization: Bearer <token>``; every organization route checks the
token's user is a member (404 otherwise, so nothing leaks whether an organization exists).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from levelfield.ingest import GENERIC_FIELDS
from levelfield.report import ANALYSIS_TITLES, ReportData, Section
from levelfield.report._data import analysis_names
from levelfield.web._auth import AppState, api_member, api_user
from levelfield.web._pages import report_csp_header
from levelfield.web._store import Job, Membership, User
from levelfield.web._tenants import ImportOutcome
from levelfield.web._upload_flow import UploadFlow

__all__ = ["api_router"]


# -- API models ------------------------------------------------------------------------
class OrgOut(BaseModel):
    id: str
    name: str
    role: str


class MeOut(BaseModel):
    email: str
    organizations: list[OrgOut]


class NumberOut(BaseModel):
    key: str
    label: str
    value: float | None
    display: str
    note: str


class FindingOut(BaseModel):
    metric: str
    text: str
    value: float | None
    unit: str
    severity: str


class SectionOut(BaseModel):
    name: str
    title: str
    status: Literal["done", "missing", "never_run"]
    reason: str
    headline: list[str]
    findings: list[FindingOut]
    charts: list[str] = Field(description="Chart titles, in display order")
    summary: dict[str, Any]


class JobOut(BaseModel):
    id: str
    status: str
    step: str
    fraction: float
    error: str | None
    created_at: str
    finished_at: str | None


class ActionOut(BaseModel):
    """One ranked action of the plan (``headline``: among this quarter's top three)."""

    rank: int
    title: str
    do: str
    finding: str
    impact: str
    impact_low: float
    impact_mid: float
    impact_high: float
    assumptions: str
    success_probability: float
    effort: str
    horizon: str
    kpi: str
    strategy: str
    source: str
    pilot: str
    reasoning: str
    headline: bool


class OrgDetailOut(BaseModel):
    id: str
    name: str
    key_numbers: list[NumberOut] = Field(
        description="Empty while an import or analysis run is writing a workspace whose "
        "numbers were never computed"
    )
    actions: list[ActionOut]
    analyses: list[SectionOut]
    data_fingerprint: str | None
    results_generated_at: str | None
    latest_job: JobOut | None


class RejectOut(BaseModel):
    row: int | None
    column: str | None
    value: str | None
    reason: str


class ImportOut(BaseModel):
    id: str
    status: Literal["queued", "importing", "ok", "failed"] = Field(
        description="queued or importing: poll GET .../imports/{id}; ok or failed: done"
    )
    ok: bool
    kind: str
    source_name: str
    detected_type: str
    message: str
    profile: str
    rows_in: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    rejects: list[RejectOut]
    needs_mapping: bool = Field(
        False,
        description="No profile matched the header: upload again with a `mapping` of "
        "`columns` to order fields",
    )
    columns: list[str] = Field(
        default_factory=list, description="The file's columns, when a mapping is needed"
    )


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def _job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.job_id,
        status=job.status,
        step=job.step,
        fraction=job.fraction,
        error=job.error,
        created_at=job.created_iso(),
        finished_at=_iso(job.finished_at),
    )


def _section_out(name: str, section: Section | None) -> SectionOut:
    if section is None:
        return SectionOut(
            name=name,
            title=ANALYSIS_TITLES.get(name, name),
            status="never_run",
            reason="the analyses have not been run yet; POST /api/v1/orgs/{org_id}/runs",
            headline=[],
            findings=[],
            charts=[],
            summary={},
        )
    return SectionOut(
        name=section.name,
        title=section.title,
        status=section.status,
        reason=section.reason,
        headline=list(section.headline),
        findings=[FindingOut(**asdict(f)) for f in section.findings],
        charts=[c.title for c in section.charts],
        summary=section.summary,
    )


def _import_out(upload_id: str, o: ImportOutcome, status: Any) -> ImportOut:
    return ImportOut(
        id=upload_id,
        status=status,
        ok=o.ok,
        kind=o.kind,
        source_name=o.source_name,
        detected_type=o.detected_type,
        message=o.message,
        profile=o.profile,
        rows_in=o.rows_in,
        rows_loaded=o.rows_loaded,
        rows_rejected=o.rows_rejected,
        rejects=[
            RejectOut(
                row=r.get("row"),
                column=r.get("column"),
                value=None if r.get("value") is None else str(r.get("value")),
                reason=str(r.get("reason")),
            )
            for r in o.rejects
        ],
        needs_mapping=o.needs_mapping,
        columns=list(o.columns),
    )


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {"type": "string", "description": "orders, products, ..."},
                        "file": {"type": "string", "format": "binary"},
                        "mapping": {
                            "type": "string",
                            "description": "Orders only: a JSON object mapping the file's "
                            'columns to order fields, e.g. {"Invoice No": "order_id", '
                            '"Date": "ordered_at", "Qty": "quantity", "Unit Price": '
                            '"unit_price"}; imports with the generic profile. Fields: '
                            + ", ".join(GENERIC_FIELDS),
                        },
                        "channel": {
                            "type": "string",
                            "description": "Sales channel for every order, e.g. wholesale",
                        },
                        "dayfirst": {
                            "type": "string",
                            "enum": ["auto", "yes", "no"],
                            "description": "yes for DD/MM dates, no for MM/DD (default auto)",
                        },
                        "decimal_comma": {
                            "type": "string",
                            "enum": ["auto", "yes", "no"],
                            "description": "yes when amounts use a decimal comma (12,50)",
                        },
                    },
                }
            }
        },
    }
}


#: An API request's membership of the path's organization (404 for non-members).
Member = Annotated[Membership, Depends(api_member)]


def api_router(st: AppState, flow: UploadFlow) -> APIRouter:
    """The ``/api/v1`` routes over the app's state and upload flow.

    Long by design: a router factory in FastAPI's layout, each nested function one
    route (none over ~40 lines) sharing the app state it closes over.
    """
    store, tenants = st.store, st.tenants
    api = APIRouter(prefix="/api/v1", tags=["api"])

    @api.get("/me", response_model=MeOut, summary="The token's user and organizations")
    def me(user: Annotated[User, Depends(api_user)]) -> MeOut:
        return MeOut(
            email=user.email,
            organizations=[
                OrgOut(id=m.org.org_id, name=m.org.name, role=m.role)
                for m in store.memberships(user.user_id)
            ],
        )

    @api.get("/orgs", response_model=list[OrgOut], summary="Organizations you belong to")
    def orgs(user: Annotated[User, Depends(api_user)]) -> list[OrgOut]:
        return [
            OrgOut(id=m.org.org_id, name=m.org.name, role=m.role)
            for m in store.memberships(user.user_id)
        ]

    @api.get(
        "/orgs/{org_id}", response_model=OrgDetailOut, summary="Key numbers, actions, analyses"
    )
    def org_detail(m: Member) -> OrgDetailOut:
        report = tenants.report_data(m.org.org_id)
        numbers = tenants.numbers_if_idle(m.org)
        job = store.latest_job(m.org.org_id)
        return OrgDetailOut(
            id=m.org.org_id,
            name=m.org.name,
            key_numbers=[NumberOut(**asdict(k)) for k in numbers],
            actions=[ActionOut(**asdict(a)) for a in report.actions] if report else [],
            analyses=[
                _section_out(n, report.section(n) if report else None) for n in analysis_names()
            ],
            data_fingerprint=report.fingerprint if report else None,
            results_generated_at=report.generated_at if report else None,
            latest_job=_job_out(job) if job else None,
        )

    @api.get(
        "/orgs/{org_id}/analyses/{name}",
        response_model=SectionOut,
        summary="One analysis: headline, findings, summary numbers",
        responses={404: {"description": "Unknown organization or analysis"}},
    )
    def analysis(name: str, m: Member) -> SectionOut:
        if name not in analysis_names():
            raise HTTPException(
                404, f"no analysis {name!r}; choose one of {', '.join(analysis_names())}"
            )
        report: ReportData | None = tenants.report_data(m.org.org_id)
        return _section_out(name, report.section(name) if report else None)

    @api.get("/orgs/{org_id}/imports", response_model=list[ImportOut], summary="Recent uploads")
    def imports(m: Member) -> list[ImportOut]:
        return [
            _import_out(u["upload_id"], ImportOutcome.from_json(u["summary_json"]), u["status"])
            for u in store.uploads(m.org.org_id)
        ]

    @api.post(
        "/orgs/{org_id}/imports",
        response_model=ImportOut,
        status_code=202,
        summary="Upload an export (multipart: kind, file); queued, poll its Location",
        openapi_extra=_UPLOAD_BODY,
        responses={
            201: {"description": "Imported (with wait=true)"},
            400: {"description": "The file could not be imported (the message says why)"},
            422: {"description": "Bad form fields, or more columns than the server reads"},
            429: {"description": "This organization has too many uploads queued; retry later"},
            413: {"description": "The file is larger than the upload limit"},
            415: {"description": "Not a CSV, XLSX, XLS or Parquet file"},
        },
    )
    async def import_(
        request: Request,
        m: Member,
        user: Annotated[User, Depends(api_user)],
        wait: Annotated[
            bool,
            Query(description="Answer when the import is done (201/400) instead of 202 at once"),
        ] = False,
    ) -> Response:
        queued = await flow.receive(request, m, user.user_id, None)
        if wait:
            outcome, status = await queued.outcome()
            return JSONResponse(
                _import_out(
                    queued.upload_id, outcome, "ok" if outcome.ok else "failed"
                ).model_dump(),
                status_code=status,
            )
        row = store.upload(m.org.org_id, queued.upload_id)
        return JSONResponse(
            _import_out(
                queued.upload_id,
                ImportOutcome.from_json(row["summary_json"])
                if row
                else ImportOutcome(False, "", "", "", "queued for import"),
                row["status"] if row else "queued",
            ).model_dump(),
            status_code=202,
            headers={"Location": f"/api/v1/orgs/{m.org.org_id}/imports/{queued.upload_id}"},
        )

    @api.get(
        "/orgs/{org_id}/imports/{upload_id}",
        response_model=ImportOut,
        summary="One upload: queued, importing, or its result",
        responses={404: {"description": "Unknown organization or upload"}},
    )
    def import_status(upload_id: str, m: Member) -> ImportOut:
        row = store.upload(m.org.org_id, upload_id)
        if row is None:
            raise HTTPException(404, "no such upload")
        return _import_out(upload_id, ImportOutcome.from_json(row["summary_json"]), row["status"])

    @api.post(
        "/orgs/{org_id}/runs", response_model=JobOut, status_code=202, summary="Run the analyses"
    )
    def run(m: Member, user: Annotated[User, Depends(api_user)]) -> JobOut:
        return _job_out(tenants.start_run(m.org, user.user_id))

    @api.get(
        "/orgs/{org_id}/jobs/{job_id}",
        response_model=JobOut,
        summary="Progress of an analysis run",
        responses={404: {"description": "Unknown organization or run"}},
    )
    def job(job_id: str, m: Member) -> JobOut:
        j = store.job(m.org.org_id, job_id)
        if j is None:
            raise HTTPException(404, "no such analysis run")
        return _job_out(j)

    @api.get(
        "/orgs/{org_id}/report",
        summary="The latest one-file HTML report",
        response_class=HTMLResponse,
        responses={404: {"description": "No report yet"}},
    )
    def report(m: Member) -> Response:
        path = tenants.report_path(m.org)
        if not path.exists():
            raise HTTPException(404, "no report yet: run the analyses first")
        return FileResponse(
            path, media_type="text/html", headers={"Content-Security-Policy": report_csp_header()}
        )

    return api
