"""Canonical workspace tables and forward migrations.

Each migration is a list of SQL statements; ``MIGRATIONS[i]`` brings a workspace from
schema version ``i`` to ``i + 1``. Never edit a released migration: append a new one.

Conventions: money is ``DECIMAL(18,4)`` in the row's ``currency``; timestamps are UTC
(``TIMESTAMP`` without zone, stored as UTC); customer identifiers are keyed pseudonyms.
"""

from __future__ import annotations

MONEY = "DECIMAL(18,4)"

_V1 = [
    # -- ledgers ---------------------------------------------------------------------
    """CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)""",
    """CREATE SEQUENCE import_id_seq START 1""",
    """CREATE TABLE imports (
        import_id BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,
        source_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        profile VARCHAR NOT NULL,
        rows_in BIGINT NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        options VARCHAR
    )""",
    """CREATE TABLE rejects (
        import_id BIGINT NOT NULL,
        row_number BIGINT,
        "column" VARCHAR,
        value VARCHAR,
        reason VARCHAR NOT NULL
    )""",
    """CREATE SEQUENCE run_id_seq START 1""",
    """CREATE TABLE runs (
        run_id BIGINT PRIMARY KEY,
        analysis VARCHAR NOT NULL,
        params VARCHAR NOT NULL,
        data_fingerprint VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP NOT NULL,
        summary VARCHAR NOT NULL
    )""",
    # -- business data -----------------------------------------------------------------
    f"""CREATE TABLE orders (
        order_id VARCHAR PRIMARY KEY,
        customer_id VARCHAR,
        ordered_at TIMESTAMP NOT NULL,
        channel VARCHAR NOT NULL,
        store VARCHAR,
        currency VARCHAR NOT NULL,
        gross {MONEY} NOT NULL,
        discount {MONEY} NOT NULL DEFAULT 0,
        tax {MONEY} NOT NULL DEFAULT 0,
        shipping {MONEY} NOT NULL DEFAULT 0,
        fees {MONEY},
        refunded {MONEY} NOT NULL DEFAULT 0,
        status VARCHAR NOT NULL,
        refund_of VARCHAR,
        import_id BIGINT NOT NULL
    )""",
    f"""CREATE TABLE order_lines (
        order_id VARCHAR NOT NULL,
        line_no INTEGER NOT NULL,
        sku VARCHAR,
        product VARCHAR,
        category VARCHAR,
        quantity DECIMAL(18,4) NOT NULL,
        unit_price {MONEY} NOT NULL,
        list_price {MONEY},
        discount {MONEY} NOT NULL DEFAULT 0,
        import_id BIGINT NOT NULL,
        PRIMARY KEY (order_id, line_no)
    )""",
    f"""CREATE TABLE products (
        sku VARCHAR PRIMARY KEY,
        name VARCHAR,
        category VARCHAR,
        unit_cost {MONEY},
        list_price {MONEY},
        currency VARCHAR,
        supplier_id VARCHAR,
        import_id BIGINT NOT NULL
    )""",
    f"""CREATE TABLE suppliers (
        supplier_id VARCHAR PRIMARY KEY,
        name VARCHAR,
        country VARCHAR,
        annual_spend {MONEY},
        currency VARCHAR,
        lead_time_days DOUBLE,
        alternatives VARCHAR,
        import_id BIGINT NOT NULL
    )""",
    f"""CREATE TABLE channels (
        channel VARCHAR PRIMARY KEY,
        platform VARCHAR,
        fee_profile VARCHAR,
        owns_customer BOOLEAN,
        acquisition_cost {MONEY},
        import_id BIGINT NOT NULL
    )""",
    """CREATE TABLE competitors (
        competitor_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        is_self BOOLEAN NOT NULL DEFAULT false,
        attributes JSON,
        attribute_types JSON,
        description VARCHAR,
        market_share DOUBLE,
        snapshot_date DATE,
        source VARCHAR,
        import_id BIGINT NOT NULL
    )""",
    f"""CREATE TABLE costs (
        month DATE NOT NULL,
        category VARCHAR NOT NULL,
        amount {MONEY} NOT NULL,
        fixed BOOLEAN NOT NULL DEFAULT true,
        currency VARCHAR,
        import_id BIGINT NOT NULL,
        PRIMARY KEY (month, category)
    )""",
    """CREATE TABLE pilots (
        pilot_id VARCHAR NOT NULL,
        name VARCHAR,
        unit_type VARCHAR NOT NULL,
        unit VARCHAR NOT NULL,
        arm VARCHAR NOT NULL,
        sku VARCHAR,
        starts_on DATE NOT NULL,
        ends_on DATE NOT NULL,
        price_change DOUBLE,
        sequential BOOLEAN NOT NULL DEFAULT false,
        looks INTEGER NOT NULL DEFAULT 1,
        import_id BIGINT NOT NULL,
        PRIMARY KEY (pilot_id, unit_type, unit)
    )""",
    """CREATE TABLE surveys (
        response_id VARCHAR PRIMARY KEY,
        customer_id VARCHAR,
        answered_at TIMESTAMP,
        score INTEGER NOT NULL,
        import_id BIGINT NOT NULL
    )""",
    """CREATE TABLE automation (
        area VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        hours_per_week DOUBLE NOT NULL,
        hourly_cost DOUBLE NOT NULL,
        error_rate DOUBLE,
        tools VARCHAR,
        import_id BIGINT NOT NULL,
        PRIMARY KEY (area, task)
    )""",
    """CREATE TABLE business (
        key VARCHAR PRIMARY KEY,
        value JSON NOT NULL,
        import_id BIGINT NOT NULL
    )""",
    # Net revenue counts each refund once: refunded amounts on an order and separate
    # negative refund rows are both netted here.
    """CREATE VIEW order_revenue AS
        SELECT *,
               CAST(gross - discount - refunded AS DECIMAL(18,4)) AS net_revenue,
               (status IN ('refund', 'return') OR gross < 0) AS is_refund
        FROM orders
        WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending')""",
]

