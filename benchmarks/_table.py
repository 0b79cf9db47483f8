"""Generate ``benchmarks/results/SUMMARY.md`` and the README's benchmark table from the JSON.

``make bench`` runs every benchmark, then this script: each ``results/*.json`` gives
one or more rows. A result written by the current benchmarks carries a ``table`` list
(``_common.table_row``); an older result without it is read field by field (``ratio``,
``cpu_ratio`` or the CPU seconds of both sides, ``peer``/``peer_version``, fields
named ``*diff*``, ``load_avg*``), and whatever it did not record is written as "not
recorded", never guessed. The README's table between ``<!-- bench-table:start -->`` and
``<!-- bench-table:end -->`` is replaced by the same rows, so no figure there is typed.

    python benchmarks/_table.py            # write SUMMARY.md and update README.md
    python benchmarks/_table.py --check    # exit 1 if README.md is not up to date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
#: The order of the table (other result files follow, alphabetically).
ORDER = (
    "ingest",
    "summary",
    "clv",
    "landscape",
    "exposure",
    "pricing",
    "scenarios",
    "financing",
    "cooperation",
    "provenance",
    "web_load",
    "web_load-quick",
    "fleet",
    "fleet-quick",
)
NR = "not recorded"
#: What each older result file measures (the newer ones name their rows themselves).
LABELS = {
    "ingest": "import a Shopify export",
    "summary": "per-customer summary (frequency, recency, T, monetary)",
    "clv": "BG/NBD + Gamma-Gamma fits",
    "clv: bgnbd": "BG/NBD fit",
    "clv: gamma_gamma": "Gamma-Gamma fit",
    "landscape": "Gower distances",
    "exposure": "exposure metrics",
    "pricing": "fixed-effects elasticity, product-clustered SEs",
    "pricing: linearmodels": "same, linearmodels",
    "pricing: statsmodels_reference": "same, textbook reference (subset)",
    "scenarios": "Monte Carlo P&L",
    "financing": "APR bands of sales-linked credit offers",
    "cooperation": "cooperative buying: Shapley cost shares",
    "cooperation: exact": "exact Shapley cost shares",
    "cooperation: sampled": "sampled Shapley cost shares",
    "provenance": "provenance: prove + verify every entry",
    "web_load": "web app, 20 users",
    "fleet-quick": "fleet: peer benchmarks per business (quick run)",
}


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _cpu_ratio(d: dict[str, Any]) -> float | None:
    for key in ("cpu_ratio", "ratio_cpu"):
        if _num(d.get(key)) is not None:
            return _num(d[key])
    pairs = (("peer_cpu_s", "ours_cpu_s"), ("cpu_s_peer", "cpu_s_ours"))
    for peer, ours in pairs:
        p, o = _num(d.get(peer)), _num(d.get(ours))
        if p is not None and o:
            return p / o
    return None


def _load(d: dict[str, Any]) -> str:
    vals = []
    for key, v in d.items():
        if key.startswith("load_avg"):
            vals += [x for x in (v if isinstance(v, list) else [v])[:1] if _num(x) is not None]
    return "–".join(f"{x:.1f}" for x in vals) if vals else NR


def _agreement(d: dict[str, Any]) -> str:
    bits = [
        f"{k} {v:.2g}"
        for k, v in d.items()
        if ("diff" in k or "rel_error" in k) and _num(v) is not None and "full_over" not in k
    ]
    if isinstance(d.get("agreement"), str):
        bits.insert(0, d["agreement"])
    return "; ".join(bits[:3]) or NR


def _peer(d: dict[str, Any], parent: dict[str, Any]) -> str:
    peer = str(d.get("peer") or parent.get("peer") or NR)
    version = d.get("peer_version") or (parent.get("peer_version") if "peer" not in d else None)
    return f"{peer} ({version})" if version and str(version) not in peer else peer


def _size(d: dict[str, Any], parent: dict[str, Any]) -> str:
    if isinstance(d.get("subset_rows"), int):
        return f"{d['subset_rows']:,} rows (subset)"
    if isinstance(d.get("members"), int) and isinstance(d.get("items"), int):
        return f"{d['members']:,} members x {d['items']:,} items"
    n = d.get("n", parent.get("n"))
    return f"n = {n:,}" if isinstance(n, int) else NR


def _derived_rows(name: str, d: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a result written before the ``table`` field: read, never guessed."""
    subs = [
        _row(f"{name}: {key}", sub, d)
        for key, sub in d.items()
        if isinstance(sub, dict) and _num(sub.get("ratio")) is not None
    ]
    top = _num(d.get("ratio"))
    # a headline that only repeats one of its parts is that part
    if top is None or any(r["wall_ratio"] == top for r in subs):
        return subs
    return [_row(name, d, d), *subs]


def _row(what: str, d: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    repeats = d.get("repeat", d.get("repeats", parent.get("repeat", parent.get("repeats"))))
    note = [] if repeats else ["runs per side not recorded"]
    if parent.get("quick"):
        note.append("quick run")
    return {
        "what": LABELS.get(what, what),
        "size": _size(d, parent),
        "peer": _peer(d, parent),
        "wall_ratio": _num(d.get("ratio")),
        "cpu_ratio": _cpu_ratio(d),
        "agreement": _agreement(d),
        "load": _load(d) if _load(d) != NR else _load(parent),
        "note": ", ".join(note),
    }


def rows() -> list[dict[str, Any]]:
    files = sorted(RESULTS.glob("*.json"))
    rank = {name: i for i, name in enumerate(ORDER)}
    files.sort(key=lambda p: (rank.get(p.stem, len(ORDER)), p.stem))
    out = []
    for path in files:
        d = json.loads(path.read_text())
        if "table" in d:
            for r in d["table"]:
                load = r.get("load_avg_1min") or []
                out.append({**r, "load": "–".join(f"{x:.1f}" for x in load) or NR})
        else:
            out.extend(_derived_rows(path.stem, d))
    return out


def _ratio(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(table: list[dict[str, Any]], full: bool) -> str:
    head = ["what", "size", "peer", "wall ratio", "CPU ratio", "result / agreement", "load avg"]
    if full:
        head.append("note")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        cells = [
            r["what"],
            r["size"],
            r["peer"],
            _ratio(r["wall_ratio"]),
            _ratio(r["cpu_ratio"]),
            r["agreement"],
            r["load"],
        ]
        if full:
            cells.append(r.get("note", ""))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


INTRO = """# Benchmark summary (generated)

Generated by `python benchmarks/_table.py` (the last step of `make bench`) from
`benchmarks/results/*.json`; do not edit by hand. Ratio = peer time / levelfield time
(above 1: levelfield is faster), wall clock and CPU time, each side's minimum over its
runs where the JSON records repeats. Load average: 1-minute, before–after, on a
2-core machine shared with other work; wall ratios move with it, CPU ratios less.
"not recorded" marks what an older result file did not measure.

"""


def readme_block(table: list[dict[str, Any]]) -> str:
    return (
        f"{START}\n"
        "<!-- generated by benchmarks/_table.py from benchmarks/results/*.json -->\n"
        + markdown(table, full=False)
        + END
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = ap.parse_args()
    table = rows()
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {START} ... {END} block")
    new = pattern.sub(lambda _m: readme_block(table), text)
    if args.check:
        sys.exit(0 if new == text else 1)
    (RESULTS / "SUMMARY.md").write_text(INTRO + markdown(table, full=True), encoding="utf-8")
    README.write_text(new, encoding="utf-8")
    print(f"wrote {RESULTS / 'SUMMARY.md'} ({len(table)} rows) and the README table")


if __name__ == "__main__":
    main()
