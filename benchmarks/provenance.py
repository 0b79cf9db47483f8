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
  65,536 leaves at a time with array indexing, and
  :func:`levelfield.provenance.verify_inclusion_batch`, which folds every proof exactly
  but hashes each distinct (left, right) pair once.

SHA-256 itself is the same call on both sides (OpenSSL through ``hashlib``). Proof
generation and verification (the headline ``ratio``) are where the layout and the
shared work pay; append is bound by the leaf and node hashes both sides must compute,
so its ratio is reported apart (``append_ratio``), with the total.

Writes ``benchmarks/results/provenance.json``. ``--quick`` runs 65,536 entries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from levelfield.provenance import (
    MerkleTree,
    canonicalize,
    leaf_hash,
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
            batch = data[start : start + APPEND_BATCH]
            digests = b"".join([leaf_hash(e) for e in batch])
            tree.extend(np.frombuffer(digests, np.uint8).reshape(-1, 32))

    _, append_s, append_cpu = timed(append)
    root, n = tree.root(), len(data)
    leaves = tree._levels[0]
    prove_s = verify_s = prove_cpu = verify_cpu = 0.0
    all_ok, sample = True, {}
    for start in range(0, n, CHUNK):
        idx = np.arange(start, min(n, start + CHUNK))
        (proofs, present), ps, pc = timed(lambda idx=idx: tree.inclusion_proofs(idx))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="65,536 entries")
    parser.add_argument("-n", type=int, default=None)
    args = parser.parse_args()
    n = args.n or (CHUNK if args.quick else 1_000_000)
    load_before = os.getloadavg()
    data = entries(n)
    ours = run_ours(data)
    peer = run_peer(data)
    load_after = os.getloadavg()
    if ours["root"] != peer["root"] or ours["sample"] != peer["sample"]:
        raise SystemExit("ours and the peer disagree on the tree: benchmark invalid")
    if not (ours["all_ok"] and peer["all_ok"]):
        raise SystemExit("a proof did not verify: benchmark invalid")
    ours_s = ours["prove_s"] + ours["verify_s"]
    peer_s = peer["prove_s"] + peer["verify_s"]
    out = {
        "n": n,
        "what": "inclusion-proof generation + verification of every entry (ratio); append apart",
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ratio": round(peer_s / ours_s, 2),
        "prove_ours_s": round(ours["prove_s"], 3),
        "prove_peer_s": round(peer["prove_s"], 3),
        "prove_ratio": round(peer["prove_s"] / ours["prove_s"], 2),
        "verify_ours_s": round(ours["verify_s"], 3),
        "verify_peer_s": round(peer["verify_s"], 3),
        "verify_ratio": round(peer["verify_s"] / ours["verify_s"], 2),
        "append_ours_s": round(ours["append_s"], 3),
        "append_peer_s": round(peer["append_s"], 3),
        "append_ratio": round(peer["append_s"] / ours["append_s"], 2),
        "total_ratio": round((peer_s + peer["append_s"]) / (ours_s + ours["append_s"]), 2),
        "proofs_per_s_ours": round(n / ours_s),
        "proofs_per_s_peer": round(n / peer_s),
        "cpu_s_ours": round(ours["prove_cpu_s"] + ours["verify_cpu_s"], 3),
        "cpu_s_peer": round(peer["prove_cpu_s"] + peer["verify_cpu_s"], 3),
        "cpu_ratio": round(
            (peer["prove_cpu_s"] + peer["verify_cpu_s"])
            / (ours["prove_cpu_s"] + ours["verify_cpu_s"]),
            2,
        ),
        "prove_cpu_ratio": round(peer["prove_cpu_s"] / ours["prove_cpu_s"], 2),
        "verify_cpu_ratio": round(peer["verify_cpu_s"] / ours["verify_cpu_s"], 2),
        "append_cpu_s_ours": round(ours["append_cpu_s"], 3),
        "append_cpu_s_peer": round(peer["append_cpu_s"], 3),
        "append_cpu_ratio": round(peer["append_cpu_s"] / ours["append_cpu_s"], 2),
        "root": ours["root"].hex(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg_1min_before": round(load_before[0], 2),
        "load_avg_1min_after": round(load_after[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "peer": "plain Python (hashlib, lists), same tree, one proof at a time",
        "quick": bool(args.quick),
    }
    print(json.dumps(out, indent=2))
    if not args.quick and args.n is None:
        path = Path(__file__).parent / "results" / "provenance.json"
        path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
