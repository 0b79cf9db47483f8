"""What a customer holds: one lot's record, its proofs and the signed tree head.

The export (JSON, and the same JSON inside the one-file HTML page) holds the canonical
bytes of each entry of the lot's record, an RFC 6962 audit path for each against one
signed tree head, the public key, and the chain of key-rotation endorsements. The last
entry is a *publication* entry, logged when the record was exported, that lists which
entries make up the record: dropping one from the file is therefore detected too.

:func:`verify_export` is the reference verifier; the page's JavaScript performs the
same checks in the same order with the same messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levelfield.errors import DataError
from levelfield.provenance._jcs import parse_canonical
from levelfield.provenance._keys import fingerprint, verify_signature
from levelfield.provenance._lineage import lineage
from levelfield.provenance._log import ProvenanceLog, head_message, rotation_message
from levelfield.provenance._merkle import leaf_hash, verify_inclusion

__all__ = [
    "EXPORT_FORMAT",
    "Failure",
    "Verification",
    "build_export",
    "read_export_file",
    "verify_export",
]

EXPORT_FORMAT = "levelfield-provenance-export/1"


def build_export(log: ProvenanceLog, lot: str, *, url: str | None = None) -> dict[str, Any]:
    """Log a publication of ``lot``'s record, sign the new head and return the export."""
    entries = log.entries()
    record = lineage([e.body for e in entries], lot)
    (publication,) = log.add(
        [{"kind": "publication", "lot": lot, "entries": list(record.entries), "url": url}]
    )
    entries.append(publication)
    head = log.latest_head()
    if head is None or head.size != publication.seq + 1:
        raise DataError("the log changed while exporting; export again")
    tree = log.tree(entries)
    business = log.ws.get_business("name")
    return {
        "format": EXPORT_FORMAT,
        "lot": lot,
        "business": str(business) if business else None,
        "url": url,
        "tree_head": head.head,
        "signature": head.signature.hex(),
        "public_key": log.public_key(head.key).hex(),
        "key_chain": log.key_chain(head.key),
        "entries": [
            {
                "index": seq,
                "body": entries[seq].canonical.decode(),
                "proof": [p.hex() for p in tree.inclusion_proof(seq, head.size)],
            }
            for seq in (*record.entries, publication.seq)
        ],
    }


@dataclass(frozen=True)
class Failure:
    """One failed check; ``entry`` is the log position it concerns (None: the head/key)."""

    entry: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.entry is None else f"entry #{self.entry}: {self.message}"


