from __future__ import annotations

import math
from pathlib import Path

import pytest

import levelfield.advice as advice
from levelfield.advice import advise, automation_priorities, business_facts
from levelfield.errors import DataError
from levelfield.findings import Finding
from levelfield.workspace import Workspace, open_workspace


def test_business_facts_by_hand(shop: Workspace) -> None:
    f = business_facts(shop)
    # 300 orders x 100, 180 via amazon; unit price 50 vs cost 20 -> margin 60 %.
    # 300 paid orders of USD 100 (no discount, no refund), all within the 12 months.
    assert f.net_revenue_12m == pytest.approx(30_000)
    assert f.orders_12m == 300
    assert f.revenue_by_channel["amazon"] / f.net_revenue_12m == pytest.approx(0.6, abs=0.02)
    assert f.fee_rate_by_channel["amazon"] == pytest.approx(0.15)
    assert f.fee_rate_by_channel["shopify"] == pytest.approx(0.03)
    assert f.gross_margin == pytest.approx(0.6)
    assert f.own_channel == "shopify"
    assert f.fixed_costs_12m == pytest.approx(12_000)


def test_channel_shift_impact_by_hand(shop: Workspace) -> None:
    from levelfield.advice._impact import channel_shift

    f = Finding(
        "exposure.platform_share_max",
        0.6,
        "share",
        "60 % via amazon",
        "warning",
        {"channel": "amazon"},
    )
    facts = business_facts(shop)
    params = {"share_moved_low": 0.1, "share_moved_high": 0.3, "conversion_loss": 0.2}
    est = channel_shift(params, {"p": f}, facts)
    r = facts.revenue_by_channel["amazon"]
    per = 0.8 * (0.6 - 0.03) - (0.6 - 0.15)  # conversion loss 20 %, fees measured
    assert est.low == pytest.approx(0.10 * r * per)
    assert est.high == pytest.approx(0.30 * r * per)
    assert "15.0%" in est.basis


def test_platform_action_is_sized_by_the_scenario_engine(shop: Workspace) -> None:
    f = Finding(
        "exposure.platform_share_max",
        0.6,
        "share",
        "60 % via amazon",
        "warning",
        {"channel": "amazon"},
    )
    plan = advise(shop, findings={"exposure": [f]})
    a = next(a for a in plan.actions if a.rule_id == "platform_to_own_store")
    assert a.impact.method == "scenario"
    assert "own-store assumption: 70% of moved buyers follow (range 40%-90%" in a.impact.basis
    assert a.impact.low <= a.impact.mid <= a.impact.high
    # 15 % of amazon's ~18,000 offered to move; the share that follows is the business's
    # one own-store assumption (PERT 40-70-90 %, mean 68 %). Break-even is
    # (0.6 - 0.15) / (0.6 - 0.03) = 79 % following, so on average a small loss, and the
    # action's success probability is the chance of beating break-even, well below 1/2.
    assert -0.15 * 18_000 * 0.15 < a.impact.mid < 0
    assert a.success_probability == a.impact.success_probability
    assert 0 < a.success_probability < 0.5


def test_ranking_is_by_value_over_effort_stable_and_explained(shop: Workspace) -> None:
    fs = [
        Finding(
            "exposure.platform_share_max",
            0.6,
            "share",
            "60 % via amazon",
            "warning",
            {"channel": "amazon"},
        ),
        Finding("exposure.fee_drag", 0.2, "share", "fees take 20 % of gross margin", "watch", {}),
        Finding(
            "pricing.recommended_profit_gain",
            5000.0,
            "currency",
            "repricing adds USD 5,000",
            "info",
            {"low": 2000.0, "high": 8000.0},
        ),
        Finding(
            "landscape.distinctiveness_percentile", 20.0, "index", "20th percentile", "warning", {}
        ),
    ]
    p1 = advise(shop, findings={"all": fs})
    p2 = advise(shop, findings={"all": list(reversed(fs))})
    assert [a.rule_id for a in p1.actions] == [a.rule_id for a in p2.actions]
    scores = [a.score for a in p1.actions]
    assert scores == sorted(scores, reverse=True)
    assert [a.rank for a in p1.actions] == list(range(1, len(p1.actions) + 1))
    assert p1.actions[0].rule_id == "reprice_with_guardrails"  # 5,000 / effort 2
    assert "per effort point" in p1.actions[0].reasoning
    assert "below #1" in p1.actions[1].reasoning
    assert len(p1.headline_actions) <= 3
    assert all(a.impact.mid > 0 for a in p1.headline_actions)
    lines = p1.headline()
    assert any("Why:" in line for line in lines)
    headlined = {a.rule_id for a in p1.headline_actions}
    for ins in p1.insights:  # an insight is said once: as an action or as a "!" line
        assert (ins.rule_id in headlined) != any(line.startswith(f"! {ins.name}") for line in lines)
    assert shop.latest_run("advice") is not None


