"""What the owner sees, as plain data: key numbers, actions and one section per analysis.

:class:`ReportData` is built once from a workspace (running the analyses that were not
given) and is JSON-serializable, so the web app can cache it per organization and render
dashboards and the report from the cache instead of recomputing analyses per request.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import duckdb

from levelfield._version import __version__
from levelfield.errors import LevelfieldError
from levelfield.findings import Finding, ProgressCallback, no_progress
from levelfield.pipeline import run_analysis
from levelfield.workspace import Workspace

__all__ = [
    "ANALYSIS_TITLES",
    "ActionView",
    "Chart",
    "FindingView",
    "KeyNumber",
    "ReportData",
    "Section",
    "TablePreview",
    "build_report_data",
    "key_numbers",
    "run_analyses",
]

log = logging.getLogger(__name__)

#: Section titles in the owner's words, in display order.
ANALYSIS_TITLES: dict[str, str] = {
    "customers": "Customers: who is worth keeping",
    "landscape": "Landscape: how distinctive you are",
    "exposure": "Exposure: platforms, suppliers, countries",
    "pricing": "Pricing: what your prices should be",
    "scenarios": "Scenarios: what happens under shocks",
}

SectionStatus = Literal["done", "missing", "failed"]
_TABLE_PREVIEW_ROWS = 10
_QUARTER_WORDS = ("quarter", "now", "this month", "30 days", "90 days", "0-3", "short", "week")


def analysis_names() -> tuple[str, ...]:
    """The analyses in the order the CLI runs them (``levelfield.cli.ANALYSES``)."""
    from levelfield.cli import ANALYSES

    return tuple(ANALYSES)


@dataclass(frozen=True)
class KeyNumber:
    """One of the business's five headline numbers.

    ``value`` is ``None`` when the data to compute it are missing; ``note`` then says
    what to import.
    """

    key: str
    label: str
    value: float | None
    display: str
    note: str = ""


@dataclass(frozen=True)
class ActionView:
    """One recommended action from the advice playbook, flattened for display."""

    title: str
    finding: str
    number: str
    impact: str
    effort: str
    horizon: str
    kpi: str


@dataclass(frozen=True)
class FindingView:
    """A :class:`~levelfield.findings.Finding` flattened for display and JSON."""

    metric: str
    text: str
    value: float | None
    unit: str
    severity: str


@dataclass(frozen=True)
class Chart:
    """A chart: its title, its caption and the Plotly figure as JSON (``fig.to_json()``).

    ``title`` is the key of ``figures(result)``; ``caption`` is what the card shows
    above the chart: the figure's own title (often more precise, e.g. with units), or
    ``title`` when it has none. The figure JSON carries no title of its own, so the
    caption is not repeated inside the plot.
    """

    title: str
    figure_json: str
    caption: str = ""


@dataclass(frozen=True)
class TablePreview:
    """The first rows of a result table, as strings, for display."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total_rows: int


