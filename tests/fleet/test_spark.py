"""Fleet runs on Spark local[2]: same numbers as single-business analyze, error rows, reruns."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from levelfield import customers, exposure, open_workspace
from levelfield.fleet import METRICS, run
from levelfield.ingest import import_file

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def fleet_with_failures(small_fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small fleet plus a business without customer ids and one with one order."""
    directory = tmp_path_factory.mktemp("fleet-bad")
    shutil.copytree(small_fleet / "orders", directory / "orders")
    shutil.copy(small_fleet / "businesses.parquet", directory / "businesses.parquet")
    one = pd.read_parquet(small_fleet / "orders").iloc[:3].copy()
    guests = one.assign(business_id="zz-guests", customer_id=None)
    single = one.iloc[:1].assign(business_id="zz-single")
    bad = pd.concat([guests, single], ignore_index=True)
    pq.write_table(
        pa.Table.from_pandas(bad, preserve_index=False),
        directory / "orders" / "part-bad.parquet",
        coerce_timestamps="us",
    )
    return directory


@pytest.fixture(scope="module")
def findings(fleet_with_failures: Path, spark: Any) -> pd.DataFrame:
    result = run(fleet_with_failures, spark=spark)
    assert result.n_businesses == 32
    return pd.read_parquet(result.findings)


def _single_business(orders: pd.DataFrame, tmp_path: Path) -> dict[str, float]:
    """The business's findings through the real ingest path and single-business analyze."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    csv = tmp_path / "orders.csv"
    frame = orders.drop(columns=["business_id"]).copy()
    frame["ordered_at"] = frame["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.to_csv(csv, index=False)
    ws = open_workspace(tmp_path / "one.duckdb")
    try:
        import_file(ws, "orders", csv)
        found = customers.analyze(ws, model="bgnbd", holdout=None).findings()
        found += exposure.analyze(ws).findings()
    finally:
        ws.close()
    return {f.metric: f.value for f in found if f.metric in METRICS}


def test_fleet_numbers_equal_single_business_analyze(
    findings: pd.DataFrame, small_fleet: Path, tmp_path: Path
) -> None:
    orders = pd.read_parquet(small_fleet / "orders")
    ok = findings.loc[findings["error"].isna()]
    sampled = sorted(ok["business_id"].unique())[::12][:3]
    assert len(sampled) == 3
    for bid in sampled:
        mine = orders.loc[orders["business_id"] == bid]
        mine = mine.assign(ordered_at=mine["ordered_at"].dt.tz_convert("UTC").dt.tz_localize(None))
        single = _single_business(mine, tmp_path / bid)
        fleet = ok.loc[ok["business_id"] == bid].set_index("metric")["value"]
        assert set(fleet.index) == set(single), bid
        for metric, value in single.items():
            assert fleet[metric] == pytest.approx(value, rel=1e-6, abs=1e-9), (bid, metric)


def test_failing_businesses_become_error_rows(findings: pd.DataFrame) -> None:
    errors = findings.loc[findings["error"].notna()]
    assert set(errors["business_id"]) == {"zz-guests", "zz-single"}
    guests = errors.loc[errors["business_id"] == "zz-guests"]
    assert guests["metric"].tolist() == ["customers.error"]
    assert "customer id" in guests["error"].iloc[0]
    assert guests["value"].isna().all()
    # the rest of the guest business's analyses and every other business finished
    assert (
        findings.loc[findings["business_id"] == "zz-guests", "metric"] == "exposure.channel_hhi"
    ).any()
    assert findings.loc[findings["error"].isna(), "business_id"].nunique() >= 30


def test_output_columns_units_and_partitions(
    findings: pd.DataFrame, fleet_with_failures: Path
) -> None:
    assert {
        "business_id",
        "metric",
        "value",
        "unit",
        "error",
        "run_fingerprint",
        "analysis",
    } <= set(findings.columns)
    ok = findings.loc[findings["error"].isna()]
    assert (ok["unit"] == ok["metric"].map(METRICS)).all()
    assert findings["run_fingerprint"].nunique() == 1
    parts = sorted(p.name for p in (fleet_with_failures / "fleet_findings").iterdir() if p.is_dir())
    assert parts == ["analysis=customers", "analysis=exposure"]
    shares = ok.loc[ok["unit"] == "share", "value"]
    assert ((shares >= 0) & (shares <= 1)).all()


def test_rerun_replaces_output_whole(
    fleet_with_failures: Path, findings: pd.DataFrame, spark: Any
) -> None:
    again = run(fleet_with_failures, spark=spark)
    second = pd.read_parquet(again.findings)
    key = ["business_id", "metric"]
    a = findings.sort_values(key).reset_index(drop=True)
    b = second.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[[*key, "unit"]], b[[*key, "unit"]])
    np.testing.assert_allclose(a["value"], b["value"], rtol=0, atol=0)
    leftovers = [p.name for p in fleet_with_failures.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_publish_peers_writes_release_and_ledger(
    findings: pd.DataFrame, fleet_with_failures: Path, tmp_path: Path
) -> None:
    from levelfield.fleet._cli import publish_peers

    shutil.copy(fleet_with_failures / "businesses.parquet", tmp_path / "businesses.parquet")
    findings.to_parquet(tmp_path / "findings.parquet")
    out, published, suppressed = publish_peers(tmp_path, tmp_path / "findings.parquet", k=5)
    table = pd.read_parquet(out)
    assert published + suppressed == len(table) > 0
    assert published > 0
    assert (table.loc[table["status"] != "suppressed", "n"] >= 5).all()
    ledger = pd.read_parquet(tmp_path / "peer_ledger.parquet")
    assert ledger["members"].map(len).sum() == table.loc[table["status"] != "suppressed", "n"].sum()
    # a second release over the same data republishes the same groups
    again, published2, _ = publish_peers(tmp_path, tmp_path / "findings.parquet", k=5)
    assert published2 == published
    pd.testing.assert_frame_equal(pd.read_parquet(again), table)
