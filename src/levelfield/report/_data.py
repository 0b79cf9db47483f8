"""What the owner sees, as plain data: key numbers, the plan and one section per analysis.

:class:`ReportData` is built once from a workspace (running the analyses that were not
given) and is JSON-serializable, so the web app can cache it per organization and render
dashboards and the report from the cache instead of recomputing analyses per request.

An analysis that cannot run on this workspace (a
:class:`~levelfield.errors.LevelfieldError` such as ``InsufficientDataError``) becomes a
``"missing"`` section whose reason says what to import; any other exception is a bug in
levelfield and propagates, so that tests and users see it instead of a quiet section.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import duckdb

from levelfield import pipeline
from levelfield._version import __version__
from levelfield._warnings import collect_plain_warnings
from levelfield.advice import Action, AdvicePlan, advise
from levelfield.errors import LevelfieldError
from levelfield.findings import (
    AnalysisModule,
    AnalysisResult,
    Finding,
    ProgressCallback,
    no_progress,
)
from levelfield.findings import money as _money
from levelfield.workspace import Workspace, cost_statement, fx_statement

__all__ = [
    "ANALYSIS_TITLES",
    "ActionView",
    "AutomationView",
    "Chart",
    "FindingView",
    "KeyNumber",
    "ReportData",
    "ScorecardView",
    "Section",
    "TablePreview",
    "UnlockView",
    "build_report_data",
    "key_numbers",
    "run_analyses",
]

#: Section titles in the owner's words, in display order.
ANALYSIS_TITLES: dict[str, str] = {
    "customers": "Customers: who is worth keeping",
    "subscriptions": "Subscriptions: recurring revenue and who keeps paying",
    "landscape": "Landscape: how distinctive you are",
    "exposure": "Exposure: platforms, suppliers, countries",
    "pricing": "Pricing: what your prices should be",
    "scenarios": "Scenarios: what happens under shocks",
    "financing": "Financing: the true price of credit offers and 13 weeks of cash",
}

#: ``done``: analysed; ``missing``: this workspace lacks the data (the reason says which).
SectionStatus = Literal["done", "missing"]
_TABLE_PREVIEW_ROWS = 10


def analysis_names() -> tuple[str, ...]:
    """The analyses in the order ``analyze all`` runs them (``levelfield.pipeline``)."""
    return pipeline.ANALYSES


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
    """One ranked action of the advice plan, flattened for display and JSON.

    ``headline`` marks the (at most three) actions worth doing this quarter;
    ``assumptions`` is the basis of the impact range (what was measured, what assumed);
    ``success_probability`` the chance the hypothesis behind the action holds (0–1).
    """

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
    #: The rule informs (what a lender will see, when cash runs low) and claims no gain.
    informational: bool = False

    @property
    def worth_doing(self) -> bool:
        """Whether the action is expected to gain something (a chance and a gain above 0),
        or is information to act on that claims no money figure."""
        return self.informational or (self.impact_mid > 0 and self.success_probability > 0)


@dataclass(frozen=True)
class AutomationView:
    """One task of the automation priorities table (money in the business currency)."""

    area: str
    task: str
    solution: str
    hours_freed_per_week: float
    net_annual_benefit: float
    setup_cost: float
    payback: str
    risk: str
    basis: str


@dataclass(frozen=True)
class ScorecardView:
    """One balanced-scorecard line: value, status and what good looks like."""

    perspective: str
    metric: str
    value: str
    status: str
    reference: str
    source: str
    trend: str


@dataclass(frozen=True)
class UnlockView:
    """Data the workspace lacks and the advice it would make possible."""

    data: str
    how: str
    advice: tuple[str, ...]


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

    ``status`` is ``"done"`` (analysed) or ``"missing"`` (the workspace lacks the data;
    ``reason`` says what to import).
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
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportData:
    """Everything the report and the dashboards show, JSON-serializable.

    ``actions`` holds every ranked action (the headline ones first, as ranked);
    ``automation``, ``scorecard`` and ``unlocks`` are the rest of the advice plan.
    """

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
    automation: tuple[AutomationView, ...] = ()
    scorecard: tuple[ScorecardView, ...] = ()
    unlocks: tuple[UnlockView, ...] = ()
    #: What was converted into ``currency``, at which rates, up to which date
    #: (``levelfield.workspace.fx_statement``): "amounts in USD; CAD and GBP converted ...".
    fx_note: str = ""

    @property
    def headline_actions(self) -> tuple[ActionView, ...]:
        """The actions worth doing this quarter (at most three)."""
        return tuple(a for a in self.actions if a.headline)

    @property
    def more_actions(self) -> tuple[ActionView, ...]:
        """The other ranked actions expected to gain something, best first."""
        return tuple(a for a in self.actions if not a.headline and a.worth_doing)

    @property
    def not_recommended(self) -> tuple[ActionView, ...]:
        """Actions the playbook considered whose expected gain is nothing or a loss."""
        return tuple(a for a in self.actions if not a.headline and not a.worth_doing)

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
            automation=tuple(AutomationView(**a) for a in d["automation"]),
            scorecard=tuple(ScorecardView(**m) for m in d["scorecard"]),
            unlocks=tuple(
                UnlockView(u["data"], u["how"], tuple(u["advice"])) for u in d["unlocks"]
            ),
            fx_note=d.get("fx_note", ""),
        )


def _section_from_dict(d: Mapping[str, Any]) -> Section:
    return Section(
        warnings=tuple(d.get("warnings", ())),
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
    )


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _finite(value: float) -> float | None:
    x = float(value)
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
class Outcome:
    """One analysis run for the report: its result, or why the workspace cannot have one."""

    result: AnalysisResult | None
    reason: str = ""
    warnings: tuple[str, ...] = ()


def run_analyses(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    results: Mapping[str, AnalysisResult] | None = None,
) -> dict[str, Outcome]:
    """Run each analysis not given in ``results`` through :func:`levelfield.pipeline.run_analysis`.

    An analysis that raises a :class:`~levelfield.errors.LevelfieldError` (missing data,
    e.g. no competitor profiles) gets an :class:`Outcome` without result and with the
    error's message, which names the import that would enable it. Other exceptions are
    bugs and propagate.
    """
    given = dict(results or {})
    names = pipeline.ANALYSES
    out: dict[str, Outcome] = {}
    for i, name in enumerate(names):
        if name in given:
            out[name] = Outcome(given[name])
            continue

        def step(text: str, fraction: float, _i: int = i, _name: str = name) -> None:
            frac = max(0.0, min(1.0, float(fraction)))
            progress(f"{_name}: {text}", (_i + frac) / len(names))

        progress(f"{name}: starting", i / len(names))
        # Warnings become plain sentences in the section (no file path, no class name).
        with collect_plain_warnings() as said:
            try:
                # Through the pipeline, so the run's findings are stored for advice and later.
                result: AnalysisResult | None = pipeline.run_analysis(ws, name, step)
                reason = ""
            except LevelfieldError as exc:
                result, reason = None, f"{type(exc).__name__}: {exc}"
        out[name] = Outcome(result, reason, tuple(said))
    progress("analyses done", 1.0)
    return out


# -- sections --------------------------------------------------------------------------
def _finding_view(f: Finding) -> FindingView:
    return FindingView(f.metric, f.text, _finite(f.value), f.unit, f.severity)


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
    text = fig.layout.title.text
    # Plotly titles may hold <b>, <br>, <sup>; the caption is plain text.
    return " ".join(re.sub(r"<[^>]*>", " ", str(text)).split()) if text else ""


def _charts(figures: Mapping[str, Any]) -> tuple[Chart, ...]:
    charts = []
    for title, fig in figures.items():
        caption = _figure_title(fig) or str(title)
        fig.update_layout(autosize=True, width=None)
        fig.layout.title = None  # the caption above the chart says it
        charts.append(Chart(str(title), str(fig.to_json()), caption))
    return tuple(charts)


def build_section(name: str, module: AnalysisModule[Any], result: AnalysisResult) -> Section:
    """The :class:`Section` of one analysed result (``module`` is its package)."""
    return Section(
        name=name,
        title=ANALYSIS_TITLES[name],
        status="done",
        headline=tuple(result.headline()),
        findings=tuple(_finding_view(f) for f in result.findings()),
        charts=_charts(module.figures(result)),
        tables=_table_previews(result.tables()),
        methods=module.METHODS,
        references=tuple(module.REFERENCES),
        summary=_clean_summary(result.summary()),
    )


def _sections(outcomes: Mapping[str, Outcome]) -> tuple[Section, ...]:
    sections = []
    for name, oc in outcomes.items():
        if oc.result is None:
            sections.append(
                Section(name=name, title=ANALYSIS_TITLES[name], status="missing", reason=oc.reason)
            )
        else:
            built = build_section(name, pipeline.analysis_module(name), oc.result)
            sections.append(replace(built, warnings=oc.warnings))
    return tuple(sections)


def _group_sections(ws: Workspace) -> tuple[Section, ...]:
    """The cooperation section when this business's workspace holds group results."""
    from levelfield.report._cooperation import cooperation_section  # it imports this module

    section = cooperation_section(ws, ws.currency())
    return (section,) if section is not None else ()


