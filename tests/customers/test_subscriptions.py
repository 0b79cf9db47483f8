"""The subscriptions analysis: sBG recovery of a planted truth, the Stripe fixture, bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from levelfield import Workspace
from levelfield.customers import ShiftedBetaGeometricModel, simulate_subscriptions
from levelfield.customers import subscriptions as subs_analysis
from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.ingest import import_file
from levelfield.pipeline import ANALYSES, run_analysis

STRIPE = Path(__file__).resolve().parents[1] / "data" / "subscriptions" / "stripe_subscriptions.csv"
TRUTH = {"alpha": 1.0, "beta": 3.0}


@pytest.fixture
def simulated(ws: Workspace, tmp_path: Path) -> tuple[Workspace, dt.datetime]:
    frame, as_of = simulate_subscriptions(
        4000, **TRUTH, start=dt.date(2023, 1, 1), months=24, seed=7
    )
    path = tmp_path / "subscriptions.csv"
    frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M")
    s = import_file(ws, "subscriptions", path)
    assert s.rows_loaded == 4000
    return ws, as_of


def test_sbg_recovers_planted_alpha_1_beta_3_from_imported_subscriptions(
    simulated: tuple[Workspace, dt.datetime],
) -> None:
    ws, as_of = simulated
    r = subs_analysis.analyze(ws, as_of=as_of)
    for k, v in TRUTH.items():
        se = r.standard_errors[k]
        assert abs(r.params[k] - v) < 3 * se, (k, r.params, r.standard_errors)
        assert se < 0.25 * v  # tight enough that the check means something
    # True S(12) = B(1, 15) / B(1, 3) = 3 / 15.
    lo, hi = r.one_year_interval
    assert lo < 0.2 < hi and hi - lo < 0.06
    assert abs(r.one_year_retention - 0.2) < 0.03
    truth = ShiftedBetaGeometricModel()
    assert r.lr_p_value < 0.001 and "subscribers do differ" in r.model_reason
    # Per-cohort fits exist for cohorts large enough, pooled figures are in the findings.
    assert r.cohort_fits["alpha"].notna().sum() >= 12
    metrics = {f.metric: f for f in r.findings()}
    assert {
        "subscriptions.mrr",
        "subscriptions.one_year_retention",
        "subscriptions.new_subscriber_value",
        "subscriptions.model_choice",
        "subscriptions.nrr_month",
        "subscriptions.revenue_churn_month",
    } <= set(metrics)
    one_year = metrics["subscriptions.one_year_retention"]
    assert "will still pay in a year" in one_year.text and "90 % interval" in one_year.text
    # Value = price x (1 + DERL / (1 + d)), DERL from the fitted model (Fader & Hardie 2010).
    d = r.monthly_discount_rate
    assert r.new_subscriber_value == pytest.approx(24.0 * (1 + r.derl / (1 + d)))
    lo_v, hi_v = r.new_subscriber_value_interval
    assert lo_v < r.new_subscriber_value < hi_v
    assert not hasattr(truth, "params_")  # unfitted reference model was not touched
    assert ws.latest_run("subscriptions") is not None


def test_stripe_fixture_runs_through_the_pipeline(ws: Workspace) -> None:
    import_file(ws, "subscriptions", STRIPE)
    assert "subscriptions" in ANALYSES
    r = run_analysis(ws, "subscriptions")
    head = "\n".join(r.headline())
    assert "MRR at the end of 2024-05" in head
    assert "shifted-beta-geometric" in head
    # Yearly, weekly, never-paid and trial-only subscriptions are left out of sBG, said so.
    assert "4 of 11 subscriptions are left out of the retention model" in head
    assert "rough" in head  # 7 subscriptions: the small sample is stated, not hidden
    stored = ws.latest_findings("subscriptions")
    assert stored is not None and any(f.metric == "subscriptions.mrr" for f in stored)
    figs = subs_analysis.figures(r)  # type: ignore[arg-type]
    assert list(figs) == ["Monthly recurring revenue", "Subscriber retention (sBG)"]


def test_no_subscriptions_says_what_to_import(ws: Workspace) -> None:
    with pytest.raises(InsufficientDataError, match="levelfield import subscriptions"):
        subs_analysis.analyze(ws)


def test_bad_discount_rate_is_a_config_error(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="annual_discount_rate"):
        subs_analysis.analyze(ws, annual_discount_rate=-0.1)


@pytest.mark.parametrize("kw", [{"n": 0}, {"alpha": 0.0}, {"beta": -1.0}, {"months": 0}])
def test_simulator_rejects_bad_parameters(kw: dict[str, float]) -> None:
    args: dict[str, object] = {"n": 10, "alpha": 1.0, "beta": 3.0, "months": 3} | kw
    with pytest.raises(ConfigError):
        simulate_subscriptions(start=dt.date(2024, 1, 1), **args)  # type: ignore[arg-type]


def test_simulator_lifetimes_are_sbg_distributed() -> None:
    frame, as_of = simulate_subscriptions(
        20000, alpha=1.0, beta=3.0, start=dt.date(2024, 1, 1), months=3, seed=3
    )
    st, en = frame["started_at"], frame["ended_at"]
    paid = (en.dt.year * 12 + en.dt.month) - (st.dt.year * 12 + st.dt.month)
    first = st < dt.datetime(2024, 2, 1)  # January sign-ups: 2 renewals observable
    # P(T = 1) = E[theta] = 1/4; P(T = 2) = alpha beta / ((a + b)(a + b + 1)) = 3/20.
    assert abs((paid[first] == 1).mean() - 0.25) < 0.015
    assert abs((paid[first] == 2).mean() - 0.15) < 0.015
    assert np.all(en.dropna() <= as_of)
    assert set(frame["status"]) == {"active", "canceled"}


def test_subscriptions_in_another_currency_are_left_out_and_said_so(
    ws: Workspace, tmp_path: Path
) -> None:
    frame, as_of = simulate_subscriptions(
        300, alpha=1.0, beta=3.0, start=dt.date(2024, 1, 1), months=12, seed=5
    )
    frame["currency"] = ["EUR"] * 290 + ["GBP"] * 10
    path = tmp_path / "subs.csv"
    frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M")
    import_file(ws, "subscriptions", path, currency="EUR")
    r = subs_analysis.analyze(ws, as_of=as_of)
    assert r.currency == "EUR"
    assert any("10 in GBP are left out (not converted)" in n for n in r.notes)
    assert r.n_subscriptions == 290


def test_cli_imports_and_analyzes_subscriptions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from levelfield.cli import app

    w = str(tmp_path / "w.duckdb")
    runner = CliRunner()
    assert runner.invoke(app, ["init", w]).exit_code == 0
    out = runner.invoke(app, ["import", "subscriptions", str(STRIPE), "-w", w])
    assert out.exit_code == 0, out.output
    res = runner.invoke(app, ["analyze", "subscriptions", "-w", w])
    assert res.exit_code == 0, res.output
    assert "will still pay in a year" in res.output
    bad = runner.invoke(app, ["analyze", "subscriptions", "-w", str(tmp_path / "x.duckdb")])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
