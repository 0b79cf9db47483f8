"""APR bands of sales-linked offers: levelfield vs numpy-financial IRR in a loop.

1,000 offers (merchant cash advances and revenue-based advances with random factor
rates, fees and holdbacks; ``--quick``: 100) are priced under 10,000 simulated futures of
weekly sales (``--quick``: 1,000): one APR per offer and future, then the median and 90 %
band per offer. levelfield solves all futures of an offer at once
(:func:`levelfield.financing.offer_cash_flows` + Appendix J kernel). The peer,
``numpy_financial.irr`` (one call per cash-flow row, as a loop over offers x futures
would do), is timed on a random sample of ``--peer-sample`` rows (default 2,000) of the
very same flows and its time per row scaled to all rows: running it on all 10 million
rows would take hours. Its rates (x 52) are compared with ours on that sample.
Each side: the minimum wall and CPU time of ``--repeats`` (3) runs, BLAS threads pinned
to one. Writes ``benchmarks/results/financing.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

import numpy as np
import numpy_financial as npf

from _common import best_of, load_avg, machine, pin_threads, table_row, version
from levelfield.financing import CreditOffer, offer_cash_flows, sales_futures


def _offers(n: int, rng: np.random.Generator) -> list[CreditOffer]:
    out = []
    for k in range(n):
        advance = float(rng.uniform(5_000, 50_000))
        if k % 2:
            out.append(
                CreditOffer(
                    f"MCA-{k}",
                    "merchant_cash_advance",
                    advance,
                    factor_rate=float(rng.uniform(1.1, 1.5)),
                    remittance_share=float(rng.uniform(0.05, 0.2)),
                    fees=float(rng.uniform(0, 0.03) * advance),
                )
            )
        else:
            out.append(
                CreditOffer(
                    f"RBF-{k}",
                    "revenue_based",
                    advance,
                    fees=float(rng.uniform(0.06, 0.2) * advance),
                    remittance_share=float(rng.uniform(0.05, 0.2)),
                )
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100 offers x 1,000 futures")
    ap.add_argument("--offers", type=int, default=None)
    ap.add_argument("--futures", type=int, default=None)
    ap.add_argument("--weeks", type=int, default=78)
    ap.add_argument("--peer-sample", type=int, default=2_000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "financing.json"))
    ap.add_argument("--repeats", type=int, default=3, help="runs per side (min is kept)")
    args = ap.parse_args()
    threads = pin_threads()
    load_before = load_avg()
    n_offers = args.offers or (100 if args.quick else 1_000)
    n_futures = args.futures or (1_000 if args.quick else 10_000)
    rng = np.random.default_rng(0)
    t = np.arange(156)
    history = 20_000 * (1 + 0.35 * np.sin(2 * np.pi * t / 52)) * rng.lognormal(0, 0.15, t.size)
    futures = sales_futures(history, args.weeks, n_futures, seed=1)
    offers = _offers(n_offers, rng)

    def ours_run() -> np.ndarray:
        bands = np.empty((n_offers, 3))
        for k, offer in enumerate(offers):  # vectorized over all futures of the offer
            bands[k] = np.nanpercentile(offer_cash_flows(offer, futures).apr(), [5, 50, 95])
        return bands

    bands, ours_s, ours_cpu = best_of(ours_run, args.repeats)

    picks = rng.integers(0, [n_offers, n_futures], size=(args.peer_sample, 2))
    rows = []
    for o, f in picks:
        flows = offer_cash_flows(offers[o], futures[f : f + 1])
        rows.append((flows.amount_financed, flows.payments[0], float(flows.apr()[0])))
    peer, sample_s, sample_cpu = best_of(
        lambda: [npf.irr(np.concatenate([[-a], p])) for a, p, _ in rows], args.repeats
    )
    total_rows = n_offers * n_futures
    peer_s = sample_s / args.peer_sample * total_rows
    diff = np.array([abs(52 * r - ours) for r, (_, _, ours) in zip(peer, rows, strict=True)])
    result = {
        "n": total_rows,
        "offers": n_offers,
        "futures": n_futures,
        "weeks": args.weeks,
        "ours_s": round(ours_s, 3),
        "ours_cpu_s": round(ours_cpu, 3),
        "peer": "numpy_financial.irr per row (timed on a sample, scaled to all rows)",
        "peer_sample_rows": args.peer_sample,
        "peer_sample_s": round(sample_s, 3),
        "peer_s": round(peer_s, 1),
        "peer_cpu_s": round(sample_cpu / args.peer_sample * total_rows, 1),
        "ratio": round(peer_s / ours_s, 1),
        "ratio_cpu": round(sample_cpu / args.peer_sample * total_rows / ours_cpu, 1),
        "max_abs_apr_diff_vs_peer": float(np.nanmax(diff)),
        "median_apr_median_offer": float(np.median(bands[:, 1])),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "repeats": args.repeats,
        **machine(load_before),
        "threads": threads,
        "quick": bool(args.quick),
    }
    result["table"] = [
        table_row(
            "APR bands of sales-linked credit offers (Reg Z App. J)",
            f"{n_offers:,} offers x {n_futures:,} futures x {args.weeks} weeks",
            f"numpy_financial {version('numpy-financial')} irr per row "
            f"(timed on {args.peer_sample:,} rows, scaled)",
            result["ratio"],
            result["ratio_cpu"],
            f"APRs agree to {result['max_abs_apr_diff_vs_peer']:.1e}",
            (result["load_avg_1min_before"], result["load_avg_1min_after"]),
        )
    ]
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