# -- advice ----------------------------------------------------------------------------
def _action_view(a: Action, currency: str, headline: bool) -> ActionView:
    return ActionView(
        rank=a.rank,
        title=a.title,
        do=a.do,
        finding=a.finding,
        impact=a.worth_text(currency),
        impact_low=a.impact.low,
        impact_mid=a.impact.mid,
        impact_high=a.impact.high,
        assumptions=a.impact.basis,
        success_probability=a.success_probability,
        effort=a.effort_words,
        horizon=f"within {a.horizon_weeks} weeks",
        kpi=a.kpi,
        strategy=a.strategy,
        source=a.source,
        pilot=a.pilot.description if a.pilot else "",
        reasoning=a.reasoning,
        headline=headline,
        informational=a.informational,
    )


def _plan_views(
    plan: AdvicePlan,
) -> tuple[
    tuple[ActionView, ...],
    tuple[AutomationView, ...],
    tuple[ScorecardView, ...],
    tuple[UnlockView, ...],
]:
    """The whole plan for display: every action, automation, scorecard, unlocks."""
    top = {a.rule_id for a in plan.headline_actions}
    actions = tuple(_action_view(a, plan.currency, a.rule_id in top) for a in plan.actions)
    automation = tuple(
        AutomationView(
            area=c.area.replace("_", " "),
            task=c.task,
            solution=c.solution,
            hours_freed_per_week=c.hours_freed_per_week,
            net_annual_benefit=c.net_annual_benefit,
            setup_cost=c.setup_cost,
            payback=c.payback_words,
            risk=c.risk,
            basis=c.basis,
        )
        for c in plan.automation
    )
    scorecard = tuple(
        ScorecardView(
            perspective=m.perspective,
            metric=m.name,
            value=m.formatted(),
            status=m.status,
            reference=m.reference,
            source=m.source,
            trend="; ".join(f"{y}: {v:.3g}" for y, v in m.trend),
        )
        for m in plan.scorecard
    )
    unlocks = tuple(UnlockView(u.data, u.how, u.advice) for u in plan.unlocks)
    return actions, automation, scorecard, unlocks


