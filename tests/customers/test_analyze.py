"""End-to-end: analyze(ws) on simulated orders, recorded runs, findings, charts."""

from __future__ import annotations

import json
import math

import plotly.graph_objects as go
import pytest

from levelfield import Workspace
from levelfield.customers import CustomersResult, analyze, figures
from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.findings import Finding

from .conftest import START, load_orders


@pytest.fixture
def result(sim_ws: Workspace) -> CustomersResult:
    steps: list[tuple[str, float]] = []
    res = analyze(sim_ws, progress=lambda s, f: steps.append((s, f)))
    assert steps[-1] == ("done", 1.0)
    assert [f for _, f in steps] == sorted(f for _, f in steps)
    return res


def test_analyze_records_run_with_scenario_inputs(
    sim_ws: Workspace, result: CustomersResult
) -> None:
    run = sim_ws.latest_run("customers")
    assert run is not None
    s = run["summary"]
    for key in (
        "monthly_retention",
        "clv_total",
        "n_customers",
        "repeat_rate",
        "top20_value_share",
        "value_at_risk",
    ):
        assert s[key] is not None
    assert 0 < s["monthly_retention"] < 1
    assert s["n_customers"] == 600  # the refund-only customer is excluded
    assert s["n_guest_orders"] == 2
    assert s["n_refund_only_customers"] == 1
    assert run["params"]["model"] == "auto"
    assert s["model_choice"] == "holdout" and s["model"] in ("BG/NBD", "Pareto/NBD")
    assert s["holdout_rmse_bgnbd"] > 0 and s["holdout_rmse_pareto_nbd"] > 0
    assert s["fit_status"] in ("ok", "weak") and s["dropout_identified"] is True
    json.dumps(result.summary(), allow_nan=False)


def test_analyze_numbers_are_consistent(result: CustomersResult) -> None:
    c = result.to_frame()
    assert not c.isna().any().any()
    assert math.isclose(result.clv_total, c["clv"].sum(), rel_tol=1e-9)
    assert result.repeat_rate == pytest.approx((c["frequency"] > 0).mean())
    assert 0.2 <= result.top20_value_share <= 1
    assert ((c["p_alive"] >= 0) & (c["p_alive"] <= 1)).all()
    assert result.value_at_risk >= 0
    assert set(c["segment"]) <= {
        s for s, _ in __import__("levelfield.customers", fromlist=["RFM_SEGMENTS"]).RFM_SEGMENTS
    }
    assert result.segments["customers"].sum() == len(c)
    assert result.clusters["customers"].sum() == len(c)
    assert all(isinstance(d, str) and d for d in result.clusters["description"])
    # retention matrices start at 100 % in month 0
    t = result.cohorts.table
    assert (t.loc[t["age"] == 0, "customer_retention"] == 1).all()
    assert result.validation is not None
    # The orders are simulated from a BG/NBD process, so the holdout fit must be good.
    assert result.validation.quality == "good", result.validation.aggregate_error
    assert result.nps is not None and -100 <= result.nps.lower <= result.nps.score
    assert result.acquisition is not None and set(result.acquisition.index) == {"etsy", "shopify"}


def test_analyze_headline_findings_tables_and_figures(result: CustomersResult) -> None:
    lines = result.headline()
    assert len(lines) >= 5 and all(any(ch.isdigit() for ch in line) for line in lines)
    fs = result.findings()
    assert all(isinstance(f, Finding) and f.metric.startswith("customers.") for f in fs)
    ids = {f.metric for f in fs}
    assert {
        "customers.top20_value_share",
        "customers.repeat_rate",
        "customers.value_at_risk_share",
        "customers.churn_leak",
        "customers.nps",
        "customers.clv_cac",
    } <= ids
    assert all(math.isfinite(f.value) for f in fs)
    tables = result.tables()
    assert {"customers", "segments", "clusters", "cohorts", "holdout_by_frequency"} <= set(tables)
    figs = figures(result)
    assert len(figs) >= 5 and all(isinstance(f, go.Figure) for f in figs.values())


def test_analyze_pareto_nbd_and_no_holdout(sim_ws: Workspace) -> None:
    res = analyze(sim_ws, model="pareto_nbd", holdout=None, time_unit="day")
    assert res.model_name == "Pareto/NBD" and res.validation is None
    assert set(res.params) == {"r", "alpha", "s", "beta"}


@pytest.mark.parametrize(
    "kw",
    [
        {"model": "nbd"},
        {"time_unit": "month"},
        {"horizon_months": 0},
        {"annual_discount_rate": -0.1},
        {"margin": 1.5},
        {"risk_threshold": 2},
    ],
)
def test_analyze_rejects_bad_options(sim_ws: Workspace, kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        analyze(sim_ws, **kw)  # type: ignore[arg-type]


def test_analyze_empty_workspace_says_what_to_import(ws: Workspace) -> None:
    with pytest.raises(InsufficientDataError, match="customer id"):
        analyze(ws)


def test_analyze_no_repeat_customers(ws: Workspace) -> None:
    import datetime as dt

    import pandas as pd

    df = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(50)],
            "customer_id": [f"c{i}" for i in range(50)],
            "ordered_at": [START + dt.timedelta(days=i) for i in range(50)],
            "channel": "shopify",
            "gross": 10.0,
        }
    )
    load_orders(ws, df)
    with pytest.raises(InsufficientDataError, match="bought twice"):
        analyze(ws)


def test_analyze_all_purchases_on_one_day(ws: Workspace) -> None:
    import pandas as pd

    df = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(20)],
            "customer_id": [f"c{i % 5}" for i in range(20)],
            "ordered_at": START,
            "channel": "shopify",
            "gross": 10.0,
        }
    )
    load_orders(ws, df)
    with pytest.raises(InsufficientDataError, match="one day"):
        analyze(ws)


def test_a_model_that_cannot_be_fitted_on_calibration_is_left_out(
    sim_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levelfield.customers import ParetoNBDModel
    from levelfield.errors import ModelError

    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise ModelError("Pareto/NBD: the log-likelihood could not be evaluated")

    monkeypatch.setattr(ParetoNBDModel, "fit", broken)
    res = analyze(sim_ws)
    assert res.model_name == "BG/NBD" and set(res.model_choice.validations) == {"bgnbd"}
    assert any("Pareto/NBD could not be fitted" in n for n in res.notes)
    with pytest.raises(ModelError):
        analyze(sim_ws, model="pareto_nbd")  # asked for explicitly: the full fit fails loudly
