"""The web overview says which currencies were converted, at which rates, up to which
date (issue 25), and a refused currency file is named without changing the workspace."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from conftest import page_csrf, sign_up
from levelfield.workspace import ecb_history

TWO_CURRENCIES = (
    "order_id,customer,date,channel,currency,total\n"
    "2001,ann@example.com,2024-03-01,shopify,USD,120.50\n"
    "2002,bob@example.com,2024-03-02,shopify,USD,80.00\n"
    "2003,cat@example.com,2024-04-11,wholesale,EUR,64.25\n"
)


def _upload(client: TestClient, org: str, name: str, content: str) -> object:
    return client.post(
        f"/orgs/{org}/uploads",
        data={"kind": "orders"},
        files={"file": (name, content.encode(), "text/csv")},
        headers={"X-CSRF-Token": page_csrf(client, org), "HX-Request": "true"},
    )


def test_overview_states_the_conversion(app_factory: Callable[..., TestClient]) -> None:
    client = app_factory()  # the real importer, not the test doubles
    org = sign_up(client, "fx@x.com")
    r = _upload(client, org, "orders.csv", TWO_CURRENCIES)
    assert r.status_code == 201, r.text
    page = " ".join(client.get(f"/orgs/{org}").text.split())
    last = max(ecb_history()["rate_date"]).isoformat()
    assert f"amounts in USD; EUR converted at ECB reference rates up to {last}" in page


def test_contradicting_currency_sign_is_refused_and_named(
    app_factory: Callable[..., TestClient],
) -> None:
    client = app_factory()
    org = sign_up(client, "fx2@x.com")
    bad = "order_id,customer,date,currency,total\n3001,a@x.com,2024-03-01,USD,€12.00\n"
    r = _upload(client, org, "bad.csv", bad)
    text = " ".join(r.text.split())  # type: ignore[attr-defined]
    assert "<strong>bad.csv</strong>" in text and ".csv row 2, column" in text
    assert "carries the sign of another currency" in text
    assert "nothing was imported" in text
