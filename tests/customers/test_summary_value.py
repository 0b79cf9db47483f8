"""Workspace summaries (refunds, guests), RFM, clustering, NPS, cohorts."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from levelfield import Workspace
from levelfield.customers import (
    cluster_segments,
    net_promoter_score,
    rfm_segments,
    summarize_transactions,
    summarize_workspace,
)
from levelfield.errors import (
    ConfigError,
    DataError,
    DataQualityWarning,
    InsufficientDataError,
    SchemaError,
    SmallSampleWarning,
)

from .conftest import START, load_orders


def _orders() -> pd.DataFrame:
    d = [START + dt.timedelta(days=k) for k in (0, 7, 14, 0, 3, 3, 21, 0)]
    return pd.DataFrame(
        {
            "order_id": ["a1", "a2", "a3", "b1", "b2", "b3", "b4", "c1"],
            "customer_id": ["A", "A", "A", "B", "B", "B", None, "C"],
            "ordered_at": d,
            "channel": "shopify",
            "gross": [10.0, 20.0, 30.0, 50.0, 40.0, -40.0, 99.0, 15.0],
            "refunded": [0.0, 0.0, 30.0, 0.0, 0.0, 0.0, 0.0, 15.0],
            "status": ["paid", "paid", "refunded", "paid", "paid", "refund", "paid", "refunded"],
            "refund_of": [None, None, None, None, None, "b2", None, None],
        }
    )


def test_workspace_summary_nets_refunds_and_counts_exclusions(ws: Workspace) -> None:
    load_orders(ws, _orders())
    s = summarize_workspace(ws, time_unit="day", observation_end="2023-01-30")
    f = s.to_frame()
    # A: a3 fully refunded -> purchases on day 0 and 7; B: b2 refunded by a linked row
    assert list(f.index) == ["A", "B"]
    assert f.loc["A", "frequency"] == 1 and f.loc["A", "recency"] == 7
    assert f.loc["A", "monetary_value"] == 20.0 and f.loc["A", "total_value"] == 30.0
    assert f.loc["B", "frequency"] == 0 and f.loc["B", "total_value"] == 50.0
    assert f.loc["A", "T"] == (dt.date(2023, 1, 30) - START.date()).days
    assert s.n_guest_orders == 1
    assert s.n_refund_only_customers == 1  # C
    assert any("guest" in n for n in s.notes)


def test_unlinked_refund_is_charged_to_latest_earlier_order(ws: Workspace) -> None:
    df = _orders()
    df.loc[5, "refund_of"] = None
    df.loc[5, "ordered_at"] = START + dt.timedelta(days=5)
    load_orders(ws, df)
    f = summarize_workspace(ws, time_unit="day").to_frame()
    assert f.loc["B", "frequency"] == 0  # b2 (day 3) netted to zero by the day-5 refund


def test_holdout_after_data_end_is_a_clear_error(ws: Workspace) -> None:
    load_orders(ws, _orders())
    with pytest.raises(ConfigError, match="after the data end"):
        summarize_workspace(ws, calibration_end="2023-02-01")
    with pytest.warns(DataQualityWarning, match="after the last purchase"):
        summarize_workspace(ws, calibration_end="2023-01-05", observation_end="2023-06-01")


def test_summary_bad_input() -> None:
    df = pd.DataFrame({"id": [1, 1], "date": ["2024-01-01", "2024-01-05"], "v": [1.0, 2.0]})
    with pytest.raises(SchemaError, match="not found"):
        summarize_transactions(df, "id", "when")
    with pytest.raises(ConfigError, match="time_unit"):
        summarize_transactions(df, "id", "date", time_unit="month")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="DataFrame"):
        summarize_transactions([1, 2], "id", "date")
    with pytest.raises(InsufficientDataError):
        summarize_transactions(df.iloc[:0], "id", "date")
    with pytest.raises(ConfigError, match="date like"):
        summarize_transactions(df, "id", "date", observation_end="soon")
    nan = df.assign(v=[1.0, np.nan])
    with pytest.warns(DataQualityWarning, match="without a date or amount"):
        s = summarize_transactions(nan, "id", "date", "v")
    assert s.frequency.tolist() == [0.0]


def test_summaries_in_threads_and_after_errors_are_independent() -> None:
    # frames are summarized on cursors of one kept in-memory database: nothing a call
    # registers may leak into another call, in another thread or after an error
    rng = np.random.default_rng(4)
    frames = [
        pd.DataFrame(
            {
                "id": rng.integers(0, 50, 2_000),
                "date": pd.Timestamp("2024-01-01")
                + pd.to_timedelta(rng.integers(0, 300, 2_000), unit="D"),
                "v": rng.uniform(1, 90, 2_000),
            }
        )
        for _ in range(4)
    ]
    expected = [summarize_transactions(f, "id", "date", "v").to_frame() for f in frames]
    with pytest.raises(SchemaError, match="could not be read"):
        summarize_transactions(frames[0].assign(date="soon"), "id", "date", "v")
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda f: summarize_transactions(f, "id", "date", "v"), frames))
    for s, e in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(s.to_frame(), e)
    assert not (expected[0].equals(expected[1]))


def test_rfm_segments_named_and_scored() -> None:
    rng = np.random.default_rng(0)
    n = 500
    rec = rng.uniform(0, 400, n)
    freq = rng.integers(1, 10, n)
    val = freq * rng.uniform(10, 50, n)
    df = rfm_segments(rec, freq, val)
    assert set(df["r"]) == {1, 2, 3, 4, 5}
    best = int(np.argmin(rec - 1000 * freq))  # most recent among the most frequent
    assert df.loc[best, "segment"] in ("champions", "loyal")
    assert df.loc[int(np.argmax(rec)), "r"] == 1
    with pytest.raises(DataError, match="missing"):
        rfm_segments([np.nan], [1], [1])
    with pytest.raises(DataError):
        rfm_segments([-1.0], [1], [1])
    with pytest.raises(InsufficientDataError):
        rfm_segments([], [], [])


def test_cluster_segments_find_planted_groups() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.3, (200, 3))
    b = rng.normal(4, 0.3, (100, 3))
    feats = pd.DataFrame(np.vstack([a, b]), columns=["x", "y", "z"])
    labels, profile, k = cluster_segments(feats, seed=0)
    assert k == 2
    assert profile["size"].tolist() == [200, 100]
    assert (labels[:200] == 0).all() and (labels[200:] == 1).all()
    assert profile.loc[1, "z_x"] > 0
    one, _, k1 = cluster_segments(pd.DataFrame({"x": [1.0, 1.0, 1.0]}))
    assert k1 == 1 and (one == 0).all()
    with pytest.raises(DataError):
        cluster_segments(pd.DataFrame({"x": [1.0, np.nan]}))


def test_nps_matches_hand_computation_and_interval() -> None:
    scores = [10] * 50 + [8] * 30 + [3] * 20
    nps = net_promoter_score(scores)
    assert nps.score == pytest.approx(30.0)
    se = np.sqrt((0.5 + 0.2 - 0.3**2) / 100)
    assert nps.upper - nps.score == pytest.approx(100 * 1.959964 * se, rel=1e-5)
    with pytest.warns(SmallSampleWarning):
        net_promoter_score([9, 10, 2])
    for bad in ([11], [5.5], [np.nan]):
        with pytest.raises(DataError):
            net_promoter_score(bad)
    with pytest.raises(InsufficientDataError):
        net_promoter_score([])
