"""The stages of ``exposure.analyze`` tested alone, on small hand-made frames."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from levelfield.errors import ConfigError
from levelfield.exposure import _analyze as an
from levelfield.exposure._metrics import ConcentrationRow
from levelfield.exposure._result import ExposureResult


def _channels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": ["etsy", "amazon", "shop", "market stall"],
            "revenue": [500.0, 900.0, 300.0, 200.0],
            "owns_customer": pd.array([False, False, True, True], dtype="boolean"),
            "fee_rate": [0.09, math.nan, 0.035, 0.0],
            "fee_profile": ["etsy_standard", None, "shopify_payments_basic", "none"],
        }
    )


def test_whatif_channel_is_the_largest_marketplace_or_the_named_one() -> None:
    pos = _channels()
    assert an._whatif_channel(pos, None)["channel"] == "amazon"
    assert an._whatif_channel(pos, "etsy")["channel"] == "etsy"
    assert an._whatif_channel(pos[pos["owns_customer"]], None) is None
    with pytest.raises(ConfigError, match="'etsi' has no revenue.*did you mean etsy"):
        an._whatif_channel(pos, "etsi")


def test_own_store_fee_rate_prefers_the_parameter_then_an_own_processor() -> None:
    pos = _channels()
    # No database needed on these two paths: the connection is never read.
    assert an._own_store_fee_rate(None, pos, "etsy", 0.05) == (0.05, "parameter")  # type: ignore[arg-type]
    # The market stall (fee profile 'none', no processor) comes after the own store.
    assert an._own_store_fee_rate(None, pos, "etsy", None) == (  # type: ignore[arg-type]
        0.035,
        "fee rate of shop",
    )


def test_top_keys_table_ranks_and_hides_customer_ids() -> None:
    tops = {
        "customer": pd.DataFrame({"key": ["k9", "k2"], "value": [5.0, 3.0], "share": [0.5, 0.3]}),
        "product": pd.DataFrame({"key": ["MUG"], "value": [7.0], "share": [1.0]}),
    }
    t = an._top_keys_table(tops)
    assert t["dimension"].tolist() == ["customer", "customer", "product"]
    assert t["rank"].tolist() == [1, 2, 1]
    assert t["key"].tolist() == ["customer #1", "customer #2", "MUG"]
    assert an._top_keys_table({}).empty


def test_concentration_table_and_customer_shares_fill_the_metrics() -> None:
    rows = [
        ConcentrationRow("customer", 3, 10.0, 3400.0, 0.5, 1.0, 0.5),
        ConcentrationRow("channel", 1, 10.0, 10000.0, 1.0, 1.0, 1.0),
    ]
    metrics: dict[str, float] = {}
    conc = an._concentration_table(rows, metrics)
    an._customer_shares(rows[0], metrics)
    assert conc["band"].tolist() == [rows[0].band, rows[1].band]
    assert metrics == {
        "customer_hhi": 3400.0,
        "channel_hhi": 10000.0,
        "customer_top1_share": 0.5,
        "customer_top5_share": 1.0,
        "customer_top20pct_share": 0.5,
    }


def test_scorecard_marks_channel_dependency_not_applicable_for_one_own_channel() -> None:
    base = {"channel_dependency_hhi": 10000.0, "customer_top1_share": 0.05}
    scored, _ = an._scorecard(base)
    by_choice, _ = an._scorecard({**base, "single_channel_by_choice": 1.0})
    assert not scored.equals(by_choice)


def test_finding_groups_add_up_to_the_concentration_and_cost_findings() -> None:
    metrics = {
        "customer_top1_share": 0.25,
        "customer_hhi": 900.0,
        "supplier_hhi": 2500.0,
        "scale_gap": 0.1,
        "country_cogs_share_max": 0.6,
        "compliance_cost_share": 0.04,
    }
    empty = pd.DataFrame()
    r = ExposureResult(
        currency="USD",
        metrics=metrics,
        concentration=empty,
        concentration_top=empty,
        channels=empty,
        whatif=empty,
        suppliers=empty,
        countries=empty,
        diversification=empty,
        burden=empty,
        scorecard=empty,
        dimensions=empty,
    )
    ids = [f.metric for f in r._concentration_findings()]
    assert ids == [
        "exposure.customer_top1_share",
        "exposure.customer_hhi",
        "exposure.supplier_hhi",
    ]
    assert [f.metric for f in r._cost_findings()] == [
        "exposure.scale_gap",
        "exposure.country_cogs_share_max",
        "exposure.compliance_cost_share",
    ]
    assert r._customer_share_findings()[0].severity == "warning"  # 25 % >= 20 %
    assert r._country_findings()[0].severity == "watch"  # 60 % of purchases, risk unknown
