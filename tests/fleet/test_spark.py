"""Fleet runs on Spark local[2]: same numbers as single-business analyze, error rows, reruns.

Kept to four Spark runs (Parquet fleet, its forced rerun, the same fleet with the kernels
only, a directory of workspaces) so the suite stays within the CI budget on two cores.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from levelfield import customers, exposure, open_workspace, pricing
from levelfield.cli import app
from levelfield.demo import write_workspaces
from levelfield.demo._fleet import planted_price_response
from levelfield.errors import InsufficientDataError
from levelfield.fleet import FleetRun, current_run, read_findings, run
from levelfield.fleet._kernels import REVENUE_VALUE_UNIT, metric_unit
from levelfield.fleet._runs import LATEST, MANIFEST

pytestmark = pytest.mark.spark


def _write(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, coerce_timestamps="us")


@pytest.fixture(scope="module")
def fleet_with_failures(small_fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small fleet plus a business without customer ids, one with one order and one
    listed in the businesses table whose orders file is empty."""
    directory = tmp_path_factory.mktemp("fleet-bad")
    for name in ("orders", "order_lines", "suppliers", "products"):
        shutil.copytree(small_fleet / name, directory / name)
    shutil.copy(small_fleet / "channels.parquet", directory / "channels.parquet")
    biz = pd.read_parquet(small_fleet / "businesses.parquet")
    one = pd.read_parquet(small_fleet / "orders").iloc[:3].copy()
    guests = one.assign(business_id="zz-guests", customer_id=None)
    single = one.iloc[:1].assign(business_id="zz-single")
    _write(
        pd.concat([guests, single], ignore_index=True), directory / "orders" / "part-bad.parquet"
    )
    _write(one.iloc[:0].assign(business_id="zz-empty"), directory / "orders" / "part-empty.parquet")
    extra = biz.iloc[:3].assign(business_id=["zz-guests", "zz-single", "zz-empty"])
    _write(pd.concat([biz, extra], ignore_index=True), directory / "businesses.parquet")
    return directory


@pytest.fixture(scope="module")
def first_run(fleet_with_failures: Path, spark: Any) -> FleetRun:
    result = run(fleet_with_failures, spark=spark)
    assert result.n_businesses == 33 and not result.reused
    return result


@pytest.fixture(scope="module")
def findings(first_run: FleetRun) -> pd.DataFrame:
    return pd.read_parquet(first_run.findings)


def _single_business(ws_file: Path) -> dict[str, float]:
    """The business's findings from single-business analyze on its ingested workspace."""
    ws = open_workspace(ws_file, create=False, key_dir=ws_file.parent / "keys")
    try:
        found = customers.analyze(ws, model="bgnbd", holdout=None).findings()
        with contextlib.suppress(InsufficientDataError):  # no elasticity: none in the fleet
            found += pricing.analyze(ws).findings()
        result = exposure.analyze(ws)
        found += result.findings()
        plat = result.channels.loc[result.channels["owns_customer"].eq(False)]
        fees = {
            f"exposure.channel_fee_rate.{c}": r
            for c, r in zip(plat.channel, plat.fee_rate, strict=True)
        }
    finally:
        ws.close()
    return {f.metric: f.value for f in found if metric_unit(f.metric)} | fees


