"""Oracle tests on CDNOW (Fader, Hardie & Lee 2005) and lifetimes as a peer."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from lifetimes.utils import (
    calibration_and_holdout_data,
    summary_data_from_transaction_data,
)

from levelfield.customers import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    customer_lifetime_value,
    summarize_transactions,
)
from levelfield.customers import _kernels as K  # noqa: N812

# Vendored from lifetimes 0.11.3 (see tests/data/cdnow/README.md): the oracles never skip.
DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "cdnow")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample summary, 39-week calibration (weeks)."""
    return pd.read_csv(os.path.join(DATA, "cdnow_customers_summary.csv"), index_col=0)


@pytest.fixture(scope="module")
def cdnow_tx() -> pd.DataFrame:
    tx = pd.read_csv(
        os.path.join(DATA, "CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master_id", "id", "date", "cds", "value"],
        dtype={"date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def bg(cdnow: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_bgnbd_matches_fader_hardie_lee_2005_cdnow(bg: BetaGeoModel) -> None:
    p = bg.params_
    assert round(p["r"], 3) == 0.243
    assert round(p["alpha"], 3) == 4.414
    assert round(p["a"], 3) == 0.793
    assert round(p["b"], 3) == 2.426
    assert round(bg.log_likelihood_, 1) == -9582.4
    assert bg.converged_
    # standard errors are finite and small relative to the estimates
    assert all(0 < bg.standard_errors_[k] < p[k] for k in p)


def test_pareto_nbd_matches_fader_hardie_2005_note_cdnow(cdnow: pd.DataFrame) -> None:
    m = ParetoNBDModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    p = m.params_
    assert round(p["r"], 3) == 0.553
    assert round(p["alpha"], 2) == pytest.approx(10.58, abs=0.01)
    assert round(p["s"], 3) == 0.606
    assert p["beta"] == pytest.approx(11.669, abs=0.01)
    assert round(m.log_likelihood_, 1) == -9595.0


def test_gamma_gamma_matches_fader_hardie_lee_2005_cdnow() -> None:
    d = pd.read_csv(os.path.join(DATA, "cdnow_customers_summary_with_transactions.csv"))
    m = GammaGammaModel().fit(d["x"], d["zbar"])
    assert round(m.params_["p"], 2) == 6.25
    assert round(m.params_["q"], 2) == pytest.approx(3.74, abs=0.01)
    assert m.params_["gamma"] == pytest.approx(15.44, abs=0.01)
    assert abs(m.frequency_spend_correlation_) < 0.3  # the independence check (r = 0.11)


def test_bgnbd_predictions_agree_with_lifetimes(cdnow: pd.DataFrame, bg: BetaGeoModel) -> None:
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    peer = BetaGeoFitter().fit(f, r, T)
    peer.params_ = pd.Series(bg.params_)  # compare formulas at identical parameters
    for t in (1.0, 10.0, 39.0):
        ours = bg.conditional_expected_purchases(t, f, r, T)
        theirs = peer.conditional_expected_number_of_purchases_up_to_time(t, f, r, T).to_numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose(
        bg.probability_alive(f, r, T), peer.conditional_probability_alive(f, r, T), rtol=1e-4
    )
    np.testing.assert_allclose(
        bg.expected_purchases(np.array([1.0, 39.0, 78.0])),
        peer.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0, 78.0])),
        rtol=1e-4,
    )


def test_pareto_nbd_predictions_agree_with_lifetimes(cdnow: pd.DataFrame) -> None:
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = ParetoNBDModel().fit(f, r, T)
    peer = ParetoNBDFitter().fit(f, r, T)
    peer.params_ = pd.Series(ours.params_)
    np.testing.assert_allclose(
        ours.conditional_expected_purchases(10.0, f, r, T),
        peer.conditional_expected_number_of_purchases_up_to_time(10.0, f, r, T),
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        ours.probability_alive(f, r, T), peer.conditional_probability_alive(f, r, T), rtol=1e-4
    )
    np.testing.assert_allclose(
        ours.expected_purchases(np.array([5.0, 39.0])),
        peer.expected_number_of_purchases_up_to_time(np.array([5.0, 39.0])),
        rtol=1e-4,
    )


