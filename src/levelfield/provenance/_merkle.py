"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves splits at the largest
power of two below ``n``. Stored level by level, that tree is the one where an odd last
node is carried up unchanged, which is how :class:`MerkleTree` keeps it: one
``(count, 32)`` ``uint8`` array per level, so proofs for many leaves are gathered with
array indexing instead of a Python loop per proof.

References
----------
B. Laurie, A. Langley, E. Kasper (2013). *Certificate Transparency*. RFC 6962, §2.1.
B. Laurie, E. Messeri, R. Stradling (2021). *Certificate Transparency Version 2.0*.
RFC 9162, §2.1.3 (inclusion) and §2.1.4 (consistency), verification algorithms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from levelfield.errors import ConfigError

__all__ = [
    "EMPTY_ROOT",
    "MerkleTree",
    "hash_rows",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
    "verify_inclusion_batch",
]

U8 = npt.NDArray[np.uint8]
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry.

    Examples
    --------
    The RFC 6962 hash of the empty leaf, ``SHA-256(0x00)``:

    >>> leaf_hash(b"").hex()
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
    """
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def hash_rows(prefix: int, rows: U8) -> U8:
    """SHA-256 of ``prefix || row`` for every row of a 2-D ``uint8`` array.

    One contiguous buffer, split into ``bytes`` messages by NumPy (a void dtype of the
    row width, ``tolist``): only the hash call itself stays in the Python loop.
    """
    m, width = rows.shape
    if m == 0:
        return np.zeros((0, 32), np.uint8)
    buf = np.empty((m, width + 1), np.uint8)
    buf[:, 0] = prefix
    buf[:, 1:] = rows
    messages: list[bytes] = buf.view(f"V{width + 1}").ravel().tolist()
    digests = b"".join([_sha256(msg).digest() for msg in messages])
    return np.frombuffer(digests, np.uint8).reshape(m, 32).copy()


def leaf_hashes(entries: Sequence[bytes]) -> U8:
    """:func:`leaf_hash` of many entries at once, as an ``(n, 32)`` ``uint8`` array."""
    if not entries:
        return np.zeros((0, 32), np.uint8)
    digests = b"".join([_sha256(b"\x00" + e).digest() for e in entries])
    return np.frombuffer(digests, np.uint8).reshape(-1, 32).copy()


def _parent_level(level: U8) -> U8:
    pairs = len(level) // 2
    parents = hash_rows(1, level[: 2 * pairs].reshape(pairs, 64))
    if len(level) % 2:
        parents = np.concatenate([parents, level[-1:]])
    return parents


def _level_sizes(size: int) -> list[int]:
    sizes = [size]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class MerkleTree:
    """An append-only RFC 6962 Merkle tree over leaf hashes.

    Parameters
    ----------
    leaf_hashes
        ``(n, 32)`` ``uint8`` array (or a sequence of 32-byte digests) of leaf hashes
        in log order, as :func:`leaf_hash` makes them.

    Examples
    --------
    >>> tree = MerkleTree([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
    >>> proof = tree.inclusion_proof(1)
    >>> verify_inclusion(leaf_hash(b"b"), 1, 3, proof, tree.root())
    True
    >>> verify_inclusion(leaf_hash(b"B"), 1, 3, proof, tree.root())
    False
    """

    def __init__(self, leaf_hashes: U8 | Sequence[bytes] = ()) -> None:
        # One growable buffer per level (capacity doubles), so appending in batches
        # costs the new nodes only, not a copy of the whole tree.
        self._store: list[U8] = [np.zeros((0, 32), np.uint8)]
        self._count: list[int] = [0]
        self.extend(leaf_hashes)

    @property
    def _levels(self) -> list[U8]:
        return [buf[:n] for buf, n in zip(self._store, self._count, strict=True)]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._count[0]

    def _write(self, k: int, at: int, rows: U8) -> None:
        if k == len(self._store):
            self._store.append(np.zeros((0, 32), np.uint8))
            self._count.append(0)
        need = at + len(rows)
        if need > len(self._store[k]):
            grown = np.zeros((max(need, 2 * len(self._store[k]), 1024), 32), np.uint8)
            grown[:at] = self._store[k][:at]
            self._store[k] = grown
        self._store[k][at:need] = rows
        self._count[k] = need

    def extend(self, leaf_hashes: U8 | Sequence[bytes]) -> None:
        """Append leaves (their hashes) and recompute only the nodes that changed."""
        new = _as_rows(leaf_hashes)
        if not len(new):
            return
        start = self.size
        self._write(0, start, new)
        k = 0
        while self._count[k] > 1:
            # Parents left of the old right edge were complete and stay as they were;
            # the rest (including a node carried up unchanged) is recomputed.
            keep = start // 2
            below = self._store[k][2 * keep : self._count[k]]
            self._write(k + 1, keep, _parent_level(below))
            k, start = k + 1, keep

    def leaf(self, index: int) -> bytes:
        return bytes(self._levels[0][index])

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` leaves (default: all); ``EMPTY_ROOT`` for none."""
        n = self._check_size(size)
        if n == 0:
            return EMPTY_ROOT
        if n == self.size:
            return bytes(self._levels[-1][0])
        return self._subtree(0, n)

    def _check_size(self, size: int | None) -> int:
        n = self.size if size is None else int(size)
        if not 0 <= n <= self.size:
            raise ConfigError(f"tree size {n} is outside 0..{self.size}")
        return n

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) (RFC 6962 §2.1), from stored complete subtrees."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return bytes(self._levels[n.bit_length() - 1][start // n])
        split = 1 << ((n - 1).bit_length() - 1)
        return node_hash(self._subtree(start, start + split), self._subtree(start + split, end))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        n = self._check_size(size)
        if not 0 <= index < n:
            raise ConfigError(f"leaf index {index} is outside the tree of size {n}")
        return _path(self, index, 0, n)

    def inclusion_proofs(
        self, indices: npt.ArrayLike, out: U8 | None = None
    ) -> tuple[U8, npt.NDArray[np.bool_]]:
        """Audit paths of many leaves in the full tree, gathered level by level.

        ``out``, a C-contiguous ``(depth, len(indices), 32)`` ``uint8`` array, is
        filled instead of a new one (batches of proofs reuse one buffer).

        Returns
        -------
        proofs, present
            ``proofs[k, j]`` is the sibling at level ``k`` of leaf ``indices[j]`` and
            ``present[k, j]`` says whether that level has one (a node carried up at the
            right edge has none). The audit path of leaf ``j`` is
            ``proofs[:, j][present[:, j]]``.
        """
        idx = np.asarray(indices, dtype=np.int64)
        n = self.size
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ConfigError(f"leaf indices must be in 0..{n - 1}")
        levels = self._levels
        depth = len(levels) - 1
        shape = (depth, idx.size, 32)
        if out is not None and (
            out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous
        ):
            raise ConfigError(f"out must be a C-contiguous uint8 array of shape {shape}")
        proofs = np.empty(shape, np.uint8) if out is None else out
        words = proofs.view(np.uint64)  # 32-byte rows as 4 words: 8x fewer elements to move
        present = np.empty((depth, idx.size), bool)
        at = idx.copy()
        for k in range(depth):
            sibling = at ^ 1
            ok = np.less(sibling, len(levels[k]), out=present[k])
            # mode="clip": an unbuffered gather (the default "raise" buffers "out")
            np.take(levels[k].view(np.uint64), sibling, axis=0, out=words[k], mode="clip")
            if not ok.all():
                words[k][~ok] = 0
            at >>= 1
        return proofs, present

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Proof that the tree of ``size1`` leaves is a prefix of the one of ``size2``."""
        n2 = self._check_size(size2)
        if not 0 <= size1 <= n2:
            raise ConfigError(f"consistency proof needs 0 <= {size1} <= {n2}")
        if size1 in (0, n2):
            return []
        return _subproof(self, size1, 0, n2, True)


def _as_rows(leaf_hashes: U8 | Sequence[bytes]) -> U8:
    if isinstance(leaf_hashes, np.ndarray):
        rows = np.ascontiguousarray(leaf_hashes, dtype=np.uint8)
    else:
        if any(len(h) != 32 for h in leaf_hashes):
            raise ConfigError("leaf hashes must be 32-byte SHA-256 digests")
        rows = np.frombuffer(b"".join(leaf_hashes), np.uint8).reshape(-1, 32)
    if rows.ndim != 2 or rows.shape[1] != 32:
        raise ConfigError("leaf hashes must be 32-byte SHA-256 digests")
    return rows


def _path(tree: MerkleTree, m: int, start: int, end: int) -> list[bytes]:
    # RFC 6962 §2.1.1 PATH(m, D[start:end])
    n = end - start
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_path(tree, m, start, start + k), tree._subtree(start + k, end)]
    return [*_path(tree, m - k, start + k, end), tree._subtree(start, start + k)]


def _subproof(tree: MerkleTree, m: int, start: int, end: int, whole: bool) -> list[bytes]:
    # RFC 6962 §2.1.2 SUBPROOF(m, D[start:end], b)
    n = end - start
    if m == n:
        return [] if whole else [tree._subtree(start, end)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(tree, m, start, start + k, whole), tree._subtree(start + k, end)]
    return [*_subproof(tree, m - k, start + k, end, False), tree._subtree(start, start + k)]


def root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes | None:
    """The root an audit path leads to (RFC 9162 §2.1.3.2), or ``None`` if malformed."""
    if not 0 <= index < size or len(leaf) != 32:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree with ``root``."""
    return root_from_inclusion_proof(leaf, index, size, proof) == root


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """Whether ``proof`` shows the tree (size1, root1) is a prefix of (size2, root2).

    RFC 9162 §2.1.4.2, step by step.
    """
    if size1 < 0 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof or any(len(p) != 32 for p in proof):
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


def verify_inclusion_batch(
    leaves: U8, indices: npt.ArrayLike, size: int, proofs: U8, root: bytes
) -> npt.NDArray[np.bool_]:
    """Verify many audit paths against one root; each path is folded exactly.

    The fold of every path is the one of :func:`verify_inclusion`; what is shared is
    the work (memoising a pure function): each row keeps the class of its current
    value, and a row whose ``(left, right)`` pair is checked equal to its neighbour's
    (same node, same value and same sibling; or the two children of one parent, each
    the other's sibling) reuses that neighbour's digest. Every other row is hashed on
    its own, so a changed byte anywhere only ever fails its own proof. Which levels
    carry a sibling follows from ``index`` and ``size`` alone, never from the prover.

    Parameters
    ----------
    leaves
        ``(m, 32)`` leaf hashes. ``indices``: their positions, ascending.
    proofs
        ``(depth, m, 32)`` siblings as :meth:`MerkleTree.inclusion_proofs` lays them
        out (rows where a level has no sibling are ignored).

    Returns
    -------
    ``(m,)`` booleans: which proofs lead to ``root``.
    """
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= size or np.any(np.diff(idx) <= 0)):
        raise ConfigError(f"indices must be ascending and inside 0..{size - 1}")
    sizes = _level_sizes(size)
    depth = len(sizes) - 1
    if proofs.shape != (depth, idx.size, 32) or leaves.shape != (idx.size, 32):
        raise ConfigError(f"proofs must have shape ({depth}, {idx.size}, 32)")
    if len(root) != 32 or not idx.size:
        return np.zeros(idx.size, bool)
    values = np.array(leaves, dtype=np.uint8, order="C").view(np.uint64)  # a copy
    cls = np.arange(idx.size)
    words = np.ascontiguousarray(proofs, dtype=np.uint8).view(np.uint64)
    at = idx.copy()
    for k in range(depth):
        values, cls = _fold_level(values, cls, at, words[k], sizes[k])
        at >>= 1
    hit: npt.NDArray[np.bool_] = _rows_equal(values, np.frombuffer(root, np.uint64)[None, :])
    return hit[cls]


