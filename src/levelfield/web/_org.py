"""An organization's pages: overview, analyses, runs and the report download.

``OrgViews`` renders the overview (shared with the upload pages of ``_upload_pages``)
and keeps rendered analysis sections in a small LRU, since a section's chart JSON is
large and changes only with a new run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from levelfield.report import ANALYSIS_TITLES, ReportData, Section
from levelfield.report._data import analysis_names
from levelfield.web._auth import PageUser, page_member, page_user, require_csrf
from levelfield.web._pages import Pages, report_csp_header
from levelfield.web._store import Membership
from levelfield.web._tenants import ImportOutcome

__all__ = ["OrgViews", "org_router"]

_SECTION_CACHE = 64


class _NumbersOnly:
    """Template adapter: ``data.key_numbers`` for the shared numbers partial."""

    def __init__(self, numbers: Any) -> None:
        self.key_numbers = numbers


class OrgViews:
    """Renders an organization's overview and analysis sections from cached results.

    Views are a few indexed SQLite reads and a render of cached results; only a cache
    miss (a new run's results, numbers never computed) does blocking work, and that
    goes to a worker thread.
    """

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.st = pages.st
        self._rendered: OrderedDict[tuple[str, float | None, str], Markup] = OrderedDict()
        self._lock = threading.Lock()

    async def report_for(self, org_id: str, report_at: float | None) -> ReportData | None:
        """The parsed results of the run stamped ``report_at`` (cache, else a thread)."""
        tenants = self.st.tenants
        report = tenants.parsed_report_data(org_id, report_at)
        if report is None and report_at is not None:
            report = await run_in_threadpool(tenants.report_data_at, org_id, report_at)
        return report

    async def overview(
        self,
        request: Request,
        pu: PageUser,
        m: Membership,
        upload_outcome: ImportOutcome | None = None,
        mapping_form: Any = None,
    ) -> HTMLResponse:
        """The organization's home page, optionally with an upload's outcome or form."""
        store, tenants = self.st.store, self.st.tenants
        org = m.org
        report_at, numbers_at = store.cache_stamp(org.org_id)
        report = await self.report_for(org.org_id, report_at)
        numbers = tenants.cached_numbers(org)
        if numbers is None:
            numbers = await run_in_threadpool(tenants.numbers_if_idle, org)
        uploads = [
            (u["upload_id"], ImportOutcome.from_json(u["summary_json"]))
            for u in store.uploads(org.org_id)
        ]
        return self.pages.render(
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
            max_upload_mb=f"{self.st.settings.max_upload_mb:,.0f}",
        )

    def section_html(self, org_id: str, report_at: float | None, section: Section) -> Markup:
        """The section's HTML, rendered once per run (charts' JSON is large)."""
        key = (org_id, report_at, section.name)
        with self._lock:
            hit = self._rendered.get(key)
            if hit is not None:
                self._rendered.move_to_end(key)
        if hit is not None:
            return hit
        template = self.pages.env.get_template("_section.html.j2")
        html = Markup(template.render(section=section, chart_prefix="d-"))
        with self._lock:
            self._rendered[key] = html
            while len(self._rendered) > _SECTION_CACHE:
                self._rendered.popitem(last=False)
        return html


def report_download(tenants: Any, m: Membership) -> Response:
    """The organization's latest one-file report as a download, in its CSP sandbox."""
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


def org_router(views: OrgViews) -> APIRouter:
    """``/orgs/{org_id}``: overview, analysis pages, runs and their progress, the report."""
    pages, st = views.pages, views.st
    store, tenants = st.store, st.tenants
    router = APIRouter(include_in_schema=False)

    @router.get("/orgs/{org_id}")
    async def org_page(
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        return await views.overview(request, pu, m)

    @router.post("/orgs/{org_id}/runs")
    def run_page(
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        job = tenants.start_run(m.org, pu.user.user_id)
        if pages.is_htmx(request):
            return pages.render(request, "_job.html", session=pu.session, org=m.org, job=job)
        return RedirectResponse(f"/orgs/{m.org.org_id}#run", status_code=303)

    @router.get("/orgs/{org_id}/jobs/{job_id}")
    def job_page(
        request: Request,
        job_id: str,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        job = store.job(m.org.org_id, job_id)
        if job is None:
            raise HTTPException(404, "no such analysis run")
        resp = pages.render(request, "_job.html", session=pu.session, org=m.org, job=job)
        if pages.is_htmx(request) and not job.running and job.status == "done":
            resp.headers["HX-Refresh"] = "true"
        return resp

    @router.get("/orgs/{org_id}/analyses/{name}")
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
        report = await views.report_for(m.org.org_id, report_at)
        section = report.section(name) if report else None
        return pages.render(
            request,
            "analysis.html",
            user=pu.user,
            org=m.org,
            session=pu.session,
            name=name,
            names=names,
            title=ANALYSIS_TITLES.get(name, name),
            section=section,
            section_html=views.section_html(m.org.org_id, report_at, section) if section else "",
        )

    @router.get("/orgs/{org_id}/report")
    def report_page(
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        return report_download(tenants, m)

    return router
