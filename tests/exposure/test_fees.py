"""Fees of worked examples, computed by hand from each platform's published schedule."""

from __future__ import annotations

import pytest
from exposure_helpers import insert, order

from levelfield import Workspace, open_workspace
from levelfield.errors import DataQualityWarning
from levelfield.exposure import analyze, channel_fee_rates

# (fee profile, merchandise, shipping, tax, [(qty, unit price)], fee by hand)
WORKED = [
    # Stripe 2.9% + 0.30 of the amount charged: 100 -> 3.20
    ("stripe_standard", 100.0, 0.0, 0.0, None, 3.20),
    # Shopify Payments Basic 2.9% + 0.30 on the order total incl. shipping and tax: 110 -> 3.49
    ("shopify_payments_basic", 100.0, 5.0, 5.0, None, 0.029 * 110 + 0.30),
    # PayPal Checkout 3.49% + 0.49: 100 -> 3.98
    ("paypal_checkout", 100.0, 0.0, 0.0, None, 3.98),
    # Square in person 2.6% + 0.15: 100 -> 2.75; online (Free plan) 3.3% + 0.30 -> 3.60
    ("square_in_person", 100.0, 0.0, 0.0, None, 2.75),
    ("square_online", 100.0, 0.0, 0.0, None, 3.60),
    # Etsy: 50 item + 10 shipping: listing 0.20 + 6.5% x 60 = 3.90 + 3% x 60 + 0.25 = 2.05
    ("etsy_standard", 50.0, 10.0, 0.0, [(1, 50.0)], 0.20 + 3.90 + 2.05),
    # Amazon Grocery, Seller Central FAQ examples: 10 -> 0.80 (8%), 16 -> 2.40 (15%)
    ("amazon_referral_grocery", 26.0, 0.0, 0.0, [(1, 10.0), (1, 16.0)], 0.80 + 2.40),
    # Amazon standard 15% with a 0.30 per-item minimum: 2 x 1.00 -> 2 x 0.30; 20 -> 3.00
    ("amazon_referral_standard", 22.0, 0.0, 0.0, [(2, 1.0), (1, 20.0)], 0.60 + 3.00),
    # App stores: 30% / 15% of the price
    ("apple_app_store_standard", 10.0, 0.0, 0.0, None, 3.00),
    ("apple_app_store_small_business", 10.0, 0.0, 0.0, None, 1.50),
    ("google_play_standard", 10.0, 0.0, 0.0, None, 3.00),
    ("google_play_small_business", 10.0, 0.0, 0.0, None, 1.50),
    # Delivery apps on a 40 subtotal (tax excluded from the base)
    ("doordash_basic", 40.0, 0.0, 3.0, None, 6.00),
    ("doordash_plus", 40.0, 0.0, 3.0, None, 10.00),
    ("doordash_premier", 40.0, 0.0, 3.0, None, 12.00),
    ("ubereats_lite", 40.0, 0.0, 3.0, None, 8.00),
    ("ubereats_plus", 40.0, 0.0, 3.0, None, 10.00),
    ("ubereats_premium", 40.0, 0.0, 3.0, None, 12.00),
    ("none", 40.0, 0.0, 3.0, None, 0.0),
]


def _load_worked(ws: Workspace) -> None:
    for i, (profile, merch, ship, tax, lines, _) in enumerate(WORKED):
        oid = f"o{i}"
        insert(ws, "orders", [order(oid, profile, merch, shipping=ship, tax=tax, customer=f"c{i}")])
        for j, (q, price) in enumerate(lines or []):
            insert(
                ws,
                "order_lines",
                [
                    {
                        "order_id": oid,
                        "line_no": j + 1,
                        "sku": f"s{i}{j}",
                        "quantity": q,
                        "unit_price": price,
                    }
                ],
            )
        insert(ws, "channels", [{"channel": profile, "platform": profile, "fee_profile": profile}])


@pytest.fixture(scope="module")
def worked_rates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    with open_workspace(tmp_path_factory.mktemp("fees") / "ws.duckdb") as w:
        _load_worked(w)
        return channel_fee_rates(w)


