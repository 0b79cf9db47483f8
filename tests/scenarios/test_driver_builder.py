"""The driver builder never fails on data: property test over random small workspaces.

Issue 15: on UCI Online Retail a boundary BG/NBD fit gave monthly retention
0.99999999992 and the model failed to build (``PERT needs low <= mode <= high``). Drivers
built from data must always be valid; where an estimate is out of range it is clipped or
replaced, and the reason is stated.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levelfield import Workspace, open_workspace
from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.scenarios import PERT, analyze, build_model
from levelfield.scenarios._model import RETENTION_CAP, _share_pert

CHANNELS = ("shopify", "etsy", "amazon", "online", "pos", "wholesale")


def _fill(ws: Workspace, spec: dict[str, Any]) -> float:
    """Insert a random small business described by ``spec`` into ``ws``; return the days
    from its first to its last order."""
    rng = np.random.default_rng(spec["seed"])
    con = ws.con
    con.execute(
        "INSERT INTO imports VALUES (1, 'orders', 'prop', 'x', 'prop', 0, 0, 0, "
        "TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01', 'ok', NULL)"
    )
    n = spec["n_orders"]
    day = np.sort(rng.uniform(0, spec["days"], n))
    ts = np.datetime64("2022-01-03T00:00:00") + (day * 86400).astype("timedelta64[s]")
    channel = rng.choice(list(spec["channels"]), size=n)
    gross = np.round(rng.uniform(0.5, 200.0, n), 2)
    refund_p = spec["refund_p"]
    refunded = np.where(rng.random(n) < refund_p, gross, 0.0)
    fees: Any
    if spec["fees"] == "none":
        fees = None
    elif spec["fees"] == "huge":
        fees = np.round(gross * 3.0, 2)
    elif spec["fees"] == "negative":
        fees = -np.round(gross * 0.1, 2)
    else:
        fees = np.round(gross * rng.uniform(0, 0.3, n), 2)
    n_cust = spec["n_customers"]
    customers = [f"c{j}" for j in rng.integers(0, n_cust, size=n)] if n_cust else [None] * n
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": customers,
            "ordered_at": ts,
            "channel": channel,
            "store": None,
            "currency": "EUR",
            "gross": gross,
            "discount": 0.0,
            "tax": 0.0,
            "shipping": 0.0,
            "fees": fees,
            "refunded": refunded,
            "status": "paid",
            "refund_of": None,
            "import_id": 1,
        }
    )
    con.register("orders_df", orders)
    con.execute("INSERT INTO orders SELECT * FROM orders_df")
    sku = rng.choice(["A", "B", "C"], size=n)
    lines = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "line_no": 1,
            "sku": sku,
            "product": sku,
            "category": "x",
            "quantity": 1.0,
            "unit_price": gross,
            "list_price": gross,
            "discount": 0.0,
            "import_id": 1,
        }
    )
    con.register("lines_df", lines)
    con.execute("INSERT INTO order_lines SELECT * FROM lines_df")
    if spec["products"]:
        cost = spec["unit_cost"]
        con.execute(
            "INSERT INTO products VALUES ('A','A','x',?,10,'EUR','S1',1),"
            "('B','B','x',?,10,'EUR','S2',1),('C','C','x',NULL,10,'EUR',NULL,1)",
            [cost, cost * 2],
        )
    if spec["suppliers"]:
        con.execute(
            "INSERT INTO suppliers VALUES ('S1','One','CN',1000,'USD',45,'',1),"
            "('S2','Two',NULL,NULL,'EUR',NULL,'S1',1)"
        )
    if spec["channel_rows"]:
        con.execute(
            "INSERT INTO channels VALUES ('etsy','etsy','etsy_standard',false,NULL,1),"
            "('online','online',NULL,NULL,NULL,1),('amazon','amazon',NULL,false,NULL,1)"
        )
    if spec["costs"]:
        months = pd.date_range("2022-01-01", periods=spec["cost_months"], freq="MS")
        costs = pd.DataFrame(
            {
                "month": np.repeat(months.date, 2),
                "category": ["rent", "packaging"] * len(months),
                "amount": [spec["rent"], 30.0] * len(months),
                "fixed": [True, False] * len(months),
                "currency": "EUR",
                "import_id": 1,
            }
        )
        con.register("costs_df", costs)
        con.execute("INSERT INTO costs SELECT * FROM costs_df")
    for k, v in spec["profile"].items():
        con.execute("INSERT INTO business VALUES (?, ?, 1)", [k, json.dumps(v)])
    now = dt.datetime(2024, 1, 1)
    if spec["retention"] is not None:
        ws.record_run("customers", {}, {"monthly_retention": spec["retention"]}, now)
    if spec["elasticity"] is not None:
        ws.record_run("pricing", {}, {"elasticity": spec["elasticity"]}, now)
    return float(day[-1] - day[0])


workspaces = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "n_orders": st.integers(1, 300),
        "days": st.floats(1.0, 1200.0),
        "channels": st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=4, unique=True),
        "refund_p": st.sampled_from([0.0, 0.05, 0.5, 1.0]),
        "fees": st.sampled_from(["none", "some", "huge", "negative"]),
        "n_customers": st.sampled_from([0, 1, 5, 60, 1000]),
        "products": st.booleans(),
        "unit_cost": st.sampled_from([0.0, 1.0, 50.0, 500.0]),
        "suppliers": st.booleans(),
        "channel_rows": st.booleans(),
        "costs": st.booleans(),
        "cost_months": st.integers(1, 30),
        "rent": st.sampled_from([0.0, 100.0, 1e6, -50.0]),
        "profile": st.fixed_dictionaries(
            {},
            optional={
                "country": st.sampled_from(["FR", "CN", "GB", "US"]),
                "opening_cash": st.sampled_from([0, 5000, -1000]),
                "debt": st.sampled_from([0, 20000]),
                "interest_rate": st.sampled_from([0.0, 0.05]),
            },
        ),
        "retention": st.one_of(
            st.none(),
            st.sampled_from([1e-12, 0.2, 0.9, 0.99, 0.999, 0.99999999992, 1 - 1e-15]),
        ),
        "elasticity": st.one_of(st.none(), st.sampled_from([-0.01, -1.5, -40.0, 0.3])),
    }
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=workspaces)
def test_models_build_and_run_from_any_small_workspace(spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "ws.duckdb")
        try:
            span = _fill(ws, spec)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model = build_model(ws, horizon=12, warn=False)
                except InsufficientDataError as exc:
                    refusal = str(exc)
                    model = None
            if model is None:
                # The two refusals the builder may give: fewer than 3 complete months
                # (which needs less than 5 months from first to last order), or no
                # positive net revenue at all.
                if "complete months" in refusal:
                    assert span < 5 * 31, "refused a workspace with enough history"
                else:
                    assert "no positive net revenue" in refusal
                return
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for d in model.drivers:
                    base = d.base
                    assert math.isfinite(base), d.name
                    if d.unit == "share":
                        assert 0.0 <= base <= 1.0, d.name
                    if isinstance(d.distribution, PERT):
                        p = d.distribution
                        assert p.low <= p.mode <= p.high and p.low < p.high, d.name
                if "retention" in model.driver_names:
                    r = model.drivers[model.driver_index("retention")]
                    assert r.base <= RETENTION_CAP
                    if spec["retention"] is not None and spec["retention"] > RETENTION_CAP:
                        assert "outside" in r.provenance
                result = analyze(
                    ws, horizon=12, n_trials=300, sobol_samples=32, chunk_size=300, seed=1
                )
            risk = result.risk
            assert len(risk) >= 1
            assert np.isfinite(risk["mean_annual_profit"].to_numpy(dtype=float)).all()
        finally:
            ws.close()


@given(
    mode=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.99999999992)),
    down=st.floats(0, 2),
    up=st.floats(0, 2),
    high=st.sampled_from([0.95, 0.99, 0.999, 1.0]),
)
def test_share_pert_is_always_a_valid_pert(
    mode: float, down: float, up: float, high: float
) -> None:
    dist, used, reason = _share_pert(mode, down=down, up=up, high=high, what="x")
    assert dist.low <= used <= dist.high and dist.low < dist.high
    assert dist.low >= 0.0 and dist.high <= high
    assert (reason == "") == (math.isfinite(mode) and 0.0 <= mode <= high)


def test_boundary_retention_from_customers_run_is_clipped_with_reason(tmp_path: Path) -> None:
    """The UCI case: retention 0.99999999992 from a boundary fit."""
    ws = open_workspace(tmp_path / "ws.duckdb")
    spec = {
        "seed": 3,
        "n_orders": 400,
        "days": 400.0,
        "channels": ["online"],
        "refund_p": 0.05,
        "fees": "none",
        "n_customers": 60,
        "products": False,
        "unit_cost": 1.0,
        "suppliers": False,
        "channel_rows": False,
        "costs": False,
        "cost_months": 1,
        "rent": 0.0,
        "profile": {},
        "retention": 0.99999999992,
        "elasticity": None,
    }
    _fill(ws, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(ws, horizon=12, warn=False)
    r = model.drivers[model.driver_index("retention")]
    assert r.base == RETENTION_CAP
    assert "0.99999999992" in r.provenance
    assert any("monthly retention estimate" in n for n in model.notes)
    ws.close()


def test_share_pert_rejects_an_empty_range() -> None:
    with pytest.raises(ConfigError):
        _share_pert(0.5, down=0.1, up=0.1, low=0.5, high=0.5, what="x")
