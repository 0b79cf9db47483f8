"""Covariates through ``customers.analyze``: a planted channel effect is found, kept by the
likelihood-ratio test and stated as a finding; a trait without effect is not kept; the
setting switches covariates off; collinear traits are dropped instead of failing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from levelfield import Workspace, open_workspace
from levelfield.customers import CustomersResult, analyze, customer_covariates
from levelfield.customers._covariate_effects import LR_ALPHA
from levelfield.errors import ConfigError

from .conftest import START, TRUE_DAYS, load_orders

#: customers won at the market buy this many times as often as web shop customers
MARKET_RATE = 2.5


def _orders(n: int, seed: int, span_days: int = 420) -> pd.DataFrame:
    """BG/NBD buyers; a third came through the market and buy ``MARKET_RATE`` x as often."""
    rng = np.random.default_rng(seed)
    market = rng.random(n) < 1 / 3
    lam = rng.gamma(TRUE_DAYS["r"], 1 / TRUE_DAYS["alpha"], n) * np.where(market, MARKET_RATE, 1)
    p = rng.beta(TRUE_DAYS["a"], TRUE_DAYS["b"], n)
    first = rng.integers(0, span_days * 2 // 3, n)
    k_max = 60
    gaps = rng.exponential(1.0, (n, k_max)) / lam[:, None]
    times = first[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(gaps, axis=1)], axis=1)
    german = np.random.default_rng(seed + 1).random(n) < 0.4
    keep = (np.arange(k_max + 1)[None, :] <= rng.geometric(p)[:, None]) & (times < span_days)
    cust, idx = np.nonzero(keep)
    return pd.DataFrame(
        {
            "order_id": [f"o{c}_{i}" for c, i in zip(cust, idx, strict=True)],
            "customer_id": [f"c{c:05d}" for c in cust],
            "ordered_at": START + pd.to_timedelta(np.floor(times[cust, idx] * 86400), unit="s"),
            "channel": np.where(market[cust], "market", "web"),
            "gross": np.round(rng.gamma(6.0, 8.0, len(cust)), 2),
            # a country with no effect on buying, stated on every order
            "country": np.where(german[cust], "DE", "AT"),
        }
    )


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = open_workspace(tmp_path_factory.mktemp("cov") / "cov.duckdb")
    df = _orders(2000, seed=5)
    load_orders(ws, df.drop(columns="country"))
    ws.con.register("_c", df[["order_id", "country"]])
    ws.con.execute("INSERT INTO order_details (order_id, country) SELECT * FROM _c")
    ws.con.unregister("_c")
    return ws


def _analyze(ws: Workspace, **kw: object) -> CustomersResult:
    res = analyze(ws, holdout=None, **kw)  # type: ignore[arg-type]
    assert isinstance(res, CustomersResult)
    return res


def test_planted_channel_effect_is_kept_and_stated_as_a_finding(planted: Workspace) -> None:
    res = _analyze(planted, covariates=["channel", "region"])
    cov = res.covariates
    assert cov is not None
    assert cov.kept and cov.lr_p_value < 1e-6
    assert "improve the" in cov.verdict and "p < 0.001" in cov.verdict
    eff = cov.effects.set_index(["covariate", "process"])
    # web (two thirds) is the most common level, so the coefficient is the market's
    row = eff.loc[("channel=market", "purchase"), :]
    assert row["lower"] < MARKET_RATE < row["upper"]
    assert row["upper"] / row["lower"] < 1.6  # tight enough to mean something
    (region_level,) = [c for c in cov.effects["covariate"] if c.startswith("region=")][:1]
    region = eff.loc[(region_level, "purchase"), :]
    # no planted effect: not significant at 1 % (a 95 % interval misses 1 by chance 1 in 20)
    assert region["p_value"] > 0.01
    lines = "\n".join(res.headline())
    assert cov.verdict in lines
    assert "Customers acquired through market have a purchase rate" in lines
    found = [f for f in res.findings() if f.metric == "customers.covariate_effect"]
    assert len(found) == len(cov.effects)
    mk = next(f for f in found if f.context["covariate"] == "channel=market")
    assert mk.value == pytest.approx(row["multiplier"])
    assert f"{row['multiplier']:.2f} times" in mk.text
    s = res.summary()
    assert s["covariates_kept"] is True and s["covariates_lr_p_value"] == pytest.approx(
        cov.lr_p_value
    )
    # each customer's figures use their own traits: market customers expect more purchases
    c = res.to_frame()
    z = customer_covariates(planted, c.index, include=("channel",))
    is_market = z["channel=market"].to_numpy() == 1
    e = c["expected_purchases_90d"].to_numpy()
    plain = _analyze(planted, covariates=[]).to_frame()["expected_purchases_90d"].to_numpy()
    # against the plain model, market customers are expected to buy more, web ones less
    assert e[is_market].mean() > plain[is_market].mean()
    assert e[~is_market].mean() < plain[~is_market].mean()
    ok = c["clv_lower"].notna()
    assert ok.mean() > 0.99
    assert (c.loc[ok, "clv_lower"] <= c.loc[ok, "clv"] * (1 + 1e-9)).all()
    assert (c.loc[ok, "clv"] <= c.loc[ok, "clv_upper"] * (1 + 1e-9)).all()


def test_a_trait_without_effect_is_not_kept(planted: Workspace) -> None:
    res = _analyze(planted, covariates=["region"])
    cov = res.covariates
    assert cov is not None
    assert not cov.kept and cov.lr_p_value > LR_ALPHA
    assert "do not improve" in cov.verdict and "model without covariates is used" in cov.verdict
    assert cov.verdict in res.headline()
    # the per-customer figures are the plain model's
    plain = _analyze(planted, covariates=[])
    assert plain.covariates is None
    assert np.allclose(res.to_frame()["clv"], plain.to_frame()["clv"])
    f = next(f for f in res.findings() if f.metric == "customers.covariates_lr_p_value")
    assert f.value == pytest.approx(cov.lr_p_value) and f.context["kept"] is False


def test_covariates_setting_switches_them_off_and_is_checked(planted: Workspace) -> None:
    planted.settings.set("customers.covariates", "", by="test")
    try:
        assert _analyze(planted).covariates is None
    finally:
        planted.settings.reset("customers.covariates", by="test")
    with pytest.raises(ConfigError, match="customers.covariates"):
        planted.settings.set("customers.covariates", "channel,age", by="test")


def test_too_few_customers_is_a_note_not_a_failure(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "few.duckdb") as ws:
        load_orders(ws, _orders(120, seed=2).drop(columns="country"))
        res = _analyze(ws)
    assert res.covariates is None
    assert any("covariates not fitted" in n and "at least 200" in n for n in res.notes)


def test_collinear_traits_are_dropped_not_fatal(planted: Workspace) -> None:
    # a second copy of the channel as a "store" column says the same thing
    ids = planted.con.execute("SELECT DISTINCT customer_id FROM orders").fetchnumpy()
    cid = np.asarray(ids["customer_id"])
    planted.con.execute("UPDATE orders SET store = channel")
    try:
        z = customer_covariates(planted, cid, include=("channel", "store"))
    finally:
        planted.con.execute("UPDATE orders SET store = NULL")
    assert list(z.columns) == ["channel=market"]
    assert math.isfinite(float(z.to_numpy().sum()))


def test_cli_analyze_customers_states_the_test_and_the_effects(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from levelfield.cli import app

    path = tmp_path / "shop.duckdb"
    with open_workspace(path) as ws:
        load_orders(ws, _orders(900, seed=4).drop(columns="country"))
    runner = CliRunner()
    out = runner.invoke(app, ["analyze", "customers", "-w", str(path)], terminal_width=400)
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "likelihood-ratio test gives p" in text
    assert "Customers acquired through market have a purchase rate" in text
    off = runner.invoke(app, ["set", "customers.covariates", "", "-w", str(path)])
    assert off.exit_code == 0, off.output
    out = runner.invoke(app, ["analyze", "customers", "-w", str(path)], terminal_width=400)
    assert out.exit_code == 0 and "likelihood-ratio test gives" not in out.output
    bad = runner.invoke(app, ["set", "customers.covariates", "age", "-w", str(path)])
    assert bad.exit_code == 1 and "ConfigError" in bad.output and "first_order_value" in bad.output


def test_a_boundary_fit_with_a_huge_standard_error_gives_no_interval_not_an_overflow() -> None:
    """Seed-7 demo, pareto_nbd by day: a coefficient's standard error in the hundreds
    made ``math.exp`` raise OverflowError and the whole analysis fail."""
    from levelfield.customers._covariate_effects import _effect_text, _log_row

    table = pd.DataFrame(
        {"estimate": [0.4], "std_error": [900.0], "p_value": [0.99]},
        index=["purchase:channel=online"],
    )
    row = _log_row(table, "purchase:channel=online", "channel=online", "purchase", 1.96)
    assert row["multiplier"] == pytest.approx(math.exp(0.4))
    assert row["upper"] == math.inf and row["lower"] == 0.0
    text = _effect_text(pd.Series(row))
    assert "cannot pin down an interval" in text and "inf" not in text