@pytest.mark.parametrize(("profile", "merch", "fee"), [(w[0], w[1], w[5]) for w in WORKED])
def test_fee_schedule_worked_examples(
    worked_rates: dict[str, float], profile: str, merch: float, fee: float
) -> None:
    assert worked_rates[profile] == pytest.approx(fee / merch, abs=1e-9)


def test_actual_fees_win_over_the_schedule(ws: Workspace) -> None:
    insert(ws, "orders", [order("a", "etsy", 100.0, fees=12.0), order("b", "etsy", 100.0)])
    insert(ws, "channels", [{"channel": "etsy", "fee_profile": "etsy_standard"}])
    # order a: actual 12.00; order b from the schedule: 6.5 + 3.0 + 0.25 (+0.20 listing) = 9.95
    assert channel_fee_rates(ws)["etsy"] == pytest.approx((12.0 + 9.95) / 200.0)


def test_channel_without_fee_profile_is_unknown_not_zero(ws: Workspace) -> None:
    insert(ws, "orders", [order("a", "market", 100.0), order("b", "stripe", 100.0)])
    insert(ws, "channels", [{"channel": "stripe", "fee_profile": "stripe_standard"}])
    with pytest.warns(DataQualityWarning, match="'market' has no fee profile.*unknown, not zero"):
        result = analyze(ws)
    rates = channel_fee_rates(ws)
    assert "market" not in rates
    assert rates["stripe"] == pytest.approx(0.032)
    ch = result.channels.set_index("channel")
    assert ch.loc["market", "fee_source"] == "unknown"
    assert result.metrics["revenue_fee_unknown_share"] == pytest.approx(0.5)
    assert result.metrics["fee_rate_total"] == pytest.approx(0.032)


def test_unknown_fee_profile_warns_with_near_match(ws: Workspace) -> None:
    insert(ws, "orders", [order("a", "etsy", 100.0)])
    insert(ws, "channels", [{"channel": "etsy", "fee_profile": "etsy_standrad"}])
    with pytest.warns(
        DataQualityWarning, match="unknown fee profile 'etsy_standrad'.*etsy_standard"
    ):
        result = analyze(ws)
    assert "etsy" not in channel_fee_rates(ws)
    assert result.channels.loc[0, "fee_source"] == "unknown"


def test_fees_larger_than_the_price_are_ignored_with_warning(ws: Workspace) -> None:
    insert(
        ws,
        "orders",
        [order("bad", "stripe", 10.0, fees=50.0), order("ok", "stripe", 10.0, fees=1.0)],
    )
    insert(ws, "channels", [{"channel": "stripe", "fee_profile": "none"}])
    with pytest.warns(DataQualityWarning, match=r"1 order\(s\) have fees larger.*bad"):
        result = analyze(ws)
    # 'bad' falls back to the schedule (none -> 0), 'ok' keeps its 1.00
    assert result.channels.loc[0, "fee_rate"] == pytest.approx(1.0 / 20.0)


def test_negative_fees_on_sales_are_read_as_paid(ws: Workspace) -> None:
    insert(ws, "orders", [order("a", "square", 100.0, fees=-2.75)])
    insert(ws, "channels", [{"channel": "square", "fee_profile": "square_in_person"}])
    with pytest.warns(DataQualityWarning, match="negative fees"):
        result = analyze(ws)
    assert result.channels.loc[0, "fee_rate"] == pytest.approx(0.0275)


def test_refund_rows_carry_no_scheduled_fee(ws: Workspace) -> None:
    insert(
        ws, "orders", [order("a", "stripe", 100.0), order("r", "stripe", -40.0, status="refund")]
    )
    insert(ws, "channels", [{"channel": "stripe", "fee_profile": "stripe_standard"}])
    # the processor keeps its 3.20 on the sale; net revenue 60
    assert channel_fee_rates(ws)["stripe"] == pytest.approx(3.20 / 60.0)
