"""Test doubles for the analysis contract (docs/contracts.md), used by report and web tests.

A fake analysis module has ``analyze``, ``figures``, ``METHODS`` and ``REFERENCES``; its
result computes real numbers from the workspace in SQL, so tests can check that what the
report shows follows the data. Nothing here is shipped: it lives in tests/ only.
"""

from __future__ import annotations

import datetime as dt
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from levelfield import Workspace
from levelfield.advice import (
    Action,
    AdvicePlan,
    AutomationCandidate,
    ImpactEstimate,
    ScorecardMetric,
    Unlock,
)
from levelfield.errors import InsufficientDataError
from levelfield.findings import Finding, ProgressCallback, no_progress


@dataclass(frozen=True)
class FakeResult:
    name: str
    orders: int
    revenue: float
    by_channel: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        return {"orders": self.orders, "revenue": self.revenue, "nan_value": float("nan")}

    def to_frame(self) -> pd.DataFrame:
        return self.by_channel

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"by_channel": self.by_channel, "totals": pd.DataFrame({"orders": [self.orders]})}

    def headline(self) -> list[str]:
        return [f"{self.orders:,} orders brought {self.revenue:,.2f} of net revenue"]

    def findings(self) -> list[Finding]:
        top = self.by_channel.iloc[0]
        share = float(top["revenue"]) / self.revenue
        return [
            Finding(
                metric=f"{self.name}.top_channel_share",
                value=share,
                unit="share",
                text=f"{top['channel']} brings {share:.0%} of revenue <b>not bold</b>",
                severity="warning" if share > 0.5 else "info",
            )
        ]


def make_analysis(
    name: str, *, fail: BaseException | None = None, warn: Warning | None = None
) -> types.ModuleType:
    """A module honouring the analysis contract, named ``levelfield.<name>``."""
    mod = types.ModuleType(f"levelfield.{name}")

    def analyze(ws: Workspace, *, progress: ProgressCallback = no_progress) -> FakeResult:
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        progress("reading orders", 0.5)
        if fail is not None:
            raise fail
        if warn is not None:
            warnings.warn(warn, stacklevel=1)
        n = ws.con.execute("SELECT count(*) FROM order_revenue").fetchall()[0][0]
        if n == 0:
            raise InsufficientDataError(f"no orders: run 'levelfield import orders FILE' ({name})")
        frame = ws.con.execute(
            "SELECT channel, CAST(sum(net_revenue) AS DOUBLE) AS revenue "
            "FROM order_revenue GROUP BY 1 ORDER BY 2 DESC"
        ).df()
        frame["at"] = pd.Timestamp("2024-05-01 12:00", tz="Europe/Paris")  # tz-aware column
        result = FakeResult(name, int(n), float(frame["revenue"].sum()), frame)
        ws.record_run(name, {}, {"orders": result.orders}, started)
        progress("done", 1.0)
        return result

    def figures(result: FakeResult) -> dict[str, go.Figure]:
        fig = go.Figure(
            go.Bar(x=result.by_channel["channel"], y=result.by_channel["revenue"]),
            layout={"width": 900},
        )
        return {f"{name} revenue by channel": fig}

    mod.analyze = analyze  # type: ignore[attr-defined]
    mod.figures = figures  # type: ignore[attr-defined]
    mod.METHODS = f"Fake {name} method: sums of net revenue by channel."  # type: ignore[attr-defined]
    mod.REFERENCES = [f"Doe, J. (2020). The {name} paper."]  # type: ignore[attr-defined]
    return mod


def make_missing(name: str, needs: str) -> types.ModuleType:
    """An analysis whose data this workspace lacks: ``analyze`` says what to import."""
    mod = make_analysis(name)

    def analyze(ws: Workspace, *, progress: ProgressCallback = no_progress) -> FakeResult:
        raise InsufficientDataError(f"no {needs}: run 'levelfield import {needs} FILE'")

    mod.analyze = analyze  # type: ignore[attr-defined]
    return mod