@dataclass(frozen=True)
class Section:
    """One analysis as the owner sees it.

    ``status`` is ``"done"`` (analysed), ``"missing"`` (not yet analysed: the package is
    not there yet or the data are insufficient; ``reason`` says which) or ``"failed"``
    (a bug; ``reason`` has the error).
    """

    name: str
    title: str
    status: SectionStatus
    reason: str = ""
    headline: tuple[str, ...] = ()
    findings: tuple[FindingView, ...] = ()
    charts: tuple[Chart, ...] = ()
    tables: tuple[TablePreview, ...] = ()
    methods: str = ""
    references: tuple[str, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    chart_errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportData:
    """Everything the report and the dashboards show, JSON-serializable."""

    business_name: str
    currency: str
    generated_at: str
    fingerprint: str
    version: str
    key_numbers: tuple[KeyNumber, ...]
    actions: tuple[ActionView, ...]
    advice_status: SectionStatus
    advice_reason: str
    advice_headline: tuple[str, ...]
    sections: tuple[Section, ...]

    def section(self, name: str) -> Section | None:
        """The section of analysis ``name``, or ``None``."""
        return next((s for s in self.sections if s.name == name), None)

    def to_json(self) -> str:
        """JSON text (see :meth:`from_json`)."""
        return json.dumps(asdict(self), default=_json_default, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ReportData:
        """Rebuild from :meth:`to_json` output."""
        d = json.loads(text)
        return cls(
            business_name=d["business_name"],
            currency=d["currency"],
            generated_at=d["generated_at"],
            fingerprint=d["fingerprint"],
            version=d["version"],
            key_numbers=tuple(KeyNumber(**k) for k in d["key_numbers"]),
            actions=tuple(ActionView(**a) for a in d["actions"]),
            advice_status=d["advice_status"],
            advice_reason=d["advice_reason"],
            advice_headline=tuple(d["advice_headline"]),
            sections=tuple(_section_from_dict(s) for s in d["sections"]),
        )


def _section_from_dict(d: Mapping[str, Any]) -> Section:
    return Section(
        name=d["name"],
        title=d["title"],
        status=d["status"],
        reason=d["reason"],
        headline=tuple(d["headline"]),
        findings=tuple(FindingView(**f) for f in d["findings"]),
        charts=tuple(Chart(**c) for c in d["charts"]),
        tables=tuple(
            TablePreview(
                name=t["name"],
                columns=tuple(t["columns"]),
                rows=tuple(tuple(r) for r in t["rows"]),
                total_rows=t["total_rows"],
            )
            for t in d["tables"]
        ),
        methods=d["methods"],
        references=tuple(d["references"]),
        summary=dict(d["summary"]),
        chart_errors=tuple(d.get("chart_errors", ())),
    )


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _finite(value: object) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _clean_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy of a result summary (NaN/inf become ``None``)."""
    text = json.dumps(dict(summary), default=_json_default, allow_nan=True)
    cleaned: dict[str, Any] = json.loads(
        text,
        parse_constant=lambda _c: None,  # NaN, Infinity, -Infinity
    )
    return cleaned


# -- running analyses ------------------------------------------------------------------
@dataclass(frozen=True)
class _Outcome:
    module: Any
    result: Any
    status: SectionStatus
    reason: str


def _load_module(name: str) -> tuple[Any, str]:
    """The analysis package and ``""``, or ``None`` and why it cannot be used yet."""
    try:
        module = importlib.import_module(f"levelfield.{name}")
    except Exception as exc:  # another package mid-construction must not sink the report
        return None, f"the {name} package failed to load ({type(exc).__name__}: {exc})"
    if not callable(getattr(module, "analyze", None)):
        return None, f"the {name} analysis is not available in levelfield {__version__} yet"
    return module, ""


def run_analyses(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    results: Mapping[str, Any] | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, _Outcome]:
    """Run each analysis that was not given in ``results``; never raises for one analysis.

    An analysis whose package has no ``analyze`` yet, or that raises a
    :class:`~levelfield.errors.LevelfieldError` (e.g. ``InsufficientDataError``), becomes
    a ``"missing"`` outcome with the reason; any other exception a ``"failed"`` one.
    """
    given = dict(results or {})
    todo = tuple(names) if names is not None else analysis_names()
    out: dict[str, _Outcome] = {}
    n = max(len(todo), 1)
    for i, name in enumerate(todo):
        module, why = _load_module(name)
        if name in given:
            out[name] = _Outcome(module, given[name], "done", "")
            continue
        if module is None:
            out[name] = _Outcome(None, None, "missing", why)
            continue

        def step(text: str, fraction: float, _i: int = i, _name: str = name) -> None:
            frac = max(0.0, min(1.0, float(fraction)))
            progress(f"{_name}: {text}", (_i + frac) / n)

        progress(f"{name}: starting", i / n)
        try:
            # Through the pipeline, so the run's findings are stored for advice and later.
            result = run_analysis(ws, name, step)
        except LevelfieldError as exc:
            out[name] = _Outcome(module, None, "missing", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug in one analysis must not hide the others
            log.warning("analysis %s failed: %r", name, exc, exc_info=log.isEnabledFor(10))
            out[name] = _Outcome(
                module,
                None,
                "failed",
                f"internal error in levelfield.{name} ({type(exc).__name__}: {exc}); "
                "this is a bug in levelfield, not in your data; please report it",
            )
        else:
            out[name] = _Outcome(module, result, "done", "")
    progress("analyses done", 1.0)
    return out


# -- sections --------------------------------------------------------------------------
def _finding_view(f: Any) -> FindingView:
    if isinstance(f, Finding):
        return FindingView(f.metric, f.text, _finite(f.value), f.unit, f.severity)
    return FindingView(
        str(getattr(f, "metric", "")),
        str(getattr(f, "text", f)),
        _finite(getattr(f, "value", None)),
        str(getattr(f, "unit", "")),
        str(getattr(f, "severity", "info")),
    )


def _format_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def _table_previews(tables: Mapping[str, Any]) -> tuple[TablePreview, ...]:
    previews = []
    for tname, frame in tables.items():
        if not hasattr(frame, "head") or not hasattr(frame, "columns"):
            continue
        head = frame.head(_TABLE_PREVIEW_ROWS)
        rows = tuple(
            tuple(_format_cell(v) for v in row) for row in head.itertuples(index=False, name=None)
        )
        previews.append(
            TablePreview(str(tname), tuple(str(c) for c in frame.columns), rows, len(frame))
        )
    return tuple(previews)


def _figure_title(fig: Any) -> str:
    """The text of a Plotly figure's layout title ("" when it has none)."""
    try:
        text = fig.layout.title.text
    except AttributeError:
        return ""
    # Plotly titles may hold <b>, <br>, <sup>; the caption is plain text.
    return " ".join(re.sub(r"<[^>]*>", " ", str(text)).split()) if text else ""


def _charts(module: Any, result: Any) -> tuple[tuple[Chart, ...], tuple[str, ...]]:
    make = getattr(module, "figures", None)
    if not callable(make):
        return (), ()
    try:
        figs = make(result)
    except Exception as exc:  # a chart bug must not hide the findings
        log.warning("figures of %s failed: %r", module.__name__, exc, exc_info=log.isEnabledFor(10))
        return (), (f"charts could not be drawn ({type(exc).__name__}: {exc})",)
    charts = []
    errors = []
    for title, fig in figs.items():
        try:
            caption = _figure_title(fig) or str(title)
            fig.update_layout(autosize=True, width=None)
            fig.layout.title = None  # the caption above the chart says it
            charts.append(Chart(str(title), str(fig.to_json()), caption))
        except Exception as exc:
            log.warning("figure %r failed: %r", title, exc, exc_info=log.isEnabledFor(10))
            errors.append(f"chart {title!r} could not be drawn ({type(exc).__name__}: {exc})")
    return tuple(charts), tuple(errors)


def build_section(name: str, module: Any, result: Any) -> Section:
    """The :class:`Section` of one analysed result (``module`` is its package)."""
    title = ANALYSIS_TITLES.get(name, name.capitalize())
    charts, chart_errors = _charts(module, result)
    tables = result.tables() if callable(getattr(result, "tables", None)) else {}
    return Section(
        name=name,
        title=title,
        status="done",
        headline=tuple(str(x) for x in result.headline()),
        findings=tuple(_finding_view(f) for f in result.findings()),
        charts=charts,
        tables=_table_previews(tables),
        methods=str(getattr(module, "METHODS", "")),
        references=tuple(str(r) for r in getattr(module, "REFERENCES", ())),
        summary=_clean_summary(result.summary()),
        chart_errors=chart_errors,
    )


def _sections(outcomes: Mapping[str, _Outcome]) -> tuple[Section, ...]:
    sections = []
    for name, oc in outcomes.items():
        title = ANALYSIS_TITLES.get(name, name.capitalize())
        if oc.status != "done":
            sections.append(Section(name=name, title=title, status=oc.status, reason=oc.reason))
            continue
        try:
            sections.append(build_section(name, oc.module, oc.result))
        except Exception as exc:  # a result that breaks its contract is a bug, shown plainly
            log.warning("result of %s could not be presented: %r", name, exc)
            sections.append(
                Section(
                    name=name,
                    title=title,
                    status="failed",
                    reason=f"the {name} result could not be presented "
                    f"({type(exc).__name__}: {exc}); please report this bug",
                )
            )
    return tuple(sections)


# -- advice ----------------------------------------------------------------------------
def _attr(obj: Any, *names: str) -> str:
    for n in names:
        value = obj.get(n) if isinstance(obj, Mapping) else getattr(obj, n, None)
        if value is None or value == "":
            continue
        if isinstance(value, Finding):
            return value.text
        if isinstance(value, float):
            return f"{value:,.4g}"
        return str(value)
    return ""


def _safe_findings(result: Any) -> list[Any]:
    """A result's findings, or none when its ``findings()`` is broken (shown elsewhere)."""
    try:
        return list(result.findings())
    except Exception as exc:
        log.warning("findings of %s failed: %r", type(result).__name__, exc)
        return []


def _impact_text(a: Any, currency: str) -> str:
    impact = getattr(a, "impact", None)
    low, high = getattr(impact, "low", None), getattr(impact, "high", None)
    if isinstance(low, int | float) and isinstance(high, int | float):
        return f"{currency} {low:,.0f} to {high:,.0f} a year"
    return _attr(a, "impact", "impact_text", "expected_impact")


def _action_view(a: Any, currency: str = "") -> ActionView:
    weeks = getattr(a, "horizon_weeks", None)
    return ActionView(
        title=_attr(a, "title", "action", "name"),
        finding=_attr(a, "finding_text", "finding", "why", "reason"),
        number=_attr(a, "number"),
        impact=_impact_text(a, currency),
        effort=_attr(a, "effort_words", "effort"),
        horizon=f"within {weeks} weeks" if isinstance(weeks, int) else _attr(a, "horizon"),
        kpi=_attr(a, "kpi", "KPI", "measure"),
    )


def _this_quarter(actions: Sequence[ActionView], k: int = 3) -> tuple[ActionView, ...]:
    """The first ``k`` actions whose horizon is this quarter; others fill any gap."""
    now = [a for a in actions if any(w in a.horizon.lower() for w in _QUARTER_WORDS)]
    rest = [a for a in actions if a not in now]
    return tuple((now + rest)[:k])


def _advice(
    ws: Workspace, progress: ProgressCallback, findings: Mapping[str, Any] | None = None
) -> tuple[SectionStatus, str, tuple[str, ...], tuple[ActionView, ...], Any]:
    """Run the advice playbook; ``findings`` (by analysis) avoids re-running analyses."""
    try:
        advice = importlib.import_module("levelfield.advice")
    except Exception as exc:
        return "missing", f"the advice package failed to load ({exc})", (), (), None
    advise = getattr(advice, "advise", None)
    if not callable(advise):
        return (
            "missing",
            f"the advice playbook is not available in levelfield {__version__} yet",
            (),
            (),
            None,
        )
    kwargs: dict[str, Any] = {"progress": progress}
    try:
        accepts_findings = "findings" in inspect.signature(advise).parameters
    except (TypeError, ValueError):
        accepts_findings = False
    if findings is not None and accepts_findings:
        kwargs["findings"] = findings
    try:
        plan = advise(ws, **kwargs)
    except LevelfieldError as exc:
        return "missing", f"{type(exc).__name__}: {exc}", (), (), None
    except Exception as exc:
        log.warning("advice failed: %r", exc, exc_info=log.isEnabledFor(10))
        return "failed", f"internal error in levelfield.advice ({exc})", (), (), None
    headline = tuple(str(x) for x in plan.headline()) if hasattr(plan, "headline") else ()
    currency = str(getattr(plan, "currency", "") or ws.currency())
    chosen = getattr(plan, "headline_actions", None)
    if chosen is not None:
        top = tuple(_action_view(a, currency) for a in tuple(chosen)[:3])
    else:
        top = _this_quarter([_action_view(a, currency) for a in getattr(plan, "actions", ())])
    return "done", "", headline, top, plan


# -- key numbers -----------------------------------------------------------------------
def _money(x: float, currency: str) -> str:
    return f"{currency} {x:,.0f}"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0][0] if rows else None


def key_numbers(
    ws: Workspace, con: duckdb.DuckDBPyConnection | None = None
) -> tuple[KeyNumber, ...]:
    """The business in five numbers, computed in SQL from the workspace.

    Net revenue, active customers and top channel share cover the 12 months up to the
    newest order (not today: exports are often weeks old). Repeat rate is the share of
    identified customers with two or more orders, ever. Gross margin is
    ``1 - cost / revenue`` over order lines whose product has a unit cost. Only orders
    in the business's main currency count.

    Parameters
    ----------
    con
        Connection to read through (use ``ws.cursor()`` from another thread); defaults
        to ``ws.con``.
    """
    c = con if con is not None else ws.con
    cur = ws.currency()
    last = _scalar(c, "SELECT max(ordered_at) FROM order_revenue WHERE currency = ?", [cur])
    if last is None:
        hint = "import your orders (levelfield import orders FILE)"
        return (
            KeyNumber("net_revenue_12m", "Net revenue, last 12 months", None, "–", hint),
            KeyNumber("customers_12m", "Customers, last 12 months", None, "–", hint),
            KeyNumber("repeat_rate", "Repeat customers", None, "–", hint),
            KeyNumber("top_channel_share", "Top channel's share of revenue", None, "–", hint),
            KeyNumber("gross_margin", "Gross margin", None, "–", hint),
        )
    window = "currency = ? AND ordered_at > ?::TIMESTAMP - INTERVAL 12 MONTH"
    params = [cur, last]
    revenue = float(
        _scalar(
            c, f"SELECT coalesce(sum(net_revenue), 0) FROM order_revenue WHERE {window}", params
        )
    )
    customers = int(
        _scalar(
            c,
            f"SELECT count(DISTINCT customer_id) FROM order_revenue WHERE {window} "
            "AND NOT is_refund",
            params,
        )
    )
    repeat = c.execute(
        "SELECT count(*) FILTER (WHERE n >= 2), count(*) FROM ("
        "SELECT customer_id, count(DISTINCT order_id) AS n FROM order_revenue "
        "WHERE customer_id IS NOT NULL AND NOT is_refund AND currency = ? GROUP BY 1)",
        [cur],
    ).fetchall()[0]
    top = c.execute(
        f"SELECT channel, sum(net_revenue) AS r FROM order_revenue WHERE {window} "
        "GROUP BY 1 ORDER BY r DESC NULLS LAST LIMIT 1",
        params,
    ).fetchall()
    margin = c.execute(
        "SELECT sum(l.quantity * p.unit_cost), sum(l.quantity * l.unit_price) "
        "FROM order_lines l JOIN order_revenue o USING (order_id) "
        "JOIN products p ON p.sku = l.sku "
        "WHERE p.unit_cost IS NOT NULL AND NOT o.is_refund AND o.currency = ? "
        "AND o.ordered_at > ?::TIMESTAMP - INTERVAL 12 MONTH",
        params,
    ).fetchall()[0]

    repeat_rate = (repeat[0] / repeat[1]) if repeat[1] else None
    top_share = (
        float(top[0][1]) / revenue if top and revenue > 0 and top[0][1] is not None else None
    )
    cost, sales = (float(margin[0]), float(margin[1])) if margin[1] else (None, None)
    gross_margin = 1.0 - cost / sales if cost is not None and sales else None
    return (
        KeyNumber("net_revenue_12m", "Net revenue, last 12 months", revenue, _money(revenue, cur)),
        KeyNumber("customers_12m", "Customers, last 12 months", float(customers), f"{customers:,}"),
        KeyNumber(
            "repeat_rate",
            "Repeat customers",
            repeat_rate,
            f"{repeat_rate:.0%}" if repeat_rate is not None else "–",
            "" if repeat_rate is not None else "no customer ids in the orders",
        ),
        KeyNumber(
            "top_channel_share",
            f"Revenue through {top[0][0]}" if top else "Top channel's share of revenue",
            top_share,
            f"{top_share:.0%}" if top_share is not None else "–",
            "" if top_share is not None else "no positive revenue in the last 12 months",
        ),
        KeyNumber(
            "gross_margin",
            "Gross margin",
            gross_margin,
            f"{gross_margin:.0%}" if gross_margin is not None else "–",
            ""
            if gross_margin is not None
            else "import products with unit costs (levelfield import products FILE)",
        ),
    )


def _business_name(ws: Workspace, default: str | None = None) -> str:
    name = ws.get_business("name")
    return str(name) if name else default or ws.path.stem


def build_report_data(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    results: Mapping[str, Any] | None = None,
    default_name: str | None = None,
) -> tuple[ReportData, dict[str, Any]]:
    """Run the analyses not given in ``results`` and the advice; collect what to show.

    Returns the :class:`ReportData` and the raw results by analysis name (``"advice"``
    holds the plan when there is one), for :func:`export_tables`. The business is
    named by its profile's ``name``, else ``default_name``, else the workspace file.
    """

    def analyses_progress(step: str, fraction: float) -> None:
        progress(step, 0.85 * fraction)

    outcomes = run_analyses(ws, progress=analyses_progress, results=results)
    progress("advice", 0.88)
    done_findings = {
        n: _safe_findings(oc.result) for n, oc in outcomes.items() if oc.status == "done"
    }
    status, reason, advice_headline, actions, plan = _advice(ws, no_progress, done_findings)
    progress("key numbers", 0.95)
    data = ReportData(
        business_name=_business_name(ws, default_name),
        currency=ws.currency(),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        fingerprint=ws.fingerprint(),
        version=__version__,
        key_numbers=key_numbers(ws),
        actions=actions,
        advice_status=status,
        advice_reason=reason,
        advice_headline=advice_headline,
        sections=_sections(outcomes),
    )
    raw: dict[str, Any] = {n: oc.result for n, oc in outcomes.items() if oc.status == "done"}
    if plan is not None:
        raw["advice"] = plan
    progress("done", 1.0)
    return data, raw
