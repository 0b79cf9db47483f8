"""Benchmark: the landscape pipeline on 5,000 firms, and Gower versus the `gower` package.

Data: ``make_market`` with 5,000 firms, 20 mixed attributes (numeric, ordinal,
category, multi-label set, flag; 4 of each) in 6 planted groups and short texts.

Timed in one run on the same data:

* ``ours_s``: from the raw frame of strings (as read from a file): levelfield's
  ``profiles_from_frame`` (typing and parsing) and Gower matrix over all 20 attributes
  (Jaccard for sets, asymmetric flags);
* ``peer_s``: from the same raw frame: numbers and ordinal ranks parsed with pandas,
  then ``gower.gower_matrix`` over the same 20 columns. ``gower`` treats set
  attributes as categories (two sets are equal or not, no partial overlap) and flags
  as categories;

Each side: the minimum wall and CPU time of ``--repeats`` (3) runs, BLAS threads
pinned to one for both.
* ``pipeline_s``: the whole ``analyze_profiles`` (Gower, TF-IDF text distance, combined
  distance, distinctiveness, SHI, average-linkage groups with silhouette choice, MDS map
  by classical scaling + capped SMACOF, white space, communications).

Accuracy: maximum absolute difference between the two Gower matrices on the columns
whose semantics agree (numeric, ordinal ranks, categories, flags treated symmetrically),
and the adjusted Rand index of recovered versus planted groups.

Usage: ``python benchmarks/landscape.py [--quick]`` (quick: 500 firms).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path

import gower
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from _common import best_of, load_avg, machine, pin_threads, table_row, version
from levelfield.landscape import analyze_profiles, gower_matrix, make_market, profiles_from_frame


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peer_frame(df: pd.DataFrame, types: dict[str, str]) -> tuple[pd.DataFrame, np.ndarray]:
    """What ``gower`` needs from the raw strings: numbers, ordinal ranks, category strings.

    Sets, flags and categories stay strings (``gower`` compares them as categories:
    two sets are equal or not, no partial overlap).
    """
    cols, cat = {}, []
    for name, kind in types.items():
        if kind == "numeric":
            cols[name] = pd.to_numeric(df[name]).astype(float)
        elif kind.startswith("ordinal("):
            levels = kind[len("ordinal(") : -1].split("<")
            cols[name] = df[name].map({v: float(i) for i, v in enumerate(levels)})
        else:
            cols[name] = df[name].astype(object)
        cat.append(kind in ("category", "set", "flag"))
    return pd.DataFrame(cols), np.array(cat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 firms instead of 5,000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (min is kept)")
    args = parser.parse_args()
    threads = pin_threads()
    load_before = load_avg()
    n = 500 if args.quick else 5000
    df, types, planted = make_market(n, 6, n_attributes=20, noise=0.1, text_words=8, seed=42)
    attr_types = {k: v for k, v in types.items() if k in df.columns}

    def ours_run() -> np.ndarray:
        # from the raw frame of strings, as the peer gets it: typing + parsing included
        return gower_matrix(profiles_from_frame(df, types).attributes)[0]

    def peer_run() -> np.ndarray:
        frame, cat = peer_frame(df, attr_types)
        return gower.gower_matrix(frame, cat_features=cat)

    ours, ours_s, ours_cpu = best_of(ours_run, args.repeats)
    peer, peer_s, peer_cpu = best_of(peer_run, args.repeats)
    profiles = profiles_from_frame(df, types)
    attrs = profiles.attributes

    # accuracy on the columns with the same semantics (ordinal ranks as numbers)
    same = [a for a in attrs if a.kind in ("numeric", "ordinal", "category", "flag")]
    ours_same, _ = gower_matrix(same, asymmetric_flags=False)
    cols = []
    for a in same:
        if a.kind in ("numeric", "ordinal"):
            cols.append(a.values.astype(object))
        else:
            cols.append(df[a.name].astype(object).to_numpy())
    peer_same = gower.gower_matrix(
        np.column_stack(cols), cat_features=np.array([a.kind in ("category", "flag") for a in same])
    )
    max_abs_diff = float(np.abs(ours_same - peer_same).max())
    del ours, peer, ours_same, peer_same

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t0 = time.perf_counter()
        result = analyze_profiles(profiles, text_method="tfidf")
        pipeline_s = time.perf_counter() - t0
    ari = float(adjusted_rand_score(planted, result.firms["group"]))

    env = machine(load_before)
    out = {
        "n": n,
        "attributes": len(attrs),
        "repeats": args.repeats,
        "timing": "min wall and min CPU time per side; both start from the same raw frame "
        "of strings (ours: profiles_from_frame + gower_matrix; peer: to_numeric, ordinal "
        "ranks + gower_matrix)",
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ratio": round(peer_s / ours_s, 2),
        "ours_cpu_s": round(ours_cpu, 3),
        "peer_cpu_s": round(peer_cpu, 3),
        "cpu_ratio": round(peer_cpu / ours_cpu, 2),
        "peer": f"gower {version('gower')} gower_matrix",
        "peer_semantics": "gower treats set attributes as categories (equal or not); "
        "levelfield uses Jaccard on sets and asymmetric flags, so the timed matrices differ "
        "on those columns; agreement is measured on the columns whose semantics agree",
        "pipeline_s": round(pipeline_s, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "gower_max_abs_diff_vs_peer": max_abs_diff,
        "groups_found": result.n_groups,
        "adjusted_rand_planted_groups": round(ari, 4),
        "map_stress1": round(result.stress, 4),
        "map_note": "classical MDS (Lanczos eigsh) start, then SMACOF capped at "
        "max(30, 1e8/n^2) iterations",
        "shi": round(result.shi, 1),
        **env,
        "threads": threads,
        "quick": bool(args.quick),
    }
    load = (env["load_avg_1min_before"], env["load_avg_1min_after"])
    out["table"] = [
        table_row(
            "Gower distances, from the raw frame (parsing included)",
            f"{n:,} firms x {len(attrs)} attributes",
            out["peer"],
            out["ratio"],
            out["cpu_ratio"],
            f"max abs diff {max_abs_diff:.1e} on the 16 columns of equal semantics",
            load,
            "gower treats set attributes as categories; levelfield uses Jaccard",
        )
    ]
    if not args.quick:
        path = Path(__file__).resolve().parent / "results" / "landscape.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
