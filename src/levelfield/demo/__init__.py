"""A demo business with known ground truth: *Ember & Oak Coffee Roasters*.

``levelfield demo DIR`` (or :func:`build_demo`) simulates three years (2023-01-01 to
2025-12-31) of a specialty coffee roaster in Asheville, NC (USD), that sells through
its own Shopify store, Etsy, Amazon and wholesale invoices to about forty cafés. It
writes the history as the platforms' own export files, imports every file through
:func:`levelfield.ingest.import_file` exactly as a user would (the café invoices with
the generic profile, a column mapping and ``channel="wholesale"``) and stores what
generated the data in ``DIR/manifest.json`` so that analyses can be checked against it.

Folder layout::

    DIR/exports/orders_export_1.csv            Shopify orders export (79 columns)
    DIR/exports/EtsySoldOrders<YYYY>.csv       Etsy sold orders, one file per year
    DIR/exports/EtsySoldOrderItems<YYYY>.csv   Etsy sold order items, one file per year
    DIR/exports/amazon_all_orders_2023-2025.txt  Amazon "All Orders" report (TSV)
    DIR/exports/wholesale_invoices_2023-2025.csv café invoices (generic profile)
    DIR/exports/wholesale_eu_invoices_2023-2025.csv  with --eur-wholesale: the EU cafés'
                                               invoices in EUR (ECB rate of each date)
    DIR/exports/{products,suppliers,channels,competitors,costs,pilots,nps_survey,
                 automation,business,credit_offers}.csv
    DIR/certificates/fairtrade-konga-40217.txt the demo lot certificate (its SHA-256 is logged)
    DIR/levelfield.duckdb                      the workspace
    DIR/manifest.json                          the ground truth

``levelfield demo --fleet N DIR`` (or :func:`demo_fleet`) writes instead a seeded fleet of
N small businesses of six sectors for fleet mode (see :mod:`levelfield.fleet`).

Manifest keys (money in USD, shares 0-1)
----------------------------------------
``generator``, ``version``, ``seed``, ``period {start, end}``, ``currency``,
``timezone``, ``n_customers``
    What was built and how.
``business``
    The business profile as imported (name, employees, opening_cash, debt, ...).
``customers``
    ``bgnbd {r, alpha, a, b, time_unit="weeks"}``: the BG/NBD parameters every
    identified customer's repeat purchases are drawn from (one channel per customer;
    at most one order per customer per day, ``same_day_purchases_merged`` counts the
    merges). ``gamma_gamma {p, q, gamma, mean_spend}``: order budgets. Also
    ``by_channel``, ``identified_orders``, ``repeat_orders``, ``customers_with_repeat``,
    ``mean_repeat_orders``, ``mean_order_value`` (realized, merchandise at posted
    prices), ``guest_orders`` (Shopify orders without e-mail).
``pricing``
    ``elasticities {sku: e}`` (constant elasticity of units w.r.t. the posted price,
    retail channels ``elasticity_channels``), ``category_elasticities``, ``categories``,
    ``reference_prices``, ``price_changes`` (two staggered increases: id, date,
    per-SKU old/new price), ``promotions`` (discount codes, posted price unchanged,
    with their window, discount and unit ``uplift``; exclude these weeks when
    estimating from posted prices), ``pilot {pilot_id, pilot_ids {sku: id}, skus,
    test, control, starts_on, ends_on, price_change, true_elasticity,
    sku_elasticities, expected_log_unit_change, budget_effect}``.
``channels``
    Per channel ``{orders, net_revenue, share}`` (net of discounts and merchandise
    refunds), ``marketplace_share`` (Amazon + Etsy), ``revenue_total``.
``refunds``
    Counts of full and partial refunds, rate, merchandise refunded, and their shape in
    each platform's export.
``supplier_spend_per_year``, ``suppliers``
    Spend per supplier (units sold x unit cost / 3 years), countries, lead times,
    alternatives, single-source suppliers.
``landscape``
    ``planted_groups {competitor: group}`` (premium_third_wave, mass_market,
    local_cafe_roasters, subscription_startups), ``shared_cliches``.
``costs``, ``nps``, ``automation``, ``wholesale``, ``channel_setup``, ``products``
    Totals by cost line, true and sample NPS, questionnaire totals, café count.
``provenance``
    The provenance log's lots (two green-coffee origins, CO and ET, roasted into
    SO-COL-HUI, SO-ETH-YIR and the BL-HOUSE blend), the Fairtrade certificate (file,
    SHA-256, lots covered), the number of log entries and the publication URL pattern.
``financing``
    The two planted credit offers (``offers``: a merchant cash advance and a term loan,
    imported from ``credit_offers.csv``), the ``payables`` of the business profile (the
    roaster bill due in February 2026), ``forecast_start`` (Monday of week 1),
    ``cash_low_week`` (the week the balance first falls below the buffer) and the
    ``seasonal_dip`` (January-March trough of ``MONTH_SEASON``).
``files``
    Each export with its kind, SHA-256, the ingest profile it matched, rows and the
    import options used.
"""

from __future__ import annotations

from levelfield.demo._build import DemoResult, build_demo
from levelfield.demo._fleet import CHANNELS, SECTORS, FleetDemo, demo_fleet, write_workspaces
from levelfield.demo._simulate import BGNBD, GAMMA_GAMMA, Simulation, simulate

__all__ = [
    "BGNBD",
    "CHANNELS",
    "GAMMA_GAMMA",
    "SECTORS",
    "DemoResult",
    "FleetDemo",
    "Simulation",
    "build_demo",
    "demo_fleet",
    "simulate",
    "write_workspaces",
]