@dataclass(frozen=True)
class Verification:
    """Outcome of verifying an export: ``ok`` or the failures, first one first."""

    lot: str | None
    tree_size: int | None
    key: str | None
    failures: tuple[Failure, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.ok:
            return (
                f"verified: lot {self.lot}, {self.tree_size} entries in the log, "
                f"signed by key {self.key}"
            )
        return "NOT verified:\n" + "\n".join(f"  {f}" for f in self.failures)


def _hex(value: Any, n: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * n:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _check_key(doc: Mapping[str, Any], expected: str | None) -> list[Failure]:
    head = doc.get("tree_head") or {}
    pub = _hex(doc.get("public_key"), 32)
    sig = _hex(doc.get("signature"), 64)
    if pub is None or sig is None or not isinstance(head, dict):
        return [Failure(None, "tree head: public key, signature or head is missing or malformed")]
    fp = fingerprint(pub)
    if head.get("key") != fp:
        return [Failure(None, f"tree head: names key {head.get('key')} but the file's key is {fp}")]
    try:
        message = head_message(head)
    except DataError as exc:
        return [Failure(None, f"tree head: {exc}")]
    if not verify_signature(pub, sig, message):
        return [
            Failure(
                None,
                f"tree head (size {head.get('size')}): the signature does not verify with key {fp}",
            )
        ]
    if expected and expected.lower() != fp:
        return _check_chain(doc.get("key_chain") or [], expected.lower(), fp)
    return []


def _check_chain(chain: Any, expected: str, current: str) -> list[Failure]:
    """Follow rotation endorsements from the expected (published) key to the signing key."""
    at = None
    for link in chain if isinstance(chain, list) else []:
        try:
            st = parse_canonical(link["statement"])
            sig = _hex(link["signature"], 64)
            old = bytes.fromhex(st["from_public_key"])
        except (DataError, KeyError, TypeError, ValueError):
            return [Failure(None, "key chain: an endorsement is malformed")]
        ok = sig is not None and fingerprint(old) == st["from"]
        if not ok or not verify_signature(old, sig or b"", rotation_message(st)):
            return [Failure(None, f"key chain: endorsement of {st.get('to')} does not verify")]
        if st["from"] == expected:
            at = expected
        if at is not None and fingerprint(bytes.fromhex(st["to_public_key"])) != st["to"]:
            return [Failure(None, "key chain: endorsed key does not match its fingerprint")]
        if at is not None:
            at = st["to"]
    if at != current:
        return [
            Failure(
                None,
                f"signed by key {current}, not by the expected key {expected} "
                "(nor by a key it endorsed)",
            )
        ]
    return []


def _check_entries(
    doc: Mapping[str, Any], root: bytes, size: int
) -> tuple[list[Failure], dict[int, dict[str, Any]], set[int]]:
    failures: list[Failure] = []
    bodies: dict[int, dict[str, Any]] = {}
    present: set[int] = set()
    previous = -1
    for item in doc.get("entries") or []:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool):
            failures.append(Failure(None, "an entry has no index"))
            continue
        if index <= previous:
            failures.append(Failure(index, f"out of order (comes after entry #{previous})"))
        previous = max(previous, index)
        present.add(index)
        try:
            body = parse_canonical(item.get("body", ""))
        except DataError as exc:
            failures.append(Failure(index, f"content is not canonical JSON ({exc})"))
            continue
        proof = [_hex(p, 32) for p in item.get("proof") or []]
        leaf = leaf_hash(str(item["body"]).encode("utf-8"))
        if any(p is None for p in proof) or not verify_inclusion(
            leaf, index, size, [p for p in proof if p is not None], root
        ):
            what = f"{_describe(body)} is not in the signed log"
            failures.append(Failure(index, f"{what}: its content or position was changed"))
            continue
        if not isinstance(body, dict) or body.get("seq") != index:
            failures.append(Failure(index, "says it is at another position in the log"))
            continue
        bodies[index] = body
    return failures, bodies, present


def _describe(body: Any) -> str:
    if not isinstance(body, dict):
        return "the entry"
    kind = body.get("kind", "entry")
    name = body.get("lot") or body.get("certificate") or (body.get("output") or {}).get("lot")
    return f"{kind} {name}" if name else str(kind)


def _check_record(
    doc: Mapping[str, Any], bodies: dict[int, dict[str, Any]], present: set[int]
) -> list[Failure]:
    lot = doc.get("lot")
    pubs = [i for i, b in bodies.items() if b.get("kind") == "publication" and b.get("lot") == lot]
    if not pubs:
        return [Failure(None, f"the file has no publication entry for lot {lot}")]
    pub_index = max(pubs)
    listed = bodies[pub_index].get("entries") or []
    failures = [
        Failure(int(i), f"listed in the published record of lot {lot} but missing from the file")
        for i in listed
        if i not in present
    ]
    failures += [
        Failure(i, f"is not part of the published record of lot {lot}")
        for i in sorted(present)
        if i != pub_index and i not in listed
    ]
    if not failures and set(listed) <= set(bodies):
        try:
            lineage([bodies[i] for i in sorted(listed)], str(lot))
        except DataError as exc:
            failures.append(Failure(pub_index, str(exc)))
    return failures


def verify_export(doc: Mapping[str, Any] | str, expected_key: str | None = None) -> Verification:
    """Verify an export offline: signature, key, every entry's proof, completeness.

    Parameters
    ----------
    doc
        The export (dict) or its JSON text.
    expected_key
        The fingerprint the business publishes. When given, the head must be signed by
        that key or by a key it endorsed when it was rotated.
    """
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise DataError(f"not a provenance export (invalid JSON: {exc})") from exc
    if not isinstance(doc, Mapping) or doc.get("format") != EXPORT_FORMAT:
        raise DataError(f"not a provenance export (format is not {EXPORT_FORMAT})")
    raw_head = doc.get("tree_head")
    head: dict[str, Any] = raw_head if isinstance(raw_head, dict) else {}
    size = head.get("size")
    lot, key = doc.get("lot"), head.get("key")

    def result(failures: list[Failure]) -> Verification:
        return Verification(
            lot=str(lot) if lot is not None else None,
            tree_size=size if isinstance(size, int) else None,
            key=str(key) if key is not None else None,
            failures=tuple(failures),
        )

    failures = _check_key(doc, expected_key)
    if failures:
        return result(failures)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        return result([Failure(None, "tree head: size is missing or not a positive integer")])
    root = _hex(head.get("root"), 32) or b""
    entry_failures, bodies, present = _check_entries(doc, root, size)
    return result(entry_failures + _check_record(doc, bodies, present))


_EMBEDDED = re.compile(r'<script type="application/json" id="lf-export">(.*?)</script>', re.DOTALL)


def read_export_file(path: Path) -> str:
    """The export JSON from a ``.json`` file or from the page that embeds it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if text.lstrip().startswith("{"):
        return text
    match = _EMBEDDED.search(text)
    if match is None:
        raise DataError(f"{path} is neither an export JSON nor a page exported by levelfield")
    return match.group(1)
