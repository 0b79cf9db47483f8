"""The demo business's report shows the whole plan (issue 21: the owner sees everything)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from markupsafe import escape

from levelfield import open_workspace
from levelfield.advice import AdvicePlan
from levelfield.errors import LevelfieldWarning
from levelfield.report import ReportData, build_report_data, render_report


@pytest.mark.slow
def test_demo_report_shows_every_action_automation_and_scorecard(demo_dir: Path) -> None:
    with open_workspace(demo_dir / "levelfield.duckdb") as ws, warnings.catch_warnings():
        warnings.simplefilter("ignore", LevelfieldWarning)
        data, raw = build_report_data(ws)
    plan = raw["advice"]
    assert isinstance(plan, AdvicePlan)
    assert ReportData.from_json(data.to_json()) == data  # what the web app caches
    html = render_report(data)

    # Every ranked action, the headline three first, then the rest in rank order.
    assert len(plan.actions) > 3 and len(plan.headline_actions) == 3
    assert [a.title for a in data.headline_actions] == [a.title for a in plan.headline_actions]
    assert [a.rank for a in data.actions] == [a.rank for a in plan.actions]
    titles = re.findall(r'<div class="action-title">([^<]+)</div>', html)
    # Information (cash buffer, debt-service coverage) claims no money figure but is listed.
    info = {a.rule_id for a in plan.actions if a.impact.method == "information"}
    assert {"build_cash_buffer", "dscr_meets_lender_threshold"} <= info
    worth = [a for a in plan.actions if a.worth_doing]
    assert titles == [str(escape(a.title)) for a in worth]
    assert html.index('id="headline-actions"') < html.index('id="more-actions"')
    # Actions that cannot pay are listed apart, never as something to do.
    dead = [a for a in plan.actions if not a.worth_doing]
    if dead:
        listed = html[html.index('id="not-recommended"') :]
        listed = listed[: listed.index("</ul>")]
        assert all(str(escape(a.title)) in listed for a in dead)
    # Each action worth doing with its assumptions and its chance of success.
    for a in worth:
        block = html[html.index(f'data-rank="{a.rank}"') :]
        block = block[: block.index("</li>")]
        assert str(escape(a.impact.basis)) in block
        assert f"Chance it works: {a.success_probability:.0%}" in block
    assert any(a.success_probability < 1 for a in plan.actions)

    # The automation priorities table: every questionnaire task, ranked by payback.
    auto = html[html.index('id="automation"') : html.index('id="scorecard"')]
    assert len(plan.automation) >= 3
    rows = re.findall(r"<tr title=[^>]*><td>[^<]*</td><td>([^<]+)</td>", auto)
    assert rows == [str(escape(c.task)) for c in plan.automation]

    # The balanced scorecard: four perspectives, every line with its status.
    card = html[html.index('id="scorecard"') :]
    card = card[: card.index("</section>")]
    for m in plan.scorecard:
        assert f"<td>{escape(m.name)}</td><td>{escape(m.formatted())}</td>" in card
    assert {m.perspective for m in data.scorecard} == {
        "financial",
        "customer",
        "internal process",
        "learning and growth",
    }