def test_no_findings_no_actions(shop: Workspace) -> None:
    plan = advise(shop, findings={})
    assert plan.actions == ()
    assert "No action stands out" in plan.headline()[0]
    assert set(plan.tables()) == {"actions", "insights", "automation", "scorecard", "missing_data"}


def test_missing_imports_say_which_advice_they_would_unlock(shop: Workspace) -> None:
    # The shop has orders, unit costs, monthly costs and part of a profile; nothing else.
    plan = advise(shop, findings={})
    by_data = {u.data: u for u in plan.unlocks}
    assert set(by_data) == {
        "suppliers with their countries",
        "competitor profiles",
        "customer survey answers (Net Promoter Score)",
        "the automation questionnaire (hours per task)",
        "the business profile (employees, sector, country)",
        "the credit offers you are weighing (loans, cash advances, lines of credit)",
    }
    assert (
        "levelfield import credit_offers FILE"
        in by_data["the credit offers you are weighing (loans, cash advances, lines of credit)"].how
    )
    assert (
        "Qualify alternates for single-source products"
        in by_data["suppliers with their countries"].advice
    )
    assert (
        "Close the loop with unhappy customers"
        in by_data["customer survey answers (Net Promoter Score)"].advice
    )
    assert "levelfield import suppliers FILE" in by_data["suppliers with their countries"].how
    lines = plan.headline()
    assert "Your data support no action yet; more advice needs more data:" in lines
    assert any(line.startswith("+ Competitor profiles (") for line in lines)
    # Once suppliers are imported the playbook can check those rules: no longer listed.
    shop.con.execute("INSERT INTO suppliers VALUES ('S1', 'Mill', 'ET', 9000, 'USD', 60, NULL, 1)")
    again = advise(shop, findings={})
    assert "suppliers with their countries" not in {u.data for u in again.unlocks}


def test_playbook_texts_fit_any_business_and_quote_its_own_data(shop: Workspace) -> None:
    from levelfield.advice import load_playbook

    words = ("coffee", "roast", "bag", "harvest", "green", "parcel", "bean")
    for rule in load_playbook():
        text = " ".join((rule.title, rule.do, rule.kpi, rule.explain or "")).lower()
        assert not [w for w in words if w in text], rule.id
    shop.con.execute("INSERT INTO business VALUES ('sector', '\"bicycle repair\"', 1)")
    gap = Finding("exposure.scale_gap", 0.2, "share", "you pay 20 % more", "watch", {})
    at_risk = Finding(
        "customers.value_at_risk_share",
        0.3,
        "share",
        "30 % at risk",
        "watch",
        {"value_at_risk": 9e3},
    )
    plan = advise(shop, findings={"x": [gap, at_risk]})
    by_id = {a.rule_id: a for a in plan.actions}
    assert "bicycle repair businesses" in by_id["buy_together"].do
    assert "Beans" in by_id["win_back_at_risk"].do  # the shop's top product by revenue


def _questionnaire(ws: Workspace) -> None:
    ws.con.execute(
        """INSERT INTO automation VALUES
           ('finance', 'bookkeeping', 5, 30, 0.10, 'spreadsheets', 1),
           ('marketing', 'newsletter', 4, 25, 0.0, 'Mailchimp', 1),
           ('customer service', 'order status e-mails', 10, 20, 0.20, '', 1),
           ('sales', 'wholesale quotes', 0.5, 20, 0.0, '', 1)"""
    )


