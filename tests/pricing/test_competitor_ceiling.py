"""Property: with the competitor ceiling on, no retail price exceeds the dearest rival's
latest price (times the allowed premium); with it off, rival prices change no price."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from guardrail_check import violations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_guardrail_invariant import cases

from levelfield.errors import ConfigError
from levelfield.pricing import GUARDRAIL_ORDER, REASON_CODES, Guardrails, recommend_prices


@st.composite
def rivals(draw: Any, prod: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for s, p0 in zip(prod["sku"], prod["current_price"], strict=True):
        if draw(st.booleans()):
            prices = draw(st.lists(st.floats(0.3, 1.8), min_size=1, max_size=4))
            ps = [round(p0 * f, 2) for f in prices]
            rows.append(
                {
                    "sku": s,
                    "rivals": len(ps),
                    "rival_low": min(ps),
                    "rival_reference": float(np.median(ps)),
                    "rival_high": max(ps),
                    "rivals_as_of": pd.Timestamp("2025-10-01"),
                }
            )
    cols = ["sku", "rivals", "rival_low", "rival_reference", "rival_high", "rivals_as_of"]
    return pd.DataFrame(rows, columns=cols)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.data())
def test_no_recommendation_exceeds_the_competitor_ceiling(case: Any, data: Any) -> None:
    prod, g0, comp, chan = case
    ref = data.draw(rivals(prod))
    premium = data.draw(st.sampled_from([0.0, 0.0, 0.05, 0.2]))
    g = dataclasses.replace(g0, competitor_ceiling=True, competitor_ceiling_premium=premium)
    recs, table = recommend_prices(
        prod, g, competitor_range=comp, channel_prices=chan, rival_reference=ref
    )
    assert violations(recs, table, g, comp) == []  # every other guardrail still holds
    cap = ref.set_index("sku")["rival_high"] * (1 + premium)
    for r in recs.itertuples(index=False):
        bound = float(cap.get(r.sku, math.inf))
        codes = str(r.reasons).split(";")
        if math.isfinite(r.recommended_price):
            assert r.recommended_price <= bound + 1e-7 * max(1.0, bound), (r.sku, bound)
        if "competitor_ceiling" in codes:
            assert math.isfinite(bound)  # only products a rival prices
    retail = table.loc[
        (table["segment"] == "")
        & ~table["channel"].str.lower().isin(g.wholesale_channels)
        & table["recommended_price"].notna()
    ]
    for c in retail.itertuples(index=False):
        bound = float(cap.get(c.sku, math.inf))
        assert c.recommended_price <= bound + 1e-7 * max(1.0, bound), (c.sku, c.channel)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.data())
def test_rival_prices_are_only_references_while_the_ceiling_is_off(case: Any, data: Any) -> None:
    prod, g, comp, chan = case
    ref = data.draw(rivals(prod))
    plain, _ = recommend_prices(prod, g, competitor_range=comp, channel_prices=chan)
    with_ref, _ = recommend_prices(
        prod, g, competitor_range=comp, channel_prices=chan, rival_reference=ref
    )
    pd.testing.assert_series_equal(plain["recommended_price"], with_ref["recommended_price"])
    assert (plain["reasons"] == with_ref["reasons"]).all()
    by = ref.set_index("sku")
    for r in with_ref.itertuples(index=False):
        if r.sku in by.index:
            assert r.rival_reference == pytest.approx(by.loc[r.sku, "rival_reference"])
            assert r.price_vs_rivals == pytest.approx(
                r.current_price / by.loc[r.sku, "rival_reference"] - 1
            )
        else:
            assert r.rivals == 0 and math.isnan(r.rival_reference)


def test_competitor_ceiling_binds_with_its_own_reason_code() -> None:
    prod = pd.DataFrame(
        [
            {"sku": "A", "current_price": 10.0, "unit_cost": 8.0, "elasticity": -1.5}
            | {"se": 0.1, "baseline_units": 50.0}
        ]
    )
    ref = pd.DataFrame(
        [
            {"sku": "A", "rivals": 2, "rival_low": 9.0, "rival_reference": 10.0}
            | {"rival_high": 10.5, "rivals_as_of": pd.Timestamp("2025-01-01")}
        ]
    )
    g = Guardrails(competitor_ceiling=True)
    recs, _ = recommend_prices(prod, g, rival_reference=ref)
    r = recs.iloc[0]
    # margin-optimal 24.00, the 10 % step allows 11.00, the rivals' 10.50: 10.00 is the
    # allowed ending (.99/.95/whole) inside
    assert r["recommended_price"] == pytest.approx(10.0)
    assert r["ceiling"] == pytest.approx(10.5)
    assert r["reasons"] == "competitor_ceiling;price_ending"
    assert GUARDRAIL_ORDER.index("competitor_ceiling") == GUARDRAIL_ORDER.index("floor_ceiling") + 1
    assert "competitor_ceiling" in REASON_CODES
    # an own ceiling below the rivals' keeps the plain 'ceiling' code
    recs, _ = recommend_prices(
        prod, Guardrails(competitor_ceiling=True, ceiling={"A": 10.2}), rival_reference=ref
    )
    assert recs.iloc[0]["reasons"].split(";")[0] == "ceiling"
    with pytest.raises(ConfigError, match="competitor_ceiling_premium"):
        Guardrails(competitor_ceiling_premium=-0.1)
    with pytest.raises(ConfigError, match="competitor_ceiling must be True or False"):
        Guardrails(competitor_ceiling="yes")  # type: ignore[arg-type]
