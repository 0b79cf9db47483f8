"""Benchmark: append and prove 1M provenance entries, levelfield vs a plain Python tree.

Both sides get the same 1,000,000 canonical JSON entries (RFC 8785 bytes of lot
entries, ~170 bytes each) and build the same RFC 6962 tree (same root, checked), then
produce an inclusion proof for every entry and verify every proof against the root
(checked: all verify on both sides, and sampled proofs are identical).

* peer: a plain Python implementation (``hashlib``, lists): appends one entry at a
  time, keeping each level as a list of 32-byte ``bytes``; a proof is the list of
  siblings read level by level; verification folds each proof with the RFC 9162
  algorithm (one SHA-256 per level).
* ours: :class:`levelfield.provenance.MerkleTree` (levels as ``uint8`` arrays, appends
  in batches of 4,096 entries, recomputing only the right edge), proofs gathered for
  65,536 leaves at a time with array indexing into one reused buffer, and
  :func:`levelfield.provenance.verify_inclusion_batch`, which folds every proof exactly
  but hashes each distinct (left, right) pair once.

SHA-256 itself is the same call on both sides (OpenSSL through ``hashlib``). Proof
generation and verification (the headline ``ratio``) are where the layout and the
shared work pay; append is bound by the leaf and node hashes both sides must compute,
so its ratio is reported apart (``append_ratio``), with the total of all three
(``total_ratio``). Each side runs ``--repeats`` (3) times; each phase keeps its minimum
wall and minimum CPU time; BLAS threads are pinned to one for both sides.

Writes ``benchmarks/results/provenance.json``. ``--quick`` runs 65,536 entries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from _common import load_avg, machine, pin_threads, table_row
from levelfield.provenance import (
    MerkleTree,
    canonicalize,
    leaf_hashes,
    verify_inclusion_batch,
)

CHUNK = 65_536
APPEND_BATCH = 4_096
T = TypeVar("T")


class PlainMerkleTree:
    """RFC 6962 tree in plain Python: lists of ``bytes`` per level, hashlib."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    def append(self, entry: bytes) -> None:
        sha = hashlib.sha256
        node = sha(b"\x00" + entry).digest()
        k = 0
        while True:
            level = self.levels[k]
            level.append(node)
            if len(level) % 2:
                return
            node = sha(b"\x01" + level[-2] + node).digest()
            k += 1
            if k == len(self.levels):
                self.levels.append([])

    def seal(self) -> None:
        """Carry the right edge up (odd last nodes move up unchanged) so every level is whole."""
        sha = hashlib.sha256
        k = 0
        while k < len(self.levels) - 1 or len(self.levels[k]) > 1:
            level = self.levels[k]
            if k + 1 == len(self.levels):
                self.levels.append([])
            above = self.levels[k + 1]
            want = (len(level) + 1) // 2
            del above[len(level) // 2 :]
            while len(above) < want:
                j = len(above)
                above.append(
                    level[2 * j]
                    if 2 * j + 1 == len(level)
                    else sha(b"\x01" + level[2 * j] + level[2 * j + 1]).digest()
                )
            k += 1

    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index >>= 1
        return path


def plain_verify(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, one proof at a time."""
    sha = hashlib.sha256
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def entries(n: int) -> list[bytes]:
    countries = ["CO", "ET", "PE", "GT", "KE", "BR", "HN", "ID"]
    return [
        canonicalize(
            {
                "v": 1,
                "seq": i,
                "kind": "lot",
                "lot": f"G-{i:07d}",
                "product": "Green coffee",
                "quantity": 60 + i % 7,
                "unit": "kg",
                "date": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "origin": {"country": countries[i % 8], "producer": f"Farm {i % 997}"},
            }
        )
        for i in range(n)
    ]


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def run_peer(data: list[bytes]) -> dict[str, Any]:
    tree = PlainMerkleTree()

    def append() -> None:
        for e in data:
            tree.append(e)
        tree.seal()

    _, append_s, append_cpu = timed(append)
    root, n = tree.root(), len(data)
    leaves = tree.levels[0]
    prove_s = verify_s = prove_cpu = verify_cpu = 0.0
    all_ok, sample = True, {}
    for start in range(0, n, CHUNK):
        idx = range(start, min(n, start + CHUNK))
        proofs, ps, pc = timed(lambda idx=idx: [tree.proof(i) for i in idx])
        oks, vs, vc = timed(
            lambda idx=idx, proofs=proofs: [
                plain_verify(leaves[i], i, n, p, root) for i, p in zip(idx, proofs, strict=True)
            ]
        )
        prove_s, prove_cpu, verify_s, verify_cpu = (
            prove_s + ps,
            prove_cpu + pc,
            verify_s + vs,
            verify_cpu + vc,
        )
        all_ok &= all(oks)
        sample[start] = proofs[0]
    return {
        "root": root,
        "append_s": append_s,
        "append_cpu_s": append_cpu,
        "prove_s": prove_s,
        "prove_cpu_s": prove_cpu,
        "verify_s": verify_s,
        "verify_cpu_s": verify_cpu,
        "all_ok": all_ok,
        "sample": sample,
    }


def run_ours(data: list[bytes]) -> dict[str, Any]:
    tree = MerkleTree()

    def append() -> None:
        for start in range(0, len(data), APPEND_BATCH):
            tree.extend(leaf_hashes(data[start : start + APPEND_BATCH]))

    _, append_s, append_cpu = timed(append)
    root, n = tree.root(), len(data)
    leaves = tree._levels[0]
    prove_s = verify_s = prove_cpu = verify_cpu = 0.0
    all_ok, sample = True, {}
    depth, buf = len(tree._levels) - 1, None  # one proof buffer, reused by every batch
    for start in range(0, n, CHUNK):
        idx = np.arange(start, min(n, start + CHUNK))
        if buf is None or buf.shape[1] != idx.size:
            buf = np.empty((depth, idx.size, 32), np.uint8)
        (proofs, present), ps, pc = timed(
            lambda idx=idx, buf=buf: tree.inclusion_proofs(idx, out=buf)
        )
        oks, vs, vc = timed(
            lambda idx=idx, proofs=proofs: verify_inclusion_batch(leaves[idx], idx, n, proofs, root)
        )
        prove_s, prove_cpu, verify_s, verify_cpu = (
            prove_s + ps,
            prove_cpu + pc,
            verify_s + vs,
            verify_cpu + vc,
        )
        all_ok &= bool(oks.all())
        sample[start] = [bytes(p) for p in proofs[:, 0][present[:, 0]]]
    return {
        "root": root,
        "append_s": append_s,
        "append_cpu_s": append_cpu,
        "prove_s": prove_s,
        "prove_cpu_s": prove_cpu,
        "verify_s": verify_s,
        "verify_cpu_s": verify_cpu,
        "all_ok": all_ok,
        "sample": sample,
    }


PHASES = ("append", "prove", "verify")


def best_runs(run: Callable[[list[bytes]], dict[str, Any]], data: list[bytes], repeats: int):
    """Min wall and min CPU time of each phase over ``repeats`` full runs."""
    runs = [run(data) for _ in range(repeats)]
    best = dict(runs[-1])
    for phase in PHASES:
        best[f"{phase}_s"] = min(r[f"{phase}_s"] for r in runs)
        best[f"{phase}_cpu_s"] = min(r[f"{phase}_cpu_s"] for r in runs)
    best["all_ok"] = all(r["all_ok"] for r in runs)
    return best


def ratios(ours: dict[str, Any], peer: dict[str, Any], phases: tuple[str, ...], cpu: bool) -> float:
    key = "_cpu_s" if cpu else "_s"
    return sum(peer[p + key] for p in phases) / sum(ours[p + key] for p in phases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="65,536 entries")
    parser.add_argument("-n", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (min is kept)")
    args = parser.parse_args()
    n = args.n or (CHUNK if args.quick else 1_000_000)
    threads = pin_threads()
    load_before = load_avg()
    data = entries(n)
    ours = best_runs(run_ours, data, args.repeats)
    peer = best_runs(run_peer, data, args.repeats)
    env = machine(load_before)
    if ours["root"] != peer["root"] or ours["sample"] != peer["sample"]:
        raise SystemExit("ours and the peer disagree on the tree: benchmark invalid")
    if not (ours["all_ok"] and peer["all_ok"]):
        raise SystemExit("a proof did not verify: benchmark invalid")
    pv, allp = ("prove", "verify"), PHASES
    out: dict[str, Any] = {
        "n": n,
        "what": "inclusion-proof generation + verification of every entry (ratio); "
        "append + prove + verify (total_ratio)",
        "repeats": args.repeats,
        "timing": "each phase: min wall and min CPU time over the repeats, per side",
        "ours_s": round(ours["prove_s"] + ours["verify_s"], 3),
        "peer_s": round(peer["prove_s"] + peer["verify_s"], 3),
        "ratio": round(ratios(ours, peer, pv, False), 2),
        "cpu_ratio": round(ratios(ours, peer, pv, True), 2),
        "total_ours_s": round(sum(ours[p + "_s"] for p in allp), 3),
        "total_peer_s": round(sum(peer[p + "_s"] for p in allp), 3),
        "total_ratio": round(ratios(ours, peer, allp, False), 2),
        "total_cpu_ratio": round(ratios(ours, peer, allp, True), 2),
    }
    for phase in PHASES:
        for side, res in (("ours", ours), ("peer", peer)):
            out[f"{phase}_{side}_s"] = round(res[f"{phase}_s"], 3)
            out[f"{phase}_{side}_cpu_s"] = round(res[f"{phase}_cpu_s"], 3)
        out[f"{phase}_ratio"] = round(ratios(ours, peer, (phase,), False), 2)
        out[f"{phase}_cpu_ratio"] = round(ratios(ours, peer, (phase,), True), 2)
    out["proofs_per_s_ours"] = round(n / out["ours_s"])
    out["proofs_per_s_peer"] = round(n / out["peer_s"])
    out["root"] = ours["root"].hex()
    out["agreement"] = "same root; every proof verifies on both sides; sampled proofs identical"
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out.update(env)
    out["threads"] = threads
    out["peer"] = "plain Python (hashlib, lists), same tree, one proof at a time"
    out["quick"] = bool(args.quick)
    load = (env["load_avg_1min_before"], env["load_avg_1min_after"])
    size = f"{n:,} entries"
    peer_name = "plain Python Merkle tree (hashlib, same tree)"
    agree = "same root, all proofs verify, sampled proofs identical"
    out["table"] = [
        table_row(
            "provenance: inclusion proofs + verification of every entry",
            size,
            peer_name,
            out["ratio"],
            out["cpu_ratio"],
            agree,
            load,
            f"proofs {out['prove_ratio']}x, verify {out['verify_ratio']}x",
        ),
        table_row(
            "provenance: append + prove + verify",
            size,
            peer_name,
            out["total_ratio"],
            out["total_cpu_ratio"],
            agree,
            load,
            f"append alone {out['append_ratio']}x (hash-bound: same SHA-256 calls)",
        ),
    ]
    print(json.dumps(out, indent=2))
    if not args.quick and args.n is None:
        path = Path(__file__).parent / "results" / "provenance.json"
        path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