def test_automation_ranking_worked_example_by_hand(shop: Workspace) -> None:
    _questionnaire(shop)
    cands = automation_priorities(shop)
    # finance: labour 5*30*52 = 7,800; 55 % = 4,290; errors 7,800*0.1*0.5 = 390 -> 4,680;
    # tool 40*12 = 480; setup 15 h * 30 = 450; payback 450 / ((4,680-480)/12) = 1.286 months.
    # customer service: 10*20*52 = 10,400; 30 % = 3,120; errors 1,040 -> 4,160; tool 600;
    # setup 20*20 = 400 -> 400 / (3,560/12) = 1.348. marketing: 4*25*52 = 5,200; 40 % =
    # 2,080; tool 480; setup 375 -> 375/(1,600/12) = 2.8125. sales: 0.5*20*52 = 520 * 25 %
    # = 130 < tool 600: never pays back.
    assert [c.area for c in cands] == ["finance", "customer_service", "marketing", "sales"]
    assert cands[0].annual_savings == pytest.approx(4680)
    assert cands[0].payback_months == pytest.approx(450 / (4200 / 12))
    assert cands[1].payback_months == pytest.approx(400 / (3560 / 12))
    assert cands[2].payback_months == pytest.approx(2.8125)
    assert math.isinf(cands[3].payback_months)
    assert cands[2].already_has_tool  # Mailchimp
    text = cands[0].sentence("USD")
    assert "frees" in text and "team" in text and "replac" not in text
    plan = advise(shop, findings={})
    auto = next(a for a in plan.actions if a.rule_id == "automate_first_task")
    assert "bookkeeping" in auto.title
    assert auto.impact.high == pytest.approx(4200)


def test_automation_unknown_area_lists_known(shop: Workspace) -> None:
    shop.con.execute("INSERT INTO automation VALUES ('astrology', 'x', 1, 1, 0, '', 1)")
    with pytest.raises(DataError, match="unknown area.*astrology.*finance"):
        automation_priorities(shop)


def test_automation_areas_accept_common_names(shop: Workspace) -> None:
    shop.con.execute(
        """INSERT INTO automation VALUES ('Orders', 'copy orders into the roast plan', 6, 24, 0.04, '', 1),
           ('HR', 'staff rota', 2, 26, 0.04, 'paper', 1),
           ('food safety', 'log lot codes', 2.5, 22, 0.03, 'paper', 1)"""
    )
    areas = {c.task: c.area for c in automation_priorities(shop)}
    assert areas == {
        "copy orders into the roast plan": "operations",
        "staff rota": "hr",
        "log lot codes": "compliance",
    }


def test_automation_bad_values(shop: Workspace) -> None:
    shop.con.execute("INSERT INTO automation VALUES ('finance', 'x', 1, 1, 1.5, '', 1)")
    with pytest.raises(DataError, match="error_rate"):
        automation_priorities(shop)


def test_balanced_scorecard_has_four_perspectives_with_trends(shop: Workspace) -> None:
    nps = Finding("customers.nps", 42.0, "index", "NPS 42", "good", {})
    pct = Finding("landscape.distinctiveness_percentile", 72.0, "index", "72nd", "good", {})
    plan = advise(shop, findings={"c": [nps, pct]})
    persp = {m.perspective for m in plan.scorecard}
    assert persp == set(advice.PERSPECTIVES)
    by = {m.name: m for m in plan.scorecard}
    assert by["Net Promoter Score"].value == 42.0
    assert by["Net Promoter Score"].status == "good"
    assert by["Gross margin"].value == pytest.approx(0.6)
    assert by["Digital capabilities in place"].value == 2.0
    assert by["Digital capabilities in place"].status == "poor"
    assert by["Employee satisfaction (0-10)"].status == "good"
    assert by["Chance of a loss year"].status == "missing"
    # landscape states a percentile (0-100); the scorecard line is a share
    assert by["Distinctiveness percentile"].value == pytest.approx(0.72)
    assert by["Distinctiveness percentile"].formatted() == "72%"
    assert by["Distinctiveness percentile"].status == "good"
    assert by["Revenue growth, last 12 months"].trend  # yearly history
    # 300 days of orders: no second year to compare with, so no growth figure
    assert by["Revenue growth, last 12 months"].status == "missing"
    assert "two full years" in by["Revenue growth, last 12 months"].source
    missing = [m for m in plan.scorecard if m.status == "missing"]
    assert missing and all(m.source.startswith("missing: ") for m in missing)


def test_scorecard_growth_compares_twelve_months_and_reach_is_the_owned_share(
    shop: Workspace,
) -> None:
    # The shop's 300 orders of 100 run 2024-01-01 .. 2024-10-26. Add one order of 100 a
    # week from 2022-10-01 (60 weeks): the 12 months before the last, 2022-10-27 ..
    # 2023-10-26, hold weeks 4..55 (52 orders); weeks 56..59 fall in the last 12 months.
    shop.con.execute(
        """INSERT INTO orders SELECT 'h' || i, 'c1', TIMESTAMP '2022-10-01' + INTERVAL (7 * i) DAY,
                  'shopify', NULL, 'USD', 100, 0, 0, 0, 3, 0, 'paid', NULL, 1
           FROM range(60) t(i)"""
    )
    owned = Finding("exposure.data_ownership_share", 0.47, "share", "47 % owned", "watch", {})
    unknown = Finding("exposure.fee_drag", float("nan"), "share", "n/a", "info", {})
    by = {m.name: m for m in advise(shop, findings={"e": [owned, unknown]}).scorecard}
    growth = by["Revenue growth, last 12 months"]
    assert growth.value == pytest.approx((30_000 + 4 * 100) / (52 * 100) - 1)
    assert growth.source == "measured: orders"
    assert by["Revenue whose customers you can reach directly"].value == pytest.approx(0.47)
    assert by["Repeat customers"].value is not None  # 300 days + 60 weeks of history
    fees = by["Fees taken by platforms and payments"]
    assert fees.status == "missing"  # NaN is n/a
    assert fees.source.startswith("missing: import orders with their fees")