@pytest.fixture(scope="module")
def sampled_workspaces(
    small_fleet: Path, findings: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Three sampled businesses as workspaces through the real ingest path, plus a 0-byte
    file: one with an elasticity and product costs, one whose margin the businesses table
    states and one whose margin is unknown."""
    ok = findings.loc[findings["error"].isna() & ~findings["business_id"].str.startswith("zz")]
    biz = pd.read_parquet(small_fleet / "businesses.parquet").set_index("business_id")
    costs = set(pd.read_parquet(small_fleet / "products")["business_id"])
    priced = set(ok.loc[ok["metric"] == "pricing.median_elasticity", "business_id"])
    ids = sorted(set(ok["business_id"]))
    stated = [b for b in ids if b not in costs and pd.notna(biz.loc[b, "gross_margin"])]
    unknown = [b for b in ids if b not in costs and pd.isna(biz.loc[b, "gross_margin"])]
    sampled = {sorted(priced & costs)[0], stated[0], unknown[0]}
    folder = tmp_path_factory.mktemp("members") / "workspaces"
    assert len(write_workspaces(small_fleet, folder, only=sampled)) == 3
    (folder / "zz-broken.duckdb").write_bytes(b"")
    return folder


def test_fleet_numbers_equal_single_business_analyze(
    findings: pd.DataFrame, sampled_workspaces: Path
) -> None:
    ok = findings.loc[findings["error"].isna()]
    files = sorted(sampled_workspaces.glob("b*.duckdb"))
    for ws_file in files:
        single = _single_business(ws_file)
        fleet = ok.loc[ok["business_id"] == ws_file.stem].set_index("metric")["value"]
        assert set(fleet.index) == set(single), ws_file.stem
        assert {
            "exposure.supplier_hhi",
            "exposure.compliance_cost",
            "customers.value_per_customer",
        } <= set(single)
        for metric, value in single.items():
            assert fleet[metric] == pytest.approx(value, rel=1e-6, abs=1e-9), (ws_file, metric)
    priced = [f for f in files if "pricing.median_elasticity" in _single_business(f)]
    assert priced, "no sampled business has an elasticity to compare"
    units = ok.loc[ok["metric"] == "customers.value_per_customer"].set_index("business_id")["unit"]
    assert sorted(units.reindex([f.stem for f in files])) == sorted(
        ["currency", "currency", REVENUE_VALUE_UNIT]
    )


def test_directory_of_workspaces_gives_the_same_numbers(
    findings: pd.DataFrame, sampled_workspaces: Path, spark: Any
) -> None:
    result = run(sampled_workspaces.parent, spark=spark, source="workspaces")
    mine = pd.read_parquet(result.findings)
    broken = mine.loc[mine["business_id"] == "zz-broken"]
    assert broken["metric"].tolist() == ["fleet.error"] and broken["value"].isna().all()
    ok = mine.loc[mine["error"].isna()].set_index(["business_id", "metric"])["value"]
    fleet = findings.set_index(["business_id", "metric"])["value"]
    assert len(ok) > 20
    np.testing.assert_allclose(ok.to_numpy(), fleet.reindex(ok.index).to_numpy(), rtol=1e-9)


def test_failing_businesses_become_error_rows(findings: pd.DataFrame) -> None:
    errors = findings.loc[findings["error"].notna()]
    assert set(errors["business_id"]) == {"zz-guests", "zz-single", "zz-empty"}
    guests = errors.loc[errors["business_id"] == "zz-guests"]
    assert guests["metric"].tolist() == ["customers.error"]
    assert "customer id" in guests["error"].iloc[0]
    assert guests["value"].isna().all()
    empty = errors.loc[errors["business_id"] == "zz-empty"]
    assert empty["metric"].tolist() == ["fleet.error"] and "no order" in empty["error"].iloc[0]
    # the rest of the guest business's analyses and every other business finished
    assert (
        findings.loc[findings["business_id"] == "zz-guests", "metric"] == "exposure.channel_hhi"
    ).any()
    assert findings.loc[findings["error"].isna(), "business_id"].nunique() >= 31


def test_output_columns_units_and_partitions(
    findings: pd.DataFrame, first_run: FleetRun, fleet_with_failures: Path
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
    revenue_value = ok["unit"] == REVENUE_VALUE_UNIT
    assert (ok.loc[revenue_value, "metric"] == "customers.value_per_customer").all()
    assert revenue_value.any() and not revenue_value.all()
    assert (
        ok.loc[~revenue_value, "unit"] == ok.loc[~revenue_value, "metric"].map(metric_unit)
    ).all()
    assert findings["run_fingerprint"].unique().tolist() == [first_run.run_fingerprint]
    root = fleet_with_failures / "fleet_findings"
    assert first_run.findings == root / f"run={first_run.run_fingerprint}"
    parts = sorted(p.name for p in first_run.findings.iterdir() if p.is_dir())
    assert parts == [
        "analysis=customers",
        "analysis=exposure",
        "analysis=fleet",
        "analysis=pricing",
    ]
    manifest = json.loads((first_run.findings / MANIFEST).read_text())
    assert manifest["run_id"] == first_run.run_fingerprint
    assert (manifest["n_businesses"], manifest["n_error_rows"]) == (33, first_run.n_error_rows)
    assert manifest["source"] == "parquet" and manifest["full"] is True
    elasticity = ok.loc[ok["metric"] == "pricing.median_elasticity"].set_index("business_id")
    # a quarter of the demo never moves prices: no value there, never 0; where prices
    # moved, the planted elasticity without a bias (small_fleet is demo_fleet(30, seed=7);
    # measured: median absolute error 0.29, median error -0.10; the demo whose orders'
    # only lines never answered price gave 1.58 and +1.31; per-business precision is
    # tests/fleet/test_pricing_margin.py's)
    planted = planted_price_response(30, 7).set_index("business_id")
    assert set(elasticity.index) == set(planted.index[planted["moves"]])
    error = elasticity["value"] - planted["elasticity"].reindex(elasticity.index)
    assert error.abs().median() < 0.5
    assert abs(error.median()) < 0.25
    shares = ok.loc[(ok["unit"] == "share") & (ok["metric"] != "exposure.compliance_cost_share")]
    assert ((shares["value"] >= 0) & (shares["value"] <= 1)).all()


def _hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_rerun_is_a_noop_and_force_replaces_the_same_partition(
    fleet_with_failures: Path, first_run: FleetRun, findings: pd.DataFrame, spark: Any
) -> None:
    manifest = first_run.findings / MANIFEST
    before = manifest.stat().st_mtime_ns
    again = run(fleet_with_failures, spark=spark)
    assert again.reused and again.findings == first_run.findings
    assert again.n_metric_rows == first_run.n_metric_rows
    assert manifest.stat().st_mtime_ns == before  # nothing was written

    forced = run(fleet_with_failures, spark=spark, force=True)
    assert not forced.reused and forced.findings == first_run.findings
    assert manifest.stat().st_mtime_ns != before  # the partition was written anew
    second = pd.read_parquet(forced.findings)
    key = ["business_id", "metric"]
    a = findings.sort_values(key).reset_index(drop=True)
    b = second.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[[*key, "unit"]], b[[*key, "unit"]])
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-12, atol=0)
    root = fleet_with_failures / "fleet_findings"
    assert [p.name for p in root.glob("run=*")] == [first_run.findings.name]
    assert _hidden(fleet_with_failures) == [] and _hidden(root) == []


def test_older_runs_stay_readable_and_latest_names_the_current_one(
    fleet_with_failures: Path, first_run: FleetRun, findings: pd.DataFrame, spark: Any
) -> None:
    root = fleet_with_failures / "fleet_findings"
    kernels = run(fleet_with_failures, spark=spark, full=False)  # other settings: a new run
    assert kernels.run_fingerprint != first_run.run_fingerprint
    assert current_run(root) == kernels.findings
    assert json.loads((root / LATEST).read_text())["path"] == kernels.findings.name
    assert not read_findings(root)["metric"].isin(["exposure.supplier_hhi"]).any()
    older = read_findings(root, run_id=first_run.run_fingerprint)
    assert len(older) == len(findings) and older["metric"].eq("exposure.supplier_hhi").any()

    # the CLI rerun of the full analysis computes nothing, makes that run current again and
    # publishes the peers from it
    out = CliRunner().invoke(app, ["fleet", "run", str(fleet_with_failures), "--k", "5"])
    assert out.exit_code == 0, out.output
    words = out.output.split()  # Rich wraps long lines, long paths even inside
    assert "nothing recomputed" in " ".join(words)
    assert f"Findings:{first_run.findings}" in "".join(words)
    assert current_run(root) == first_run.findings
    privacy = json.loads((fleet_with_failures / "peer_privacy.json").read_text())
    assert privacy["run"] == first_run.run_fingerprint
    peers = pd.read_parquet(fleet_with_failures / "peer_benchmarks.parquet")
    assert peers["metric"].eq("exposure.supplier_hhi").any()


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
