"""Non-order kinds, templates, and the public API."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import counts, write

import levelfield.ingest as ingest
from levelfield import Workspace
from levelfield.errors import ConfigError, RejectThresholdError
from levelfield.ingest import KINDS, PROFILES, import_file, template_csv


def test_public_names() -> None:
    # __all__ against the public names: tests/test_public_api.py
    assert {
        "import_file",
        "ImportSummary",
        "KINDS",
        "PROFILES",
        "template_csv",
        "GENERIC_FIELDS",
        "normalize_column_name",
        "read_header",
        "read_contacts",
        "ContactRows",
    } == set(ingest.__all__)


def test_profiles_listed() -> None:
    for p in (
        "shopify",
        "square_items",
        "square_transactions",
        "stripe",
        "woocommerce_analytics",
        "woocommerce_export",
        "etsy_orders",
        "etsy_items",
        "amazon",
        "uci_online_retail",
        "cdnow",
        "generic",
    ):
        assert p in PROFILES


@pytest.mark.parametrize("kind", KINDS)
def test_every_template_imports(ws: Workspace, tmp_path: Path, kind: str) -> None:
    text = template_csv(kind)
    f = write(tmp_path / f"{kind}.csv", text)
    s = import_file(ws, kind, f)
    assert s.rows_rejected == 0
    table = "orders" if kind == "orders" else kind
    assert counts(ws)[table] >= 1
    assert s.lines()


def test_template_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown kind"):
        template_csv("invoices")


def test_business_values_json_decoded(ws: Workspace, tmp_path: Path) -> None:
    import_file(ws, "business", write(tmp_path / "b.csv", template_csv("business")))
    assert ws.get_business("employees") == 6
    assert ws.get_business("name") == "Example Coffee Roasters"
    assert ws.get_business("capabilities") == ["online_ordering", "email_automation"]
    assert ws.currency() == "EUR"


def test_competitors_type_row_and_raw_attributes(ws: Workspace, tmp_path: Path) -> None:
    text = (
        "name,self,description,market_share,price_tier,organic,rating\n"
        "#type,-,-,-,ordinal(budget<mid<premium),flag,numeric\n"
        "Us Roasters,yes,Our shop,4%,premium,yes,4.7\n"
        "Bean Barn,no,Big chain,0.30,budget,no,\n"
    )
    s = import_file(ws, "competitors", write(tmp_path / "c.csv", text))
    assert (s.rows_in, s.rows_loaded, s.rows_rejected) == (2, 2, 0)
    rows = ws.con.execute(
        "SELECT competitor_id, is_self, attributes, attribute_types, market_share FROM competitors "
        "ORDER BY competitor_id"
    ).fetchall()
    assert [r[0] for r in rows] == ["bean-barn", "us-roasters"]
    assert rows[1][1] is True
    assert json.loads(rows[1][2]) == {"price_tier": "premium", "organic": "yes", "rating": "4.7"}
    assert json.loads(rows[0][2])["rating"] is None
    assert json.loads(rows[0][3])["price_tier"] == "ordinal(budget<mid<premium)"
    assert rows[1][4] == pytest.approx(0.04)


def test_costs_month_and_upsert(ws: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "costs.csv",
        "month,category,amount,fixed\n2024-01,rent,2400,yes\n2024-02,rent,2400,yes\n",
    )
    import_file(ws, "costs", f)
    f2 = write(
        tmp_path / "costs2.csv",
        "month,category,amount,fixed\n2024-02,rent,2500,yes\n2024-03,rent,2500,yes\n",
    )
    import_file(ws, "costs", f2)
    got = dict(ws.con.execute("SELECT CAST(month AS VARCHAR), amount FROM costs").fetchall())
    assert got == {
        "2024-01-01": Decimal("2400.0000"),
        "2024-02-01": Decimal("2500.0000"),
        "2024-03-01": Decimal("2500.0000"),
    }


def test_suppliers_negative_lead_time_rejected(ws: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "s.csv", "supplier_id,name,country,lead_time_days\nS1,A,de,-3\nS2,B,BR,40\n"
    )
    before = counts(ws)
    with pytest.raises(RejectThresholdError, match='column "lead_time_days": "-3" is negative'):
        import_file(ws, "suppliers", f)
    assert counts(ws) == before
    s = import_file(ws, "suppliers", f, max_reject_rate=0.5)
    assert s.rows_loaded == 1
    assert ws.con.execute("SELECT country FROM suppliers").fetchall() == [("BR",)]


def test_products_with_map(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "p.csv", 'Artikel,Einkauf,Preis\nA-1,"4,10","14,50"\n')
    import_file(
        ws,
        "products",
        f,
        mapping={"Artikel": "sku", "Einkauf": "unit_cost", "Preis": "list_price"},
        decimal_comma=True,
    )
    assert ws.con.execute("SELECT sku, unit_cost, list_price FROM products").fetchall() == [
        ("A-1", Decimal("4.1000"), Decimal("14.5000"))
    ]


def test_surveys_and_pilots_pseudonymize_customers(ws: Workspace, tmp_path: Path) -> None:
    import_file(
        ws, "surveys", write(tmp_path / "s.csv", "response_id,email,score\nR1,Ann@Example.com,9\n")
    )
    import_file(ws, "pilots", write(tmp_path / "p.csv", template_csv("pilots")))
    cust = ws.pseudonymize(["ann@example.com"])[0]
    assert ws.con.execute("SELECT customer_id FROM surveys").fetchall() == [(cust,)]
    assert ws.con.execute("SELECT unit FROM pilots").fetchall() == [(cust,)]


def test_survey_score_out_of_scale(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(RejectThresholdError, match="outside the 0-10 scale"):
        import_file(ws, "surveys", write(tmp_path / "s.csv", "response_id,score\nR1,11\n"))