def fake_action(rank: int, *, value: float = 1000.0, chance: float = 1.0) -> Action:
    """A real :class:`~levelfield.advice.Action` with made-up, recognisable texts."""
    return Action(
        rule_id=f"rule_{rank}",
        title=f"Action {rank}",
        do=f"do thing {rank}",
        finding=f"finding {rank} <b>not bold</b>",
        metric="customers.top_channel_share",
        value=0.75,
        strategy=f"strategy {rank}",
        source=f"seed {rank}",
        impact=ImpactEstimate.from_range(value / 2, value * 1.5, f"assumption {rank}"),
        effort=2,
        horizon_weeks=4 * rank,
        kpi=f"kpi {rank}",
        success_probability=chance,
        rank=rank,
        reasoning=f"#{rank}: reasons",
    )


def fake_plan(n_actions: int = 5) -> AdvicePlan:
    """A real plan: ``n_actions`` ranked actions, one automation task, two scorecard lines."""
    auto = AutomationCandidate(
        area="finance",
        task="bookkeeping",
        solution="accounting software",
        hours_freed_per_week=2.75,
        annual_savings=4680.0,
        annual_tool_cost=480.0,
        setup_cost=450.0,
        payback_months=1.3,
        risk="low",
        already_has_tool=False,
        basis="55 % automatable",
    )
    card = (
        ScorecardMetric(
            "financial", "Gross margin", 0.6, "share", True, 0.45, 0.3, "45 %", "measured"
        ),
        ScorecardMetric(
            "customer", "Net Promoter Score", None, "index", True, 30, 0, "30", "missing"
        ),
    )
    unlock = Unlock(
        "suppliers with their countries",
        "levelfield import suppliers FILE",
        ("Add a second supplier",),
    )
    return AdvicePlan(
        actions=tuple(
            fake_action(i, chance=0.5 if i == 2 else 1.0) for i in range(1, n_actions + 1)
        ),
        insights=(),
        automation=(auto,),
        scorecard=card,
        currency="EUR",
        unlocks=(unlock,),
    )


def install(
    monkeypatch: pytest.MonkeyPatch,
    modules: Mapping[str, types.ModuleType],
    plan: AdvicePlan | None = None,
) -> None:
    """Serve ``modules`` (by analysis name) from the pipeline; the others lack their data.

    ``plan`` replaces the advice playbook's result (the real ``advise`` when ``None``).
    """
    from levelfield import pipeline
    from levelfield.report import _data

    def analysis_module(name: str) -> Any:
        return modules[name] if name in modules else make_missing(name, "competitors")

    monkeypatch.setattr(pipeline, "analysis_module", analysis_module)
    if plan is not None:

        def advise(ws: Workspace, **_kw: Any) -> AdvicePlan:
            return plan

        monkeypatch.setattr(_data, "advise", advise)


def fill_orders(ws: Workspace, n_customers: int = 40, seed: int = 1) -> None:
    """Insert a small, known set of orders, lines and products straight into ``ws``."""
    con = ws.con
    con.execute(
        "INSERT INTO imports VALUES (1, 'orders', 'test.csv', 'abc', 'test', 1, 1, 0, "
        "now()::TIMESTAMP, now()::TIMESTAMP, 'ok', NULL)"
    )
    con.execute(
        f"""INSERT INTO orders
        SELECT 'o' || i, 'c' || (i % {n_customers}),
               TIMESTAMP '2024-01-01' + INTERVAL (i % 400) DAY,
               CASE WHEN i % 4 = 0 THEN 'etsy' ELSE 'shopify' END, NULL, 'EUR',
               100, 10, 0, 0, NULL, 0, 'paid', NULL, 1
        FROM range({n_customers * 3}) t(i)"""
    )
    con.execute(
        """INSERT INTO order_lines
        SELECT order_id, 1, 'SKU1', 'Mug', 'mugs', 2, 45, 50, 0, 1 FROM orders"""
    )
    con.execute("INSERT INTO products VALUES ('SKU1', 'Mug', 'mugs', 18, 50, 'EUR', NULL, 1)")
