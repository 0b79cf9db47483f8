"""Pricing on real data: UCI Online Retail (541,909 lines, one channel, no costs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from guardrail_check import guardrails_of, violations

import levelfield.pricing as pricing
from levelfield import open_workspace
from levelfield.errors import DataQualityWarning
from levelfield.ingest import import_file

ONLINE_RETAIL = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "online-retail"
    / "online_retail.parquet"
)


@pytest.fixture(scope="module")
def uci_pricing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pricing.PricingResult]:
    if not ONLINE_RETAIL.exists():
        pytest.skip("shared UCI Online Retail data not present")
    path = tmp_path_factory.mktemp("uci-pricing") / "uci.duckdb"
    with open_workspace(path) as ws:
        import_file(ws, "orders", ONLINE_RETAIL)
        # 1,179 lines with a zero price (samples, adjustments) are left out, with a warning
        with pytest.warns(DataQualityWarning, match="zero or negative price"):
            yield pricing.analyze(ws)


@pytest.mark.slow
def test_online_retail_every_recommendation_inside_every_guardrail(
    uci_pricing: pricing.PricingResult,
) -> None:
    res = uci_pricing
    g = guardrails_of(res.params)
    recs = res.recommendations
    assert violations(recs, res.channel_prices, g) == []
    priced = recs.loc[recs["recommended_price"].notna()]
    assert len(priced) > 50
    assert float(priced["change"].abs().max()) <= g.max_step + 1e-9
    # "VANILLA INCENSE IN TIN: 0.38 -> 0.95 (+150 %)": no allowed ending within 10 %
    vanilla = recs.loc[recs["name"] == "VANILLA INCENSE IN TIN"].iloc[0]
    assert np.isnan(vanilla["recommended_price"])
    assert vanilla["reasons"].split(";")[:1] == ["withheld"]
    assert "price_ending" in vanilla["reasons"] and "max_step" in vanilla["reasons"]
    note = [n for n in res.notes if "withheld" in n]
    assert note and "price_endings=[]" in note[0]
    assert any("withheld" in line for line in res.headline())
    assert res.summary()["recommendations_withheld"] == int(recs["withheld"].sum()) > 0
