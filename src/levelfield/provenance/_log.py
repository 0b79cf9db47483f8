"""The provenance log of one workspace: append entries, sign tree heads, rotate keys."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from levelfield.errors import DataError, WorkspaceError
from levelfield.provenance._entries import ENTRY_KINDS, FORMAT_VERSION, LotBook
from levelfield.provenance._jcs import canonicalize
from levelfield.provenance._keys import (
    generate_key,
    load_private_key,
    public_bytes,
    sign,
    signing_key_dir,
    verify_signature,
)
from levelfield.provenance._merkle import MerkleTree, leaf_hash, leaf_hashes, verify_consistency
from levelfield.workspace import Workspace

__all__ = [
    "HEAD_CONTEXT",
    "ROTATION_CONTEXT",
    "Entry",
    "ProvenanceLog",
    "SignedHead",
    "head_message",
    "rotation_message",
]

#: Domain separation: a tree-head signature can never be replayed as anything else.
HEAD_CONTEXT = b"levelfield-provenance tree head v1\n"
ROTATION_CONTEXT = b"levelfield-provenance key rotation v1\n"


def head_message(head: Mapping[str, Any]) -> bytes:
    """The bytes a tree head signature covers."""
    return HEAD_CONTEXT + canonicalize(head)


def rotation_message(statement: Mapping[str, Any]) -> bytes:
    """The bytes a key-rotation endorsement covers."""
    return ROTATION_CONTEXT + canonicalize(statement)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _iso(t: dt.datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "Z"


def _subject(body: Mapping[str, Any]) -> str:
    kind = body["kind"]
    if kind == "transformation":
        return str(body["output"]["lot"])
    if kind == "certificate":
        return str(body["certificate"])
    if kind == "key":
        return str(body["fingerprint"])
    return str(body["lot"])


@dataclass(frozen=True)
class Entry:
    """One log entry: its position, canonical bytes and leaf hash."""

    seq: int
    kind: str
    subject: str
    body: dict[str, Any]
    canonical: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class SignedHead:
    """A signed tree head: size, root, time and key of one state of the log."""

    head: dict[str, Any]
    signature: bytes

    @property
    def size(self) -> int:
        return int(self.head["size"])

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.head["root"])

    @property
    def key(self) -> str:
        return str(self.head["key"])


class ProvenanceLog:
    """The append-only provenance log stored in a workspace.

    Parameters
    ----------
    ws
        The workspace (entries, tree heads and public keys live in it).
    key_dir
        Folder of the private signing keys; default ``<key dir>/<workspace id>.provenance``
        beside the workspace's pseudonym key (see :mod:`levelfield.provenance._keys`).
    """

    def __init__(self, ws: Workspace, key_dir: Path | None = None) -> None:
        self.ws = ws
        self.key_dir = signing_key_dir(ws, key_dir)

    # -- reading -------------------------------------------------------------------------
    @property
    def log_id(self) -> str:
        """A random id naming this log in every signed head (created on first use)."""
        rows = self.ws.con.execute(
            "SELECT value FROM meta WHERE key = 'provenance_log_id'"
        ).fetchall()
        if rows:
            return str(rows[0][0])
        value = secrets.token_hex(16)
        self.ws.con.execute("INSERT INTO meta VALUES ('provenance_log_id', ?)", [value])
        return value

    def entries(self) -> list[Entry]:
        rows = self.ws.con.execute(
            "SELECT seq, kind, subject, body, leaf_hash FROM provenance_entries ORDER BY seq"
        ).fetchall()
        return [
            Entry(int(r[0]), r[1], r[2], json.loads(r[3]), r[3].encode(), bytes.fromhex(r[4]))
            for r in rows
        ]

    @property
    def size(self) -> int:
        return int(self.ws.con.execute("SELECT count(*) FROM provenance_entries").fetchall()[0][0])

    def tree(self, entries: Sequence[Entry] | None = None) -> MerkleTree:
        items = self.entries() if entries is None else entries
        return MerkleTree(leaf_hashes([e.canonical for e in items]))

    def heads(self) -> list[SignedHead]:
        rows = self.ws.con.execute(
            "SELECT head, signature FROM provenance_heads ORDER BY tree_size, signed_at"
        ).fetchall()
        return [SignedHead(json.loads(r[0]), bytes.fromhex(r[1])) for r in rows]

    def latest_head(self) -> SignedHead | None:
        heads = self.heads()
        active = self.active_key()
        mine = [h for h in heads if active is None or h.key == active]
        chosen = mine or heads
        return chosen[-1] if chosen else None

    def keys(self) -> list[dict[str, Any]]:
        """Public keys, oldest first, with creation and retirement times."""
        rel = self.ws.con.execute(
            "SELECT fingerprint, public_key, created_at, retired_at, endorsement, "
            "endorsement_signature FROM provenance_keys ORDER BY created_at, fingerprint"
        ).fetchall()
        names = ("fingerprint", "public_key", "created_at", "retired_at", "endorsement", "sig")
        return [dict(zip(names, r, strict=True)) for r in rel]

    def active_key(self) -> str | None:
        rows = self.ws.con.execute(
            "SELECT fingerprint FROM provenance_keys WHERE retired_at IS NULL"
        ).fetchall()
        return str(rows[0][0]) if rows else None

    def public_key(self, fp: str) -> bytes:
        rows = self.ws.con.execute(
            "SELECT public_key FROM provenance_keys WHERE fingerprint = ?", [fp]
        ).fetchall()
        if not rows:
            raise WorkspaceError(f"no public key with fingerprint {fp} in this workspace")
        return bytes.fromhex(rows[0][0])

    def book(self, entries: Sequence[Entry] | None = None) -> LotBook:
        """The mass balance after every entry so far."""
        book = LotBook()
        for e in self.entries() if entries is None else entries:
            book.apply(e.body)
        return book

    # -- writing -------------------------------------------------------------------------
    def _insert(self, body: Mapping[str, Any], seq: int, at: dt.datetime) -> Entry:
        if body.get("kind") not in ENTRY_KINDS:
            raise DataError(f"unknown entry kind {body.get('kind')!r}; use one of {ENTRY_KINDS}")
        full = {**body, "v": FORMAT_VERSION, "seq": seq, "recorded_at": _iso(at)}
        canonical = canonicalize(full)
        entry = Entry(seq, full["kind"], _subject(full), full, canonical, leaf_hash(canonical))
        self.ws.con.execute(
            "INSERT INTO provenance_entries VALUES (?, ?, ?, ?, ?, ?)",
            [seq, entry.kind, entry.subject, canonical.decode(), entry.leaf_hash.hex(), at],
        )
        return entry

    def add(
        self, bodies: Iterable[Mapping[str, Any]], *, at: dt.datetime | None = None
    ) -> list[Entry]:
        """Append entries (checked against the mass balance) and sign the new head.

        All or nothing: a rejected entry, or a signing key that cannot be loaded, leaves
        the log as it was.
        """
        when = at or _utcnow()
        with self.ws.transaction():
            key, fp = self._signing_key(when)
            book = self.book()
            seq = self.size
            added = []
            for body in bodies:
                book.apply(body)
                added.append(self._insert(body, seq, when))
                seq += 1
            self._sign_head(key, fp, when)
        return added

    def _signing_key(self, when: dt.datetime) -> tuple[Ed25519PrivateKey, str]:
        fp = self.active_key()
        if fp is not None:
            return load_private_key(self.key_dir, fp), fp
        key, fp = generate_key(self.key_dir)
        self._register_key(key, fp, None, when)
        return key, fp

    def _register_key(
        self,
        key: Ed25519PrivateKey,
        fp: str,
        old: tuple[Ed25519PrivateKey, str] | None,
        when: dt.datetime,
    ) -> None:
        pub = public_bytes(key).hex()
        statement = sig = None
        if old is not None:
            old_key, old_fp = old
            body = {
                "log": self.log_id,
                "from": old_fp,
                "from_public_key": public_bytes(old_key).hex(),
                "to": fp,
                "to_public_key": pub,
                "at": _iso(when),
            }
            statement = canonicalize(body).decode()
            sig = sign(old_key, rotation_message(body)).hex()
        self.ws.con.execute(
            "INSERT INTO provenance_keys VALUES (?, ?, ?, NULL, ?, ?)",
            [fp, pub, when, statement, sig],
        )
        entry = {"kind": "key", "fingerprint": fp, "public_key": pub, "replaces": old and old[1]}
        self._insert(entry, self.size, when)

    def _sign_head(self, key: Ed25519PrivateKey, fp: str, when: dt.datetime) -> SignedHead:
        tree = self.tree()
        head = {
            "log": self.log_id,
            "size": tree.size,
            "root": tree.root().hex(),
            "timestamp": _iso(when),
            "key": fp,
        }
        signature = sign(key, head_message(head))
        self.ws.con.execute(
            "INSERT OR REPLACE INTO provenance_heads VALUES (?, ?, ?, ?, ?, ?)",
            [tree.size, head["root"], fp, canonicalize(head).decode(), signature.hex(), when],
        )
        return SignedHead(head, signature)

    def rotate_key(self, *, at: dt.datetime | None = None) -> str:
        """Replace the signing key; the old key endorses the new one and signs a last head.

        Heads signed by the old key stay verifiable (its public key stays here); a
        customer who knows only the old fingerprint can follow the endorsement to the
        new key. Returns the new fingerprint.
        """
        when = at or _utcnow()
        with self.ws.transaction():
            old_fp = self.active_key()
            old = (load_private_key(self.key_dir, old_fp), old_fp) if old_fp else None
            key, fp = generate_key(self.key_dir)
            if old is not None:
                self.ws.con.execute(
                    "UPDATE provenance_keys SET retired_at = ? WHERE fingerprint = ?",
                    [when, old[1]],
                )
            self._register_key(key, fp, old, when)
            if old is not None:
                self._sign_head(old[0], old[1], when)
            self._sign_head(key, fp, when)
        return fp

    def sign_head(self, *, at: dt.datetime | None = None) -> SignedHead:
        """Sign the current tree with the active key (creating a key on first use)."""
        when = at or _utcnow()
        with self.ws.transaction():
            key, fp = self._signing_key(when)
            return self._sign_head(key, fp, when)

    def key_chain(self, fp: str) -> list[dict[str, str]]:
        """Endorsements leading from the first key to ``fp``, oldest first."""
        by_to = {k["fingerprint"]: k for k in self.keys() if k["endorsement"]}
        chain: list[dict[str, str]] = []
        current = fp
        while current in by_to:
            k = by_to[current]
            chain.insert(0, {"statement": k["endorsement"], "signature": k["sig"]})
            current = json.loads(k["endorsement"])["from"]
        return chain

    def audit(self) -> list[str]:
        """Re-check the stored log: every entry, every signed head, growth between heads.

        Returns the problems found (empty when the log is intact): an entry whose bytes
        no longer match its leaf hash or position, a head whose signature or root does
        not hold (heads signed by retired keys are checked with those keys), or two
        heads that are not consistent (the log was rewritten, not only appended to).
        """
        problems: list[str] = []
        entries = self.entries()
        for i, e in enumerate(entries):
            if e.seq != i or e.body.get("seq") != i:
                problems.append(f"entry #{e.seq}: stored at position {i}, says {e.body.get('seq')}")
            elif leaf_hash(e.canonical) != e.leaf_hash or canonicalize(e.body) != e.canonical:
                problems.append(f"entry #{e.seq}: content changed after it was logged")
        tree = self.tree(entries)
        previous: SignedHead | None = None
        for head in self.heads():
            where = f"tree head of size {head.size} signed by {head.key[:16]}"
            try:
                pub = self.public_key(head.key)
            except WorkspaceError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if not verify_signature(pub, head.signature, head_message(head.head)):
                problems.append(f"{where}: signature does not verify")
            elif head.size > tree.size or tree.root(head.size) != head.root:
                problems.append(f"{where}: entries it covers were changed, dropped or moved")
            elif previous is not None and not verify_consistency(
                previous.size,
                head.size,
                tree.consistency_proof(previous.size, head.size),
                previous.root,
                head.root,
            ):
                problems.append(f"{where}: not an extension of the head before it")
            previous = head
        return problems