def run_advice(
    ws: Workspace,
    findings: Mapping[str, Sequence[Finding]],
    skipped: Mapping[str, str],
) -> tuple[AdvicePlan | None, str]:
    """The advice plan from the analyses' findings, or ``None`` and why it cannot be made.

    ``skipped`` maps the analyses that could not run to why (shown with the plan).
    """
    try:
        every = {**findings, **pipeline.group_findings(ws)}
        return advise(ws, findings=every, skipped=skipped), ""
    except LevelfieldError as exc:
        return None, f"{type(exc).__name__}: {exc}"


# -- key numbers -----------------------------------------------------------------------
def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0][0] if rows else None


def _no_order_numbers() -> tuple[KeyNumber, ...]:
    """The five key numbers of a workspace without orders in the base currency: blank,
    each saying to import orders."""
    hint = "import your orders (levelfield import orders FILE)"
    return (
        KeyNumber("net_revenue_12m", "Net revenue, last 12 months", None, "–", hint),
        KeyNumber("customers_12m", "Customers, last 12 months", None, "–", hint),
        KeyNumber("repeat_rate", "Repeat customers", None, "–", hint),
        KeyNumber("top_channel_share", "Top channel's share of revenue", None, "–", hint),
        KeyNumber("gross_margin", "Gross margin", None, "–", hint),
    )


