"""The FastAPI application: pages (Jinja2 + HTMX), the JSON API and static files."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import argon2
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from levelfield._version import __version__
from levelfield.errors import AuthError, LevelfieldError
from levelfield.ingest import GENERIC_FIELDS
from levelfield.report import ANALYSIS_TITLES, ReportData, Section, asset_text, make_environment
from levelfield.report._data import analysis_names
from levelfield.report._render import plotly_js, report_csp
from levelfield.web._account import account_router
from levelfield.web._auth import (
    DEVICE_COOKIE,
    MIN_PASSWORD,
    AppState,
    LoginRequiredError,
    PageUser,
    RateLimitError,
    api_member,
    api_user,
    client_ip,
    csrf_ok,
    page_member,
    page_user,
    require_csrf,
)
from levelfield.web._provenance import provenance_router
from levelfield.web._store import Job, Membership, Store, User
from levelfield.web._tenants import (
    ImportOptions,
    ImportOutcome,
    MappingError,
    Settings,
    Tenants,
    guess_fields,
    parse_choice,
    validate_mapping,
)
from levelfield.web._upload_flow import UploadFlow
from levelfield.web._uploads import BodyLimitMiddleware

__all__ = ["create_app"]

SIGNUP_CLOSED = "sign-up is closed on this server; ask an organization's owner for an invitation"
#: Messages the login page shows after a redirect (``/login?notice=...``).
NOTICES = {
    "signed-up": "If this e-mail address was new, its account and business are ready: log in. "
    "If it had an account already, log in with that account's password.",
    "logged-out-everywhere": "You are logged out on every device.",
    "joined": "Your account is ready: log in to open the business you were invited to.",
}

WEB_DIR = Path(str(resources.files("levelfield.web")))
TEMPLATES = WEB_DIR / "templates"
STATIC = WEB_DIR / "static"

# Plotly needs inline styles and (for some trace types) Function(); nothing loads from
# another origin.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


def report_csp_header() -> str:
    """The report's own policy, in a sandbox: served by the app it runs in no origin."""
    return "sandbox allow-scripts allow-downloads; " + report_csp()