def _rows_equal(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Row-wise equality of ``(m, 4)`` word arrays (32-byte digests)."""
    same = np.equal(a, b)  # 4 booleans per row, read as one uint32
    out: npt.NDArray[np.bool_] = np.ascontiguousarray(same).view(np.uint32)[:, 0] == 0x01010101
    return out


def _fold_level(
    values: npt.NDArray[np.uint64],
    cls: npt.NDArray[np.intp],
    at: npt.NDArray[np.int64],
    sib: npt.NDArray[np.uint64],
    width: int,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp]]:
    """One level of :func:`verify_inclusion_batch`: distinct parent values and classes.

    ``values[cls[i]]`` is row ``i``'s current node hash, ``at[i]`` its position on this
    level (``width`` nodes), ``sib[i]`` the sibling its proof claims.
    """
    has = (at ^ 1) < width
    merge = np.zeros(at.size, bool)
    if at.size > 1:
        same_node = at[1:] == at[:-1]
        # same node, same current value, and the same sibling (or none: carried up)
        merge[1:] = same_node & (cls[1:] == cls[:-1])
        merge[1:] &= ~has[1:] | _rows_equal(sib[1:], sib[:-1])
        # the left and right child of one parent: equal pairs iff each is the
        # other's sibling
        cross = np.flatnonzero(~same_node & ((at[1:] >> 1) == (at[:-1] >> 1))) + 1
        if cross.size:
            a, b = cross - 1, cross
            ok = _rows_equal(values[cls[a]], sib[b]) & _rows_equal(sib[a], values[cls[b]])
            merge[cross[ok]] = True
    starts = np.flatnonzero(~merge)
    out = values[cls[starts]]  # a gather: a node carried up keeps its value
    h = starts[has[starts]]
    if h.size:
        cur, other = values[cls[h]], sib[h]
        right = (at[h] & 1).astype(bool)[:, None]
        pair = np.empty((h.size, 8), np.uint64)
        pair[:, :4] = np.where(right, other, cur)
        pair[:, 4:] = np.where(right, cur, other)
        out[has[starts]] = hash_rows(1, pair.view(np.uint8)).view(np.uint64)
    return out, np.cumsum(~merge) - 1