def _last_twelve_months(
    c: duckdb.DuckDBPyConnection, last: Any
) -> tuple[float, int, list[tuple[Any, ...]]]:
    """Net revenue (base currency), distinct buying customers and the top channel
    (``[(channel, revenue)]``, empty without orders) over the 12 months up to ``last``."""
    window = "fx_rate IS NOT NULL AND ordered_at > ?::TIMESTAMP - INTERVAL 12 MONTH"
    params = [last]
    revenue = float(
        _scalar(
            c,
            f"SELECT coalesce(sum(net_revenue_base), 0) FROM order_revenue WHERE {window}",
            params,
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
    top = c.execute(
        f"SELECT channel, sum(net_revenue_base) AS r FROM order_revenue WHERE {window} "
        "GROUP BY 1 ORDER BY r DESC NULLS LAST LIMIT 1",
        params,
    ).fetchall()
    return revenue, customers, top


def _repeat_rate(c: duckdb.DuckDBPyConnection) -> float | None:
    """Share of identified customers with two or more orders, ever (None without any)."""
    repeat = c.execute(
        "SELECT count(*) FILTER (WHERE n >= 2), count(*) FROM ("
        "SELECT customer_id, count(DISTINCT order_id) AS n FROM order_revenue "
        "WHERE customer_id IS NOT NULL AND NOT is_refund AND fx_rate IS NOT NULL GROUP BY 1)",
    ).fetchall()[0]
    return (repeat[0] / repeat[1]) if repeat[1] else None


def _gross_margin(c: duckdb.DuckDBPyConnection, last: Any) -> float | None:
    """``1 - cost / revenue`` over the last 12 months' order lines whose product has a
    unit cost, both in the base currency (None when no line has a cost)."""
    margin = c.execute(
        "SELECT sum(cost_base), sum(line_value_base) FROM order_line_costs "
        "WHERE cost_base IS NOT NULL AND NOT is_refund "
        "AND ordered_at > ?::TIMESTAMP - INTERVAL 12 MONTH",
        [last],
    ).fetchall()[0]
    cost, sales = (float(margin[0]), float(margin[1])) if margin[1] else (None, None)
    return 1.0 - cost / sales if cost is not None and sales else None


def key_numbers(
    ws: Workspace, con: duckdb.DuckDBPyConnection | None = None
) -> tuple[KeyNumber, ...]:
    """The business in five numbers, computed in SQL from the workspace.

    Net revenue, active customers and top channel share cover the 12 months up to the
    newest order (not today: exports are often weeks old). Repeat rate is the share of
    identified customers with two or more orders, ever. Gross margin is
    ``1 - cost / revenue`` over order lines whose product has a unit cost, both in the
    base currency (``order_line_costs``: costs converted at each order's date). Money is
    in the base currency
    (``net_revenue_base``); orders without a rate to it are left out.

    Parameters
    ----------
    con
        Connection to read through (use ``ws.cursor()`` from another thread); defaults
        to ``ws.con``.
    """
    c = con if con is not None else ws.con
    cur = ws.currency()
    last = _scalar(c, "SELECT max(ordered_at) FROM order_revenue WHERE fx_rate IS NOT NULL")
    if last is None:
        return _no_order_numbers()
    revenue, customers, top = _last_twelve_months(c, last)
    repeat_rate = _repeat_rate(c)
    gross_margin = _gross_margin(c, last)
    fx = fx_statement(c)
    top_share = (
        float(top[0][1]) / revenue if top and revenue > 0 and top[0][1] is not None else None
    )
    return (
        KeyNumber(
            "net_revenue_12m",
            "Net revenue, last 12 months",
            revenue,
            _money(revenue, cur),
            # what was converted, at which rates, up to which date (several currencies)
            fx.text() if fx.multi_currency or fx.missing else "",
        ),
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
            cost_statement(c)
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
    results: Mapping[str, AnalysisResult] | None = None,
    default_name: str | None = None,
) -> tuple[ReportData, dict[str, AnalysisResult | AdvicePlan]]:
    """Run the analyses not given in ``results`` and the advice; collect what to show.

    Returns the :class:`ReportData` and the raw results by analysis name (``"advice"``
    holds the plan when there is one), for :func:`export_tables`. The business is
    named by its profile's ``name``, else ``default_name``, else the workspace file.
    """

    def analyses_progress(step: str, fraction: float) -> None:
        progress(step, 0.85 * fraction)

    outcomes = run_analyses(ws, progress=analyses_progress, results=results)
    progress("advice", 0.88)
    done = {n: oc.result for n, oc in outcomes.items() if oc.result is not None}
    skipped = {n: oc.reason for n, oc in outcomes.items() if oc.result is None}
    plan, advice_reason = run_advice(ws, {n: r.findings() for n, r in done.items()}, skipped)
    progress("key numbers", 0.95)
    views = _plan_views(plan) if plan is not None else ((), (), (), ())
    data = ReportData(
        business_name=_business_name(ws, default_name),
        currency=ws.currency(),
        fx_note=fx_statement(ws.con).text(),
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        fingerprint=ws.fingerprint(),
        version=__version__,
        key_numbers=key_numbers(ws),
        actions=views[0],
        advice_status="done" if plan is not None else "missing",
        advice_reason=advice_reason,
        advice_headline=tuple(plan.headline()) if plan is not None else (),
        sections=_sections(outcomes) + _group_sections(ws),
        automation=views[1],
        scorecard=views[2],
        unlocks=views[3],
    )
    raw: dict[str, AnalysisResult | AdvicePlan] = dict(done)
    if plan is not None:
        raw["advice"] = plan
    progress("done", 1.0)
    return data, raw
