"""Benchmark: the landscape pipeline on 5,000 firms, and Gower versus the `gower` package.

Data: ``make_market`` with 5,000 firms, 20 mixed attributes (numeric, ordinal,
category, multi-label set, flag; 4 of each) in 6 planted groups and short texts.

Timed in one run on the same data:

* ``ours_s``: levelfield's Gower matrix over all 20 attributes (Jaccard for sets,
  asymmetric flags);
* ``peer_s``: ``gower.gower_matrix`` over the same 20 columns (its semantics: sets as
  category strings, flags and ordinals as categories/numbers);
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
from sklearn.metrics import adjusted_rand_score

from levelfield.landscape import analyze_profiles, gower_matrix, make_market, profiles_from_frame


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 firms instead of 5,000")
    args = parser.parse_args()
    n = 500 if args.quick else 5000
    df, types, planted = make_market(n, 6, n_attributes=20, noise=0.1, text_words=8, seed=42)
    profiles = profiles_from_frame(df, types)
    attrs = profiles.attributes

    t0 = time.perf_counter()
    ours, _ = gower_matrix(attrs)
    ours_s = time.perf_counter() - t0

    peer_in = np.column_stack(
        [
            a.values.astype(object) if a.kind in ("numeric", "ordinal") else df[a.name].to_numpy()
            for a in attrs
        ]
    ).astype(object)
    cat = np.array([a.kind in ("category", "set", "flag") for a in attrs])
    t0 = time.perf_counter()
    peer = gower.gower_matrix(peer_in, cat_features=cat)
    peer_s = time.perf_counter() - t0

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

    out = {
        "n": n,
        "attributes": len(attrs),
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ratio": round(peer_s / ours_s, 2),
        "peer": f"gower {getattr(gower, '__version__', '0.1.2')} gower_matrix",
        "pipeline_s": round(pipeline_s, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "gower_max_abs_diff_vs_peer": max_abs_diff,
        "groups_found": result.n_groups,
        "adjusted_rand_planted_groups": round(ari, 4),
        "map_stress1": round(result.stress, 4),
        "map_note": "classical MDS (Lanczos eigsh) start, then SMACOF capped at "
        "max(30, 1e8/n^2) iterations",
        "shi": round(result.shi, 1),
    }
    path = Path(__file__).resolve().parent / "results" / "landscape.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