def test_figures_render(shop: Workspace) -> None:
    _questionnaire(shop)
    f = Finding(
        "exposure.platform_share_max",
        0.6,
        "share",
        "60 % via amazon",
        "warning",
        {"channel": "amazon"},
    )
    plan = advise(shop, findings={"e": [f]})
    figs = advice.figures(plan)
    assert list(figs) == ["Actions ranked by value", "Automation priorities", "Balanced scorecard"]
    assert len(figs["Actions ranked by value"].data[0].x) == len(plan.actions)


def test_second_supplier_is_sized_under_an_outage_by_the_scenario_engine(shop: Workspace) -> None:
    shop.con.execute("INSERT INTO business VALUES ('country', '\"US\"', 1)")
    shop.con.execute(
        """INSERT INTO suppliers VALUES ('S1', 'Yirga Coop', 'ET', 9000, 'USD', 60, NULL, 1),
                                        ('S2', 'Cerrado Farms', 'BR', 1000, 'USD', 45, NULL, 1)"""
    )
    f = Finding(
        "exposure.country_cogs_share_max",
        0.9,
        "share",
        "ET supplies 90 %",
        "warning",
        {"country": "ET", "risk": 80.0},
    )
    plan = advise(shop, findings={"exposure": [f]})
    ids = {a.rule_id for a in plan.actions}
    assert "second_supplier_country" not in ids  # the fragile-supply insight replaces it
    a = next(a for a in plan.actions if a.rule_id == "fragile_supply")
    assert a.impact.method == "scenario"
    assert "US" in a.impact.basis  # the lowest-risk country the model knows (home)
    assert "outage" in a.impact.basis
    # protecting against a 13-week outage is worth more the likelier the outage
    assert a.impact.high > a.impact.low


def test_a_few_weeks_of_orders_do_not_judge_repeat_buying(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "short.duckdb") as ws:
        ws.con.execute(
            "INSERT INTO imports VALUES (1, 'orders', 't.csv', 'x', 'test', 6, 6, 0, now(), "
            "now(), 'ok', NULL)"
        )
        ws.con.execute(
            """INSERT INTO orders SELECT 'o' || i, 'c' || (i % 90),
                      TIMESTAMP '2024-05-01' + INTERVAL (i % 34) DAY, 'shopify', NULL, 'USD',
                      50, 0, 0, 0, 2, 0, 'paid', NULL, 1
               FROM range(100) t(i)"""
        )
        by = {m.name: m for m in advise(ws, findings={}).scorecard}
    repeat = by["Repeat customers"]
    assert repeat.status == "missing"
    assert repeat.source == (
        "missing: the orders cover 33 days; repeat buying needs at least 90 days of history "
        "to judge"
    )


def _action(impact: advice.ImpactEstimate, p: float) -> advice.Action:
    return advice.Action(
        rule_id="r",
        title="t",
        do="d",
        finding="f",
        metric="m",
        value=0.0,
        strategy="s",
        source="src",
        impact=impact,
        effort=2,
        horizon_weeks=4,
        kpi="k",
        success_probability=p,
    )


def test_a_simulated_mean_is_not_discounted_by_its_own_chance_of_success() -> None:
    """The own-store move's mean over futures already includes the futures where it fails."""
    simulated = advice.ImpactEstimate(-900.0, 100.0, 2000.0, "sim", "scenario", 0.4, True)
    stated = advice.ImpactEstimate(0.0, 1000.0, 2000.0, "range", "range", None)
    assert _action(simulated, 0.4).expected_value == 100.0
    assert _action(stated, 0.4).expected_value == pytest.approx(400.0)
    ranked = advice.rank_actions([_action(simulated, 0.4)], "USD")
    assert "x 40% chance" not in ranked[0].reasoning
    assert "futures where it pays, 40%" in ranked[0].reasoning
