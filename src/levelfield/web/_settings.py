"""The settings page: every analysis setting of an organization, changed without Python.

``GET /orgs/{id}/settings`` lists the settings by area with their value, unit, where the
value came from (default, business profile, user), what is allowed and what each feeds,
and the latest changes (who, when, old -> new). ``POST /orgs/{id}/settings`` sets one
(checked by the same registry as ``levelfield set``), ``POST /orgs/{id}/settings/reset``
forgets one; both need the form's CSRF token, act on the member's own organization only,
and are logged in the workspace's settings ledger with the member's e-mail. The next run
(the overview's "Run analyses") re-runs what a changed setting feeds.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from levelfield.errors import ConfigError
from levelfield.web._auth import AppState, PageUser, page_member, page_user, require_csrf
from levelfield.web._store import Membership
from levelfield.workspace import SETTINGS, Setting

__all__ = ["settings_router"]

Render = Callable[..., Response]

_AREAS = {
    "business": "The business",
    "customers": "Customers",
    "subscriptions": "Subscriptions",
    "landscape": "Competitive landscape",
    "exposure": "Exposure and scale",
    "pricing": "Pricing and guardrails",
    "scenarios": "Scenarios",
    "financing": "Financing",
    "advice": "Advice rules",
}


def _field_id(key: str) -> str:
    return "s-" + key.replace(".", "-")


async def _setting_form(request: Request) -> tuple[str, str]:
    """The form's setting key and value (400 for an unknown key or an overlong value)."""
    form = await request.form(max_files=0, max_fields=10)
    key, value = form.get("key"), form.get("value", "")
    if not isinstance(key, str) or key not in SETTINGS:
        raise HTTPException(400, "unknown setting; reload the settings page")
    if not isinstance(value, str) or len(value) > 4000:
        raise HTTPException(400, "the value is too long")
    return key, value


class _SettingsPages:
    """The settings page of one app and the changes it posts."""

    def __init__(self, st: AppState, render: Render) -> None:
        self.tenants = st.tenants
        self.render = render

    def overview(self, m: Membership) -> dict[str, Any]:
        """Every setting by area with its value and source, and the latest changes."""
        with self.tenants.lock(m.org.org_id):
            store = self.tenants.workspace(m.org).settings
            values, ledger = store.values(), store.ledger(30)
        rows = [
            {
                "key": v.setting.key,
                "id": _field_id(v.setting.key),
                "setting": v.setting,
                "text": v.setting.to_text(v.value),
                "source": v.source,
                "problem": v.problem,
                "set_by": v.set_by,
                "options": _options(v.setting),
            }
            for v in values
        ]
        areas = [
            (_AREAS.get(area, area), list(items))
            for area, items in groupby(rows, key=lambda r: str(r["key"]).split(".", 1)[0])
        ]
        return {"areas": areas, "ledger": ledger}

    async def page(
        self,
        request: Request,
        pu: PageUser,
        m: Membership,
        code: int = 200,
        **extra: Any,
    ) -> Response:
        """The page, with ``extra`` (a rejected value and why) over the defaults."""
        ctx = await run_in_threadpool(self.overview, m)
        extra = {"error": None, "error_key": None, "typed": None, **extra}
        return self.render(
            request,
            "settings.html",
            code,
            user=pu.user,
            org=m.org,
            session=pu.session,
            changed=request.query_params.get("changed"),
            **ctx,
            **extra,
        )

    async def settings_page(
        self,
        request: Request,
        pu: Annotated[PageUser, Depends(page_user)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        return await self.page(request, pu, m)

    def change(self, m: Membership, who: str, key: str, value: str | None) -> None:
        """Set ``key`` to ``value`` (forget it when None), logged as done by ``who``."""
        with self.tenants.lock(m.org.org_id):
            store = self.tenants.workspace(m.org).settings
            if value is None:
                store.reset(key, by=who)
            else:
                store.set(key, value, by=who)

    async def apply(
        self, request: Request, pu: PageUser, m: Membership, key: str, value: str | None
    ) -> Response:
        """Change a setting, then back to the page at it (422 with the reason if refused)."""
        try:
            await run_in_threadpool(self.change, m, f"web:{pu.user.email}", key, value)
        except ConfigError as exc:
            return await self.page(request, pu, m, 422, error_key=key, error=str(exc), typed=value)
        url = f"/orgs/{m.org.org_id}/settings?changed={quote(key)}#{_field_id(key)}"
        return RedirectResponse(url, status_code=303)

    async def settings_set(
        self,
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        key, value = await _setting_form(request)
        return await self.apply(request, pu, m, key, value)

    async def settings_reset(
        self,
        request: Request,
        pu: Annotated[PageUser, Depends(require_csrf)],
        m: Annotated[Membership, Depends(page_member)],
    ) -> Response:
        key, _ = await _setting_form(request)
        return await self.apply(request, pu, m, key, None)


def settings_router(st: AppState, render: Render) -> APIRouter:
    """The settings page of an organization."""
    views = _SettingsPages(st, render)
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/orgs/{org_id}/settings", views.settings_page, methods=["GET"])
    router.add_api_route("/orgs/{org_id}/settings", views.settings_set, methods=["POST"])
    router.add_api_route("/orgs/{org_id}/settings/reset", views.settings_reset, methods=["POST"])
    return router


def _options(s: Setting) -> list[str]:
    """The choices of a drop-down (choices, yes/no), else [] for a text field."""
    if s.kind == "choice":
        return [*s.choices, *([s.none_word] if s.none_word else [])]
    if s.kind == "bool":
        return ["yes", "no"]
    return []