# v2: findings of each run, so advice and the report can read them without re-running.
_V2 = [
    """CREATE TABLE findings (
        run_id BIGINT NOT NULL,
        analysis VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        value DOUBLE,
        unit VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        severity VARCHAR NOT NULL,
        context VARCHAR NOT NULL
    )""",
]

# v3: the provenance log (levelfield.provenance). Append-only by API: entries are RFC 8785
# canonical JSON with their RFC 6962 leaf hash; tree heads are signed with Ed25519 keys
# whose private halves live outside the workspace (only public keys are stored here).
_V3_PROVENANCE = [
    """CREATE TABLE provenance_entries (
        seq BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,
        subject VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        leaf_hash VARCHAR NOT NULL,
        recorded_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE provenance_heads (
        tree_size BIGINT NOT NULL,
        root_hash VARCHAR NOT NULL,
        key_fingerprint VARCHAR NOT NULL,
        head VARCHAR NOT NULL,
        signature VARCHAR NOT NULL,
        signed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (tree_size, key_fingerprint)
    )""",
    """CREATE TABLE provenance_keys (
        fingerprint VARCHAR PRIMARY KEY,
        public_key VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        retired_at TIMESTAMP,
        endorsement VARCHAR,
        endorsement_signature VARCHAR
    )""",
]

# v4: orders keyed by their source. ``orders.order_id`` stays the one join key but is
# workspace-unique (``shopify:<Id>``, ``etsy:<Order ID>``, ``stripe:<id>``); per-order
# facts beyond the canonical columns live beside it in ``order_details`` (so
# ``orders`` keeps its shape): the number the shop sees (``order_ref``, ``#1001``), the
# non-merchandise amount (tips, gift cards, shipping protection, donations; their lines
# are in ``non_merchandise_lines``, never in ``order_lines``) and the settled amount a
# payment export states (Stripe ``Converted Amount``/``Converted Currency``).
_V4_ORDER_SOURCES = [
    f"""CREATE TABLE order_details (
        order_id VARCHAR PRIMARY KEY,
        order_ref VARCHAR,
        non_merchandise {MONEY} NOT NULL DEFAULT 0,
        settled_amount {MONEY},
        settled_currency VARCHAR
    )""",
    f"""CREATE TABLE non_merchandise_lines (
        order_id VARCHAR NOT NULL,
        line_no INTEGER NOT NULL,
        line_type VARCHAR NOT NULL,
        sku VARCHAR,
        product VARCHAR,
        quantity DECIMAL(18,4) NOT NULL,
        amount {MONEY} NOT NULL,
        import_id BIGINT NOT NULL,
        PRIMARY KEY (order_id, line_no)
    )""",
]

_V5_CREDIT_OFFERS = [
    # Credit offers the owner is weighing (levelfield.financing): one row per offer; the
    # columns that apply depend on ``kind`` (see ``levelfield template credit_offers``).
    f"""CREATE TABLE credit_offers (
        offer_id VARCHAR PRIMARY KEY,
        lender VARCHAR,
        kind VARCHAR NOT NULL,
        amount {MONEY} NOT NULL,
        currency VARCHAR,
        annual_rate DOUBLE,
        term_months DOUBLE,
        fees {MONEY},
        factor_rate DOUBLE,
        remittance_share DOUBLE,
        card_share DOUBLE,
        usage_share DOUBLE,
        draw_fee DOUBLE,
        advance_rate DOUBLE,
        fee_per_30_days DOUBLE,
        days_to_pay DOUBLE,
        payment {MONEY},
        residual {MONEY},
        import_id BIGINT NOT NULL
    )""",
]

#: ``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``.
MIGRATIONS: list[list[str]] = [_V1, _V2, _V3_PROVENANCE, _V4_ORDER_SOURCES, _V5_CREDIT_OFFERS]

SCHEMA_VERSION = len(MIGRATIONS)

#: Tables that hold business data (imports write them; counts are reported).
DATA_TABLES = (
    "orders",
    "order_lines",
    "products",
    "suppliers",
    "channels",
    "competitors",
    "costs",
    "pilots",
    "surveys",
    "automation",
    "business",
    "credit_offers",
)