class SecurityHeaders:
    """Add security headers to every response (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", CSP.encode()),
                    # Pages and API answers hold a business's data: never kept in caches
                    # (static assets set their own Cache-Control).
                    (b"cache-control", b"no-store"),
                ]
                if https:  # behind a trusted HTTPS proxy, or TLS in uvicorn
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


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
        guesses = guess_fields(columns)
        return cls(
            org_id,
            upload_id,
            tuple((i, c, guesses.get(c, "")) for i, c in enumerate(columns)),
            tuple(GENERIC_FIELDS),
        )


# -- the app ---------------------------------------------------------------------------
def create_app(data_dir: str | Path, *, settings: Settings | None = None) -> FastAPI:
    """The levelfield web app over ``data_dir``.

    ``data_dir`` holds ``app.sqlite3`` (users, organizations, memberships, sessions,
    hashed API tokens, login failures, jobs, cached results) and one folder per
    organization under ``orgs/`` with its DuckDB workspace and latest report.
    """
    cfg = settings or Settings()
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    store = Store(root / "app.sqlite3")
    store.interrupt_running_jobs()
    tenants = Tenants(root, store, cfg.max_open_workspaces)
    hasher = argon2.PasswordHasher(
        time_cost=cfg.argon2_time_cost,
        memory_cost=cfg.argon2_memory_kib,
        parallelism=cfg.argon2_parallelism,
    )
    st = AppState(cfg, store, tenants, hasher)
    flow = UploadFlow(st)
    env = make_environment(TEMPLATES)
    # The templates ship with the package: compile each once, never stat them per request.
    env.auto_reload = False

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Warm up before the first visitor: the analysis list imports the CLI module.
        await run_in_threadpool(analysis_names)
        # Pending uploads of an earlier process cannot be decrypted (the key was in its
        # memory): delete them now, and expired ones every minute from now on.
        await run_in_threadpool(functools.partial(flow.sweep, everything=True))
        sweeper = asyncio.create_task(_sweep_pending(flow))
        yield
        sweeper.cancel()
        await run_in_threadpool(tenants.close)
        st.close()

    app = FastAPI(
        title="levelfield",
        version=__version__,
        description="Strategy analytics for small businesses. JSON API: authenticate with "
        "`Authorization: Bearer <token>` (create tokens under API in the web app).",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN: not offered. The OpenAPI
        # document at /openapi.json works with any local OpenAPI viewer.
        docs_url=None,
        redoc_url=None,
    )
    app.state.lf = st
    app.state.uploads = flow
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_upload_bytes + 1_000_000)
    app.add_middleware(SecurityHeaders)

    def render(request: Request, template: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        row = ctx.pop("session", None) or st.session(request)
        ctx.setdefault("user", None)
        ctx.setdefault("org", None)
        html = env.get_template(template).render(
            csrf=row.csrf if row else "", version=__version__, **ctx
        )
        return HTMLResponse(html, status_code=code)

    def is_htmx(request: Request) -> bool:
        return request.headers.get("hx-request") == "true"

    # -- errors --------------------------------------------------------------------------
    def error_response(request: Request, status: int, detail: str, headers: Any = None) -> Response:
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return JSONResponse({"detail": detail}, status_code=status, headers=headers)
        if is_htmx(request):
            return render(request, "_error_fragment.html", status, detail=detail)
        titles = {403: "Not allowed", 404: "Not found", 413: "File too large", 429: "Slow down"}
        return render(
            request,
            "error.html",
            status,
            status_code=status,
            title=titles.get(status, "Error"),
            detail=detail,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error_response(
            request, exc.status_code, str(exc.detail), getattr(exc, "headers", None)
        )

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(
            request, exc.status_code, str(exc.detail), getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": json.loads(json.dumps(exc.errors(), default=str))}, 422)
        fields = ", ".join(str(e.get("loc", ["", "?"])[-1]) for e in exc.errors())
        return error_response(request, 422, f"the form is incomplete: check {fields}")

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "log in first"}, 401)
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(LevelfieldError)
    async def library_error(request: Request, exc: LevelfieldError) -> Response:
        status = 403 if isinstance(exc, AuthError) else 400
        return error_response(request, status, f"{type(exc).__name__}: {exc}")

    # -- static --------------------------------------------------------------------------
    cache = {"Cache-Control": "public, max-age=86400"}

    @app.get("/static/plotly.min.js", include_in_schema=False)
    async def static_plotly() -> Response:
        return Response(_asset_bytes("plotly.min.js"), media_type="text/javascript", headers=cache)

    @app.get("/static/report.css", include_in_schema=False)
    async def static_report_css() -> Response:
        return Response(_asset_bytes("report.css"), media_type="text/css", headers=cache)

    @app.get("/static/charts.js", include_in_schema=False)
    async def static_charts_js() -> Response:
        return Response(_asset_bytes("charts.js"), media_type="text/javascript", headers=cache)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # -- accounts ------------------------------------------------------------------------
    def anon_page(request: Request, template: str, code: int = 200, **ctx: Any) -> Response:
        """A page with a form for visitors: it gets a session so its CSRF token has an owner."""
        row = st.session(request)
        cookie_carrier = None
        if row is None:
            cookie_carrier = Response()
            row = st.start_session(request, cookie_carrier, None)
        resp = render(request, template, code, session=row, **ctx)
        if cookie_carrier is not None:
            for value in cookie_carrier.headers.getlist("set-cookie"):
                resp.headers.append("set-cookie", value)
        return resp

    def signed_in_redirect(request: Request, user: User, to: str) -> Response:
        resp = RedirectResponse(to, status_code=303)
        st.start_session(request, resp, user.user_id)
        return resp

    def check_form_csrf(request: Request, token: str) -> None:
        if not csrf_ok(st.session(request), token):
            raise HTTPException(
                403, "the form expired or did not come from this site; reload the page"
            )

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        row = st.session(request)
        if row is None or row.user_id is None:
            return RedirectResponse("/login", status_code=303)
        ms = store.memberships(row.user_id)
        return RedirectResponse(f"/orgs/{ms[0].org.org_id}" if ms else "/account/tokens", 303)

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, notice: str = "") -> Response:
        return anon_page(
            request,
            "login.html",
            error="",
            email="",
            allow_signup=cfg.allow_signup,
            notice=NOTICES.get(notice, ""),
        )

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=1024)],
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        check_form_csrf(request, csrf_token)
        return await st.in_hash_pool(log_in, request, email, password)

    def log_in(request: Request, email: str, password: str) -> Response:
        try:
            result = st.log_in(
                email, password, client_ip(request), request.cookies.get(DEVICE_COOKIE)
            )
        except AuthError as exc:
            return anon_page(
                request,
                "login.html",
                429 if isinstance(exc, RateLimitError) else 401,
                error=str(exc),
                email=email,
                allow_signup=cfg.allow_signup,
                notice="",
            )
        resp = signed_in_redirect(request, result.user, "/")
        if result.new_device is not None:
            st.remember_device(request, resp, result.new_device)
        return resp

    @app.get("/signup", include_in_schema=False)
    def signup_page(request: Request) -> Response:
        if not cfg.allow_signup:
            raise HTTPException(404, SIGNUP_CLOSED)
        return anon_page(
            request, "signup.html", error="", email="", org_name="", min_password=MIN_PASSWORD
        )

    @app.post("/signup", include_in_schema=False)
    async def signup(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=1024)],
        org_name: Annotated[str, Form(max_length=200)],
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        if not cfg.allow_signup:
            raise HTTPException(404, SIGNUP_CLOSED)
        check_form_csrf(request, csrf_token)
        try:
            st.signup_allowed(client_ip(request))
        except RateLimitError as exc:
            raise HTTPException(429, str(exc)) from None
        return await st.in_hash_pool(sign_up, request, email, password, org_name)

    def sign_up(request: Request, email: str, password: str, org_name: str) -> Response:
        try:
            st.register(email, password, org_name)
        except LevelfieldError as exc:
            return anon_page(
                request,
                "signup.html",
                400,
                error=str(exc),
                email=email,
                org_name=org_name,
                min_password=MIN_PASSWORD,
            )
        # The same answer whether the address was new or had an account already.
        return RedirectResponse("/login?notice=signed-up", status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, pu: Annotated[PageUser, Depends(require_csrf)]) -> Response:
        resp = RedirectResponse("/login", status_code=303)
        st.end_session(request, resp)
        resp.headers["Clear-Site-Data"] = '"cache", "storage"'
        return resp

    # -- organization pages --------------------------------------------------------------
    # Page handlers are async: a view is a few indexed SQLite reads and a render of
    # cached results; only a cache miss (a new run's results, numbers never computed)
    # does blocking work, and that goes to a worker thread.
    async def report_for(org_id: str, report_at: float | None) -> ReportData | None:
        report = tenants.parsed_report_data(org_id, report_at)
        if report is None and report_at is not None:
            report = await run_in_threadpool(tenants.report_data_at, org_id, report_at)
        return report

    async def overview(
        request: Request,
        pu: PageUser,
        m: Membership,
        upload_outcome: ImportOutcome | None = None,
        mapping_form: MappingForm | None = None,
    ) -> HTMLResponse:
        org = m.org
        report_at, numbers_at = store.cache_stamp(org.org_id)
        report = await report_for(org.org_id, report_at)
        numbers = tenants.cached_numbers(org)
        if numbers is None:
            numbers = await run_in_threadpool(tenants.numbers_if_idle, org)
        uploads = [
            (u["upload_id"], ImportOutcome.from_json(u["summary_json"]))
            for u in store.uploads(org.org_id)
        ]
        return render(
            request,
            "org.html",
            user=pu.user,
            org=org,
            session=pu.session,
            data=_NumbersOnly(numbers),
            report=report,
            stale=bool(report_at and numbers_at and numbers_at > report_at + 1),
            currency=report.currency if report else "",
            fx_note=report.fx_note if report else "",
            job=store.latest_job(org.org_id),
            kinds=tenants.kinds(),
            uploads=uploads,
            upload_outcome=upload_outcome,
            mapping_form=mapping_form,
            max_upload_mb=f"{cfg.max_upload_mb:,.0f}",
        )

    @app.get("/orgs/{org_id}", include_in_schema=False)
    async def org_page(
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        return await overview(request, pu, m)

    @app.post("/orgs/{org_id}/uploads", include_in_schema=False)
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

    async def upload_result(
        request: Request,
        pu: PageUser,
        m: Membership,
        outcome: ImportOutcome,
        form: MappingForm | None,
        status: int,
    ) -> HTMLResponse:
        if is_htmx(request):
            return render(
                request,
                "_upload_result.html",
                status,
                session=pu.session,
                outcome=outcome,
                mapping_form=form,
            )
        page = await overview(request, pu, m, outcome, form)
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

    @app.get("/orgs/{org_id}/uploads/{upload_id}/mapping", include_in_schema=False)
    async def mapping_page(
        request: Request,
        upload_id: str,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        _row, outcome, _path = waiting_upload(m, upload_id)
        form = MappingForm.initial(m.org.org_id, upload_id, outcome.columns)
        return await overview(request, pu, m, outcome, form)

    @app.post("/orgs/{org_id}/uploads/{upload_id}/mapping", include_in_schema=False)
    async def mapping_submit(
        request: Request,
        upload_id: str,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        row, outcome, _path = waiting_upload(m, upload_id)
        data = await request.form(max_files=0, max_fields=len(outcome.columns) + 10)
        columns = outcome.columns
        chosen = {
            c: v if isinstance(v := data.get(f"field_{i}"), str) else ""
            for i, c in enumerate(columns)
        }

        def text(name: str) -> str:
            value = data.get(name)
            return value.strip()[:100] if isinstance(value, str) else ""

        form = MappingForm(
            m.org.org_id,
            upload_id,
            tuple((i, c, chosen[c]) for i, c in enumerate(columns)),
            tuple(GENERIC_FIELDS),
            channel=text("channel"),
            dayfirst=text("dayfirst") or "auto",
            decimal_comma=text("decimal_comma") or "auto",
        )
        try:
            options = ImportOptions(
                mapping=validate_mapping(chosen, columns),
                channel=form.channel or None,
                dayfirst=parse_choice("day-first dates", form.dayfirst),
                decimal_comma=parse_choice("decimal comma", form.decimal_comma),
            )
        except MappingError as exc:
            return await upload_result(request, pu, m, outcome, replace(form, error=str(exc)), 422)
        result, status = await flow.submit_mapping(m.org, upload_id, row, options).outcome()
        if result.ok or not result.needs_mapping:
            return await upload_result(request, pu, m, result, None, status)
        return await upload_result(
            request, pu, m, result, replace(form, error=result.message), status
        )

    @app.post("/orgs/{org_id}/runs", include_in_schema=False)
    def run_page(
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        job = tenants.start_run(m.org, pu.user.user_id)
        if is_htmx(request):
            return render(request, "_job.html", session=pu.session, org=m.org, job=job)
        return RedirectResponse(f"/orgs/{m.org.org_id}#run", status_code=303)

    @app.get("/orgs/{org_id}/jobs/{job_id}", include_in_schema=False)
    def job_page(
        request: Request,
        job_id: str,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        job = store.job(m.org.org_id, job_id)
        if job is None:
            raise HTTPException(404, "no such analysis run")
        resp = render(request, "_job.html", session=pu.session, org=m.org, job=job)
        if is_htmx(request) and not job.running and job.status == "done":
            resp.headers["HX-Refresh"] = "true"
        return resp

    @app.get("/orgs/{org_id}/analyses/{name}", include_in_schema=False)
    async def analysis_page(
        request: Request,
        name: str,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        names = analysis_names()
        if name not in names:
            raise HTTPException(404, f"no analysis {name!r}; choose one of {', '.join(names)}")
        report_at, _numbers_at = store.cache_stamp(m.org.org_id)
        report = await report_for(m.org.org_id, report_at)
        section = report.section(name) if report else None
        return render(
            request,
            "analysis.html",
            user=pu.user,
            org=m.org,
            session=pu.session,
            name=name,
            names=names,
            title=ANALYSIS_TITLES.get(name, name),
            section=section,
            section_html=section_html(m.org.org_id, report_at, section) if section else "",
        )

    rendered: OrderedDict[tuple[str, float | None, str], Markup] = OrderedDict()
    rendered_lock = threading.Lock()

    def section_html(org_id: str, report_at: float | None, section: Section) -> Markup:
        """The section's HTML, rendered once per run (charts' JSON is large)."""
        key = (org_id, report_at, section.name)
        with rendered_lock:
            hit = rendered.get(key)
            if hit is not None:
                rendered.move_to_end(key)
        if hit is not None:
            return hit
        html = Markup(
            env.get_template("_section.html.j2").render(section=section, chart_prefix="d-")
        )
        with rendered_lock:
            rendered[key] = html
            while len(rendered) > 64:
                rendered.popitem(last=False)
        return html

    @app.get("/orgs/{org_id}/report", include_in_schema=False)
    def report_page(
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        return report_file(m)

    def report_file(m: Membership) -> Response:
        path = tenants.report_path(m.org)
        if not path.exists():
            raise HTTPException(404, "no report yet: run the analyses first")
        safe = "".join(ch if ch.isalnum() else "-" for ch in m.org.name).strip("-")[:60] or "report"
        return FileResponse(
            path,
            media_type="text/html",
            filename=f"levelfield-{safe}.html",
            headers={"Content-Security-Policy": report_csp_header()},
        )

    # -- API tokens page -----------------------------------------------------------------
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
        return render(
            request,
            "tokens.html",
            user=pu.user,
            org=ms[0].org if ms else None,
            session=pu.session,
            tokens=toks,
            new_token=new_token,
        )

    @app.get("/account/tokens", include_in_schema=False)
    def tokens_get(request: Request, pu: Annotated[PageUser, Depends(page_user)]) -> Response:
        return tokens_page(request, pu)

    @app.post("/account/tokens", include_in_schema=False)
    def tokens_post(
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        name: Annotated[str, Form(min_length=1, max_length=80)],
    ) -> Response:
        _tid, secret = store.create_token(pu.user.user_id, " ".join(name.split()) or "token")
        return tokens_page(request, pu, new_token=secret)

    @app.post("/account/tokens/{token_id}/delete", include_in_schema=False)
    def tokens_delete(token_id: str, pu: Annotated[PageUser, Depends(require_csrf)]) -> Response:
        if not store.delete_token(pu.user.user_id, token_id):
            raise HTTPException(404, "no such token")
        return RedirectResponse("/account/tokens", status_code=303)

    app.include_router(account_router(st, render, anon_page))
    app.include_router(provenance_router(st, render))
    app.include_router(_api_router(st, flow))
    return app


async def _sweep_pending(flow: UploadFlow) -> None:
    """Delete pending uploads past their time limit, every minute (or sooner)."""
    period = max(1.0, min(60.0, flow.pending.ttl_s / 4))
    while True:
        await asyncio.sleep(period)
        await run_in_threadpool(flow.sweep)


@functools.cache
def _asset_bytes(name: str) -> bytes:
    """A static asset served from memory, encoded once (Plotly's bundle is 4.6 MB)."""
    text = plotly_js() if name == "plotly.min.js" else asset_text(name)
    return text.encode("utf-8")


class _NumbersOnly:
    """Template adapter: ``data.key_numbers`` for the shared numbers partial."""

    def __init__(self, numbers: Any) -> None:
        self.key_numbers = numbers


#: An API request's membership of the path's organization (404 for non-members).
Member = Annotated[Membership, Depends(api_member)]


def _api_router(st: AppState, flow: UploadFlow) -> APIRouter:
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
