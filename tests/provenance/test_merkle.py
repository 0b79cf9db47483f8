"""RFC 6962 Merkle tree: the Certificate Transparency test vectors, and properties.

The vectors are those of transparency-dev/merkle, ``proof/verify_test.go`` at commit
02194e9afb6c1d95b5381350007963aa70fff472 (``leaves``, ``roots``, ``inclusionProofs``,
``consistencyProofs``), which carry over google/certificate-transparency's
``merkle_tree_test.cc`` vectors; the corrupted probes follow its
``corruptInclusionProof`` / ``corruptConsistencyProof``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levelfield.errors import ConfigError
from levelfield.provenance import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    leaf_hashes,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
    verify_inclusion_batch,
)

H = bytes.fromhex
LEAVES = [
    H(x)
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    H(x)
    for x in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
# (leaf number, 1-based as in the Go file; tree size; audit path)
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
SOME_HASH = H("abacaba000000000000000000000000000000000000000000060061e00123456")


def _tree(n: int = 8) -> MerkleTree:
    return MerkleTree([leaf_hash(x) for x in LEAVES[:n]])


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert (
        MerkleTree().root()
        == EMPTY_ROOT
        == H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_vector_roots(size: int) -> None:
    assert _tree(size).root() == ROOTS[size - 1]
    assert _tree().root(size) == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_ct_vector_inclusion_proofs(leaf: int, size: int, path: list[str]) -> None:
    proof = [H(p) for p in path]
    assert _tree().inclusion_proof(leaf - 1, size) == proof
    lh = leaf_hash(LEAVES[leaf - 1])
    assert verify_inclusion(lh, leaf - 1, size, proof, ROOTS[size - 1])


def _corrupted_inclusion(i: int, n: int, proof: list[bytes], root: bytes, lh: bytes):  # type: ignore[no-untyped-def]
    probes = [
        (i - 1, n, root, lh, proof),
        (i + 1, n, root, lh, proof),
        (i ^ 2, n, root, lh, proof),
        (i, n * 2, root, lh, proof),
        (i, n // 2, root, lh, proof),
        (i, n, root, b"WrongLeaf", proof),
        (i, n, EMPTY_ROOT, lh, proof),
        (i, n, SOME_HASH, lh, proof),
        (i, n, root, lh, [*proof, b""]),
        (i, n, root, lh, [*proof, root]),
        (i, n, root, lh, [b"", *proof]),
        (i, n, root, lh, [root, *proof]),
    ]
    for k in range(len(proof)):
        wrong = list(proof)
        wrong[k] = bytes([wrong[k][0] ^ 8]) + wrong[k][1:]
        probes.append((i, n, root, lh, wrong))
    if proof:
        probes.append((i, n, root, lh, proof[:-1]))
    if len(proof) > 1:
        probes.append((i, n, root, lh, [proof[0], SOME_HASH, *proof[1:]]))
    return probes


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION[1:])
def test_ct_vector_corrupted_inclusion_proofs_fail(leaf: int, size: int, path: list[str]) -> None:
    proof = [H(p) for p in path]
    lh = leaf_hash(LEAVES[leaf - 1])
    for index, n, root, leaf_h, p in _corrupted_inclusion(
        leaf - 1, size, proof, ROOTS[size - 1], lh
    ):
        assert not verify_inclusion(leaf_h, index, n, p, root), (index, n)


@pytest.mark.parametrize(("size1", "size2", "path"), CONSISTENCY)
def test_ct_vector_consistency_proofs(size1: int, size2: int, path: list[str]) -> None:
    proof = [H(p) for p in path]
    assert _tree().consistency_proof(size1, size2) == proof
    assert verify_consistency(size1, size2, proof, ROOTS[size1 - 1], ROOTS[size2 - 1])


@pytest.mark.parametrize(("size1", "size2", "path"), CONSISTENCY[1:])
def test_ct_vector_corrupted_consistency_proofs_fail(
    size1: int, size2: int, path: list[str]
) -> None:
    proof = [H(p) for p in path]
    r1, r2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    probes = [
        (size1 - 1, size2, r1, r2, proof),
        (size1 + 1, size2, r1, r2, proof),
        (size1 ^ 2, size2, r1, r2, proof),
        (size1, size2 * 2, r1, r2, proof),
        (size1, size2 // 2, r1, r2, proof),
        (size1, size2, b"WrongRoot", r2, proof),
        (size1, size2, r1, b"WrongRoot", proof),
        (size1, size2, r2, r1, proof),
        (size1, size2, r1, r2, []),
        (size1, size2, r1, r2, [*proof, b""]),
        (size1, size2, r1, r2, [*proof, r1]),
        (size1, size2, r1, r2, [*proof, r2]),
        (size1, size2, r1, r2, [b"", *proof]),
        (size1, size2, r1, r2, [r1, *proof]),
        (size1, size2, r1, r2, [r2, *proof]),
        (size1, size2, r1, r2, [proof[0], *proof]),
        (size1, size2, r1, r2, proof[:-1]),
    ]
    for k in range(len(proof)):
        wrong = list(proof)
        wrong[k] = bytes([wrong[k][0] ^ 16]) + wrong[k][1:]
        probes.append((size1, size2, r1, r2, wrong))
    for s1, s2, a, b, p in probes:
        assert not verify_consistency(s1, s2, p, a, b), (s1, s2)


def test_ct_consistency_edge_cases() -> None:
    # transparency-dev/merkle TestVerifyConsistency table
    r1, r2 = b"don't care 1", b"don't care 2"
    assert not verify_consistency(0, 0, [], r1, r2)
    assert not verify_consistency(1, 1, [], r1, r2)
    assert verify_consistency(0, 0, [], r1, r1)
    assert verify_consistency(0, 1, [], r1, r2)
    assert verify_consistency(1, 1, [], r2, r2)
    assert not verify_consistency(1, 0, [], r1, r2)
    assert not verify_consistency(2, 1, [], r1, r2)
    assert not verify_consistency(1, 2, [], r1, r2)
    assert not verify_consistency(0, 0, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT)
    assert not verify_consistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT)


def test_single_entry_inclusion_edge_cases() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], h)
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert root_from_inclusion_proof(SOME_HASH, index, size, []) is None


def _reference_root(hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written recursively as in the RFC (an independent oracle)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(
        b"\x01" + _reference_root(hashes[:k]) + _reference_root(hashes[k:])
    ).digest()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 70), st.integers(0, 70), st.data())
def test_incremental_extend_proofs_and_consistency(n: int, cut: int, data: st.DataObject) -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    cut = min(cut, n)
    tree = MerkleTree(hashes[:cut])
    tree.extend(hashes[cut:])
    assert tree.root() == _reference_root(hashes) == MerkleTree(hashes).root()
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index, size)
    assert verify_inclusion(hashes[index], index, size, proof, _reference_root(hashes[:size]))
    old = data.draw(st.integers(0, size))
    old_root = _reference_root(hashes[:old]) if old else EMPTY_ROOT
    assert verify_consistency(
        old, size, tree.consistency_proof(old, size), old_root, tree.root(size)
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.data())
def test_batch_proofs_match_single_and_batch_verify_catches_any_flip(
    n: int, data: st.DataObject
) -> None:
    hashes = np.frombuffer(
        b"".join(leaf_hash(i.to_bytes(4, "big")) for i in range(n)), np.uint8
    ).reshape(n, 32)
    tree = MerkleTree(hashes)
    idx = np.arange(n)
    proofs, present = tree.inclusion_proofs(idx)
    for i in data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=5)):
        assert [bytes(p) for p in proofs[:, i][present[:, i]]] == tree.inclusion_proof(i)
    assert verify_inclusion_batch(hashes, idx, n, proofs, tree.root()).all()
    if present.any():
        levels, rows = np.nonzero(present)
        pick = data.draw(st.integers(0, len(rows) - 1))
        bad = proofs.copy()
        bad[levels[pick], rows[pick], data.draw(st.integers(0, 31))] ^= 1
        ok = verify_inclusion_batch(hashes, idx, n, bad, tree.root())
        assert not ok[rows[pick]] and ok.sum() < n


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.data())
def test_batch_verify_agrees_with_single_verify_on_subsets_and_tampering(
    n: int, data: st.DataObject
) -> None:
    """The shared-work batch verifier gives, row by row, the RFC 9162 single-proof answer."""
    hashes = leaf_hashes([i.to_bytes(4, "big") for i in range(n)])
    tree = MerkleTree(hashes)
    idx = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))), np.int64)
    proofs, present = tree.inclusion_proofs(idx)
    leaves = hashes[idx].copy()
    for _ in range(data.draw(st.integers(0, 4))):  # corrupt sibling bytes or leaves
        row = data.draw(st.integers(0, idx.size - 1))
        if data.draw(st.booleans()) and present[:, row].any():
            level = data.draw(st.sampled_from(np.flatnonzero(present[:, row]).tolist()))
            proofs[level, row, data.draw(st.integers(0, 31))] ^= 0x80
        else:
            leaves[row, data.draw(st.integers(0, 31))] ^= 0x01
    root = tree.root()
    single = [
        verify_inclusion(
            bytes(leaves[j]), int(i), n, [bytes(p) for p in proofs[:, j][present[:, j]]], root
        )
        for j, i in enumerate(idx)
    ]
    assert verify_inclusion_batch(leaves, idx, n, proofs, root).tolist() == single


def test_bad_sizes_are_config_errors() -> None:
    tree = _tree()
    with pytest.raises(ConfigError):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ConfigError):
        tree.root(9)
    with pytest.raises(ConfigError):
        tree.consistency_proof(5, 4)
    with pytest.raises(ConfigError):
        MerkleTree([b"short"])


def test_inclusion_proofs_fill_a_reused_buffer_or_refuse_a_wrong_one() -> None:
    tree = MerkleTree(leaf_hashes([bytes([i]) for i in range(100)]))
    idx = np.arange(10, 20)
    fresh, present = tree.inclusion_proofs(idx)
    buf = np.full_like(fresh, 0xAB)
    filled, present2 = tree.inclusion_proofs(idx, out=buf)
    assert filled is buf
    assert np.array_equal(filled, fresh)
    assert np.array_equal(present, present2)
    with pytest.raises(ConfigError, match="C-contiguous"):
        tree.inclusion_proofs(idx, out=buf[:, :5])
