"""The demo fleet: deterministic by seed, varied, canonical columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from levelfield.errors import ConfigError, LevelfieldError
from levelfield.fleet import SECTORS, demo_fleet
from levelfield.fleet._kernels import ORDER_COLUMNS, business_metrics


def test_same_seed_same_fleet_and_varied(tmp_path: Path) -> None:
    a = demo_fleet(60, tmp_path / "a", seed=3, chunk=25)
    b = demo_fleet(60, tmp_path / "b", seed=3, chunk=25)
    assert a.n_orders == b.n_orders
    oa, ob = pd.read_parquet(tmp_path / "a" / "orders"), pd.read_parquet(tmp_path / "b" / "orders")
    pd.testing.assert_frame_equal(oa, ob)
    assert list(oa.columns) == list(ORDER_COLUMNS)
    biz = pd.read_parquet(tmp_path / "a" / "businesses.parquet")
    assert biz["sector"].nunique() == len(SECTORS)
    assert biz["region"].nunique() == 4 and biz["size_band"].nunique() == 3
    assert biz["consent"].any() and not biz["consent"].all()
    assert set(oa["business_id"]) == set(biz["business_id"])
    # through ingest: customer ids are the workspace's pseudonyms, never the clear ids
    assert oa["customer_id"].str.fullmatch(r"c_[0-9a-f]{20}").all()
    assert (oa["order_id"].str.split("-").str[0] == oa["business_id"]).all()
    assert len(list((tmp_path / "a" / "orders").glob("*.parquet"))) == 3


def test_demo_rows_are_what_ingest_loaded(tmp_path: Path) -> None:
    """The Parquet rows are the ingested ones: one customer keeps one pseudonym, within a
    business only, and the suppliers and amounts survive the round trip."""
    demo_fleet(12, tmp_path, seed=5, chunk=5)
    orders = pd.read_parquet(tmp_path / "orders")
    per_customer = orders.groupby("customer_id")["business_id"].nunique()
    assert (per_customer == 1).all()
    assert orders["order_id"].is_unique and (orders["gross"] >= 1.0).all()
    assert str(orders["ordered_at"].dt.tz) == "UTC"
    sup = pd.read_parquet(tmp_path / "suppliers")
    assert (sup["supplier_id"].str.split("-").str[0] == sup["business_id"]).all()
    assert set(sup["business_id"]) == set(orders["business_id"])
    # a different seed gives other pseudonyms (the demo's key comes from its seed)
    demo_fleet(2, tmp_path / "other", seed=6)
    other = pd.read_parquet(tmp_path / "other" / "orders")
    assert not set(other["customer_id"]) & set(orders["customer_id"])


def test_ingest_rejecting_rows_stops_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levelfield.demo import _fleet

    real = _fleet._orders

    def with_bad_row(
        biz: pd.DataFrame, catalog: pd.DataFrame, rng: object, price_rng: object
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        frame, lines = real(biz, catalog, rng, price_rng)  # type: ignore[arg-type]
        frame.loc[frame.index[0], "currency"] = "XYZ"
        return frame, lines

    monkeypatch.setattr(_fleet, "_orders", with_bad_row)
    with pytest.raises(LevelfieldError, match="XYZ"):
        demo_fleet(3, tmp_path / "bad", seed=1)
    assert not (tmp_path / "bad" / "orders").exists()


def test_rewrite_replaces_the_fleet(tmp_path: Path) -> None:
    demo_fleet(10, tmp_path, seed=1)
    demo_fleet(4, tmp_path, seed=1)
    assert pd.read_parquet(tmp_path / "businesses.parquet").shape[0] == 4
    assert pd.read_parquet(tmp_path / "orders")["business_id"].nunique() == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_size() -> None:
    with pytest.raises(ConfigError, match="whole number"):
        demo_fleet(0, "unused")


def test_kernel_error_rows_without_spark(tmp_path: Path) -> None:
    demo_fleet(1, tmp_path, seed=2)
    orders = pd.read_parquet(tmp_path / "orders")
    ok = business_metrics(orders)
    assert ok["error"].isna().all() and "customers.repeat_rate" in set(ok["metric"])
    refund = orders.assign(status="refund")
    rows = business_metrics(refund.iloc[:5])
    assert "customers.error" in set(rows["metric"])
    assert rows.loc[rows["metric"] == "customers.error", "error"].str.contains("refund").all()


@pytest.mark.parametrize("args", [["demo", "--fleet", "3"], ["fleet", "demo", "3"]])
def test_both_demo_fleet_commands_say_what_they_wrote_and_what_to_run_next(
    tmp_path: Path, args: list[str]
) -> None:
    from typer.testing import CliRunner

    from levelfield.cli import app

    out = CliRunner().invoke(app, [*args, str(tmp_path / "f")])
    assert out.exit_code == 0, out.output
    text = "".join(out.output.split())  # the console may wrap a long path anywhere
    want = f"orders) to {tmp_path / 'f'}. Next: levelfield fleet run {tmp_path / 'f'}"
    assert text.startswith("Wrote3businesses(") and "".join(want.split()) in text
