"""Test doubles for the analysis contract (docs/contracts.md), used by report and web tests.

A fake analysis module has ``analyze``, ``figures``, ``METHODS`` and ``REFERENCES``; its
result computes real numbers from the workspace in SQL, so tests can check that what the
report shows follows the data. Nothing here is shipped: it lives in tests/ only.
"""

from __future__ import annotations

import datetime as dt
import types
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from levelfield import Workspace
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


def make_analysis(name: str, *, fail: BaseException | None = None) -> types.ModuleType:
    """A module honouring the analysis contract, named ``levelfield.<name>``."""
    mod = types.ModuleType(f"levelfield.{name}")

    def analyze(ws: Workspace, *, progress: ProgressCallback = no_progress) -> FakeResult:
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        progress("reading orders", 0.5)
        if fail is not None:
            raise fail
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


@dataclass(frozen=True)
class FakeAction:
    title: str
    finding: str
    number: str
    impact: str
    effort: str
    horizon: str
    kpi: str


@dataclass(frozen=True)
class FakePlan:
    actions: list[FakeAction]

    def headline(self) -> list[str]:
        return [f"{len(self.actions)} actions"]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"actions": pd.DataFrame([a.__dict__ for a in self.actions])}


def make_advice() -> types.ModuleType:
    mod = types.ModuleType("levelfield.advice")

    def advise(ws: Workspace, *, progress: ProgressCallback = no_progress) -> FakePlan:
        horizons = ["next year", "this quarter", "this quarter", "this quarter", "next month"]
        return FakePlan(
            [
                FakeAction(
                    f"Action {i}", f"finding {i}", f"{i * 10}%", "high", "low", h, "repeat rate"
                )
                for i, h in enumerate(horizons)
            ]
        )

    mod.advise = advise  # type: ignore[attr-defined]
    return mod


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
