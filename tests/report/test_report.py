"""The one-file HTML report: content, self-containment, missing analyses, exports."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import warnings
from pathlib import Path

import fakes
import openpyxl
import pandas as pd
import plotly.graph_objects as go
import pytest

import levelfield.report as report
from levelfield import Workspace, open_workspace
from levelfield.errors import ConfigError, LevelfieldWarning
from levelfield.report import (
    ReportData,
    build_report_data,
    export_tables,
    key_numbers,
    render_report,
    write_report,
)


def test_key_numbers_match_hand_computed_values(ws: Workspace) -> None:
    fakes.fill_orders(ws)  # 120 orders of 100 - 10 discount, 40 customers, every 4th on etsy
    nums = {k.key: k for k in key_numbers(ws)}
    assert nums["net_revenue_12m"].value == pytest.approx(120 * 90)
    assert nums["net_revenue_12m"].display == "EUR 10,800"
    assert nums["customers_12m"].value == 40
    assert nums["repeat_rate"].value == pytest.approx(1.0)
    assert nums["top_channel_share"].value == pytest.approx(0.75)
    assert nums["top_channel_share"].label.endswith("shopify")
    assert nums["gross_margin"].value == pytest.approx(1 - 18 / 45)


def test_key_numbers_window_is_12_months_before_last_order(ws: Workspace) -> None:
    fakes.fill_orders(ws)
    ws.con.execute(
        "INSERT INTO orders VALUES ('old', 'cx', TIMESTAMP '2020-01-01', 'etsy', NULL, 'EUR', "
        "1000, 0, 0, 0, NULL, 0, 'paid', NULL, 1)"
    )
    nums = {k.key: k for k in key_numbers(ws)}
    assert nums["net_revenue_12m"].value == pytest.approx(10800)
    assert nums["customers_12m"].value == 40
    # Repeat rate is over all time: the one-order customer lowers it to 40/41.
    assert nums["repeat_rate"].value == pytest.approx(40 / 41)


def test_key_numbers_on_empty_workspace_say_what_to_import(ws: Workspace) -> None:
    nums = key_numbers(ws)
    assert len(nums) == 5
    assert all(k.value is None for k in nums)
    assert all("import" in k.note for k in nums)


def test_report_is_self_contained_and_shows_each_section(
    ws: Workspace, tmp_path: Path, fake_analyses: None
) -> None:
    fakes.fill_orders(ws)
    out = write_report(ws, tmp_path / "sub" / "report.html")
    html = out.read_text(encoding="utf-8")
    assert report.plotly_js() in html  # plotly.js inlined from the installed package
    own = html.replace(report.plotly_js(), "")
    # no external requests: no src/href to another origin, no @import (the browser test
    # also records requests while the report, plotly.js included, renders)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", own)
    assert "@import" not in own
    assert "Plotly" in html and len(html) > 1_000_000  # plotly.js inlined
    assert '<meta name="viewport"' in html
    # headline: five numbers, then the plan: three actions of this quarter first, the rest
    assert html.index("EUR 10,800") < html.index('id="actions"') < html.index('id="customers"')
    actions = re.findall(r'<div class="action-title">([^<]+)</div>', html)
    assert actions == ["Action 1", "Action 2", "Action 3", "Action 4", "Action 5"]
    assert html.index('id="headline-actions"') < html.index("Action 3")
    assert html.index("Action 3") < html.index('id="more-actions"') < html.index("Action 4")
    # sections
    assert re.search(r'id="customers">\s*<h2>[^<]*\s*<span class="status status-done"', html)
    assert "customers revenue by channel" in html
    assert "Not yet analysed: InsufficientDataError: no competitors: run" in html
    # findings are escaped, methods and provenance present
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not bold</b>" not in html
    assert "Fake customers method" in html and "Doe, J. (2020). The customers paper." in html
    assert ws.fingerprint() in html
    assert f"levelfield version {importlib.import_module('levelfield').__version__}" in html


def test_chart_json_cannot_close_its_script_element(
    ws: Workspace, tmp_path: Path, fake_analyses: None
) -> None:
    fakes.fill_orders(ws)
    ws.con.execute(
        "UPDATE orders SET channel = '</script><script>alert(1)</script>' WHERE order_id = 'o1'"
    )
    html = write_report(ws, tmp_path / "r.html").read_text()
    assert "<script>alert(1)" not in html


def test_given_results_are_not_recomputed(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, fake_analyses: None
) -> None:
    fakes.fill_orders(ws)
    given = fakes.make_analysis("customers").analyze(ws)
    failing = fakes.make_analysis("customers", fail=AssertionError("must not run"))
    fakes.install(monkeypatch, {"customers": failing})
    data, raw = build_report_data(ws, results={"customers": given})
    assert data.section("customers").status == "done"  # type: ignore[union-attr]
    assert raw["customers"] is given


def test_insufficient_data_becomes_not_yet_analysed(ws: Workspace, fake_analyses: None) -> None:
    data, _raw = build_report_data(ws)  # empty workspace: the fake raises InsufficientDataError
    sec = data.section("customers")
    assert sec is not None and sec.status == "missing"
    assert "InsufficientDataError: no orders" in sec.reason


def test_a_bug_in_an_analysis_is_not_hidden_in_a_section(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.fill_orders(ws)
    fakes.install(
        monkeypatch,
        {"exposure": fakes.make_analysis("exposure", fail=RuntimeError("boom"))},
        fakes.fake_plan(),
    )
    with pytest.raises(RuntimeError, match="boom"):
        build_report_data(ws)


def test_a_warning_is_a_plain_sentence_in_its_section(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levelfield.errors import ConvergenceWarning

    fakes.fill_orders(ws)
    said = ConvergenceWarning("the purchase model did not converge; set customers.model bgnbd")
    fakes.install(
        monkeypatch,
        {"customers": fakes.make_analysis("customers", warn=said)},
        fakes.fake_plan(),
    )
    data, _raw = build_report_data(ws)
    sec = data.section("customers")
    assert sec is not None and sec.warnings == (
        "Warning: The purchase model did not converge; set customers.model bgnbd.",
    )
    assert ReportData.from_json(data.to_json()).section("customers") == sec
    html = render_report(data)
    block = html[html.index('id="customers"') :]
    assert "Warning: The purchase model did not converge" in block
    assert ".py" not in block.split('id="landscape"')[0] and "ConvergenceWarning" not in html


def test_report_data_json_round_trip(ws: Workspace, fake_analyses: None) -> None:
    fakes.fill_orders(ws)
    data, _raw = build_report_data(ws)
    again = ReportData.from_json(data.to_json())
    assert again == data
    sec = again.section("customers")
    assert sec is not None and sec.summary["nan_value"] is None  # NaN made JSON-safe


def test_progress_reaches_one_and_never_goes_back(ws: Workspace, fake_analyses: None) -> None:
    fakes.fill_orders(ws)
    seen: list[float] = []
    build_report_data(ws, progress=lambda step, f: seen.append(f))
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert all(0.0 <= f <= 1.0 for f in seen)


def test_write_report_to_a_folder_is_a_config_error(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        write_report(ws, tmp_path)


def test_export_tables_writes_csv_and_xlsx(
    ws: Workspace, tmp_path: Path, fake_analyses: None
) -> None:
    fakes.fill_orders(ws)
    files = export_tables(ws, tmp_path / "out")
    sheets = [
        "customers_by_channel",
        "customers_totals",
        "exposure_by_channel",
        "exposure_totals",
        "advice_actions",
        "advice_insights",
        "advice_automation",
        "advice_scorecard",
        "advice_missing_data",
    ]
    assert [p.name for p in files] == [f"{s}.csv" for s in sheets] + ["levelfield-tables.xlsx"]
    frame = pd.read_csv(tmp_path / "out" / "customers_by_channel.csv")
    assert frame["revenue"].sum() == pytest.approx(10800)
    actions = pd.read_csv(tmp_path / "out" / "advice_actions.csv")
    assert list(actions["rank"]) == [1, 2, 3, 4, 5]
    wb = openpyxl.load_workbook(tmp_path / "out" / "levelfield-tables.xlsx")
    assert wb.sheetnames == sheets
    assert wb["customers_totals"]["A2"].value == 120


def test_export_formats_and_bad_input(ws: Workspace, tmp_path: Path, fake_analyses: None) -> None:
    fakes.fill_orders(ws)
    assert all(p.suffix == ".csv" for p in export_tables(ws, tmp_path / "c", fmt="csv"))
    assert [p.suffix for p in export_tables(ws, tmp_path / "x", fmt="xlsx")] == [".xlsx"]
    with pytest.raises(ConfigError, match="csv, xlsx or both"):
        export_tables(ws, tmp_path / "y", fmt="pdf")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        export_tables(ws, tmp_path / "file")


def test_export_with_nothing_analysed_says_why(tmp_path: Path) -> None:
    # The real analyses on an empty workspace: each says what to import; the advice plan
    # still has its scorecard and what data would unlock more, so those are written.
    with open_workspace(tmp_path / "w.duckdb") as w:
        files = export_tables(w, tmp_path / "out", fmt="csv")
    names = {p.name for p in files}
    assert "advice_scorecard.csv" in names and "advice_missing_data.csv" in names
    assert not any(n.startswith(("customers_", "pricing_")) for n in names)
    missing = pd.read_csv(tmp_path / "out" / "advice_missing_data.csv")
    assert "competitor profiles" in set(missing["data"])


@pytest.mark.slow
def test_report_with_the_real_analyses(ws: Workspace, tmp_path: Path) -> None:
    """The real analyses on 400 days of orders with costs but no competitors or suppliers."""
    fakes.fill_orders(ws)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LevelfieldWarning)
        data, _raw = build_report_data(ws)
    status = {s.name: s.status for s in data.sections}
    # Orders, lines and unit costs are there: these analyses must run.
    assert status["exposure"] == status["pricing"] == status["scenarios"] == "done"
    # No competitor profiles: landscape says which import would enable it.
    landscape = data.section("landscape")
    assert landscape is not None and landscape.status == "missing"
    assert "levelfield import competitors" in landscape.reason
    for s in data.sections:
        assert (s.status == "done") == (s.reason == ""), s
    assert data.advice_status == "done"
    assert {u.data for u in data.unlocks} >= {
        "competitor profiles",
        "suppliers with their countries",
    }
    html = report.render_report(data)
    for anchor in ("actions", "automation", "scorecard", "customers", "exposure", "methods"):
        assert f'class="card" id="{anchor}"' in html


def test_each_chart_is_titled_once_by_its_caption(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.fill_orders(ws)
    module = fakes.make_analysis("customers")
    fakes.install(monkeypatch, {"customers": module}, fakes.fake_plan())
    plain_figures = module.figures

    def figures(result: object) -> dict[str, go.Figure]:
        figs: dict[str, go.Figure] = plain_figures(result)
        for fig in figs.values():
            fig.update_layout(title="Revenue by channel<br><sup>net, last 12 months</sup>")
        figs["Untitled chart"] = go.Figure(go.Bar(x=[1], y=[2]))
        return figs

    monkeypatch.setattr(module, "figures", figures)
    data, _raw = build_report_data(ws)
    charts = data.section("customers").charts
    assert [c.caption for c in charts] == [
        "Revenue by channel net, last 12 months",
        "Untitled chart",
    ]
    assert all("title" not in json.loads(c.figure_json)["layout"] for c in charts)
    html = render_report(ReportData.from_json(data.to_json()))
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", html)
    assert captions == ["Revenue by channel net, last 12 months", "Untitled chart"]


def test_an_action_that_cannot_pay_is_not_listed_as_a_further_action(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: an action with a 0 % chance (or no gain) is 'considered, not recommended',
    never one of the 'more actions, ranked' an owner is invited to do."""
    plan = fakes.fake_plan(5)
    dead = fakes.fake_action(5, chance=0.0)
    plan = dataclasses.replace(plan, actions=(*plan.actions[:4], dead))
    fakes.install(monkeypatch, {"customers": fakes.make_analysis("customers")}, plan)
    fakes.fill_orders(ws)
    html = write_report(ws, tmp_path / "report.html").read_text(encoding="utf-8")
    more = html[html.index('id="more-actions"') : html.index('id="not-recommended"')]
    assert "Action 4" in more and "Action 5" not in more
    rest = html[html.index('id="not-recommended"') :]
    assert "Action 5" in rest[: rest.index("</ul>")]
    assert "Chance it works" not in rest[: rest.index("</ul>")] and "chance it works 0%" in rest
    text = "\n".join(plan.headline())
    assert "(1 more actions in the report)" in text
    assert "(1 more considered but not recommended" in text