def test_pareto_nbd_quadrature_likelihood_matches_lifetimes_hypergeometric(
    cdnow: pd.DataFrame,
) -> None:
    f, r, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    for params in ([0.553, 10.58, 0.606, 11.67], [2.0, 3.0, 5.0, 1.0], [0.3, 1.0, 0.3, 40.0]):
        ll, _, _ = K.pareto_nbd_loglik(*params, f, r, T)
        peer = ParetoNBDFitter._conditional_log_likelihood(params, f, r, T)
        np.testing.assert_allclose(ll, peer, rtol=1e-8, atol=1e-9)


def test_gamma_gamma_spend_and_clv_agree_with_lifetimes(cdnow_tx: pd.DataFrame) -> None:
    s = summarize_transactions(
        cdnow_tx, "id", "date", "value", time_unit="day", observation_end="1997-09-30"
    )
    m = BetaGeoModel().fit(s.frequency, s.recency, s.T)
    gg = GammaGammaModel().fit(s.frequency, s.monetary_value)
    peer_bg = BetaGeoFitter()
    peer_bg.params_ = pd.Series(m.params_)
    peer_bg.predict = peer_bg.conditional_expected_number_of_purchases_up_to_time
    peer_gg = GammaGammaFitter()
    peer_gg.params_ = pd.Series(
        {"p": gg.params_["p"], "q": gg.params_["q"], "v": gg.params_["gamma"]}
    )
    frame = s.to_frame()
    spend = gg.conditional_expected_spend(s.frequency, s.monetary_value)
    theirs_spend = peer_gg.conditional_expected_average_profit(
        frame["frequency"], frame["monetary_value"]
    ).to_numpy()
    np.testing.assert_allclose(spend, theirs_spend, rtol=1e-8)
    ours = customer_lifetime_value(
        m,
        s.frequency,
        s.recency,
        s.T,
        spend,
        months=12,
        annual_discount_rate=0.0,
        units_per_month=30.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = peer_gg.customer_lifetime_value(
            peer_bg,
            frame["frequency"],
            frame["recency"],
            frame["T"],
            frame["monetary_value"],
            time=12,
            discount_rate=0.0,
            freq="D",
        ).to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)


def test_summary_matches_fader_hardie_cdnow_file(
    cdnow: pd.DataFrame, cdnow_tx: pd.DataFrame
) -> None:
    s = summarize_transactions(
        cdnow_tx,
        "id",
        "date",
        "value",
        time_unit="week",
        group_by="day",
        observation_end="1997-09-30",
    ).to_frame()
    s.index = s.index.astype(int)
    j = cdnow.join(s, suffixes=("", "_lf"))
    assert len(s) == len(cdnow) == 2357
    assert (j["frequency"] == j["frequency_lf"]).all()
    np.testing.assert_allclose(j["recency_lf"], j["recency"], atol=0.005)  # file has 2 decimals
    np.testing.assert_allclose(j["T_lf"], j["T"], atol=0.005)


@pytest.mark.parametrize(
    ("freq", "unit", "group", "mult"),
    [("D", "day", "day", 1), ("W", "week", "week", 1), ("D", "week", "day", 7)],
)
def test_summary_identical_to_lifetimes(
    cdnow_tx: pd.DataFrame, freq: str, unit: str, group: str, mult: int
) -> None:
    theirs = summary_data_from_transaction_data(
        cdnow_tx,
        "id",
        "date",
        "value",
        observation_period_end="1998-03-31",
        freq=freq,
        freq_multiplier=mult,
    )
    ours = summarize_transactions(
        cdnow_tx,
        "id",
        "date",
        "value",
        time_unit=unit,
        group_by=group,  # type: ignore[arg-type]
        observation_end="1998-03-31",
    ).to_frame()
    ours.index = ours.index.astype(int)
    ours = ours.loc[theirs.index]
    for c in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[c], theirs[c], rtol=1e-12, atol=1e-9)


def test_calibration_holdout_identical_to_lifetimes(cdnow_tx: pd.DataFrame) -> None:
    theirs = calibration_and_holdout_data(
        cdnow_tx,
        "id",
        "date",
        calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30",
        freq="W",
        monetary_value_col="value",
    )
    s = summarize_transactions(
        cdnow_tx,
        "id",
        "date",
        "value",
        time_unit="week",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    ours = s.to_frame()
    ours.index = ours.index.astype(int)
    ours = ours.loc[theirs.index]
    for c in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[c], theirs[f"{c}_cal"], atol=1e-9)
    np.testing.assert_array_equal(ours["frequency_holdout"], theirs["frequency_holdout"])
    assert s.duration_holdout == theirs["duration_holdout"].iloc[0]
