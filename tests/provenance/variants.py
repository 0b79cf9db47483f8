"""Tampered copies of an export, shared by the Python and the browser tests."""

from __future__ import annotations

import copy
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from levelfield.provenance import fingerprint, head_message
from levelfield.provenance._keys import public_bytes

Export = dict[str, Any]


def change_body(export: Export, position: int, old: str, new: str) -> Export:
    out = copy.deepcopy(export)
    body = out["entries"][position]["body"]
    assert old in body
    out["entries"][position]["body"] = body.replace(old, new, 1)
    return out


def swap(export: Export, a: int, b: int) -> Export:
    out = copy.deepcopy(export)
    out["entries"][a], out["entries"][b] = out["entries"][b], out["entries"][a]
    return out


def drop(export: Export, position: int) -> Export:
    out = copy.deepcopy(export)
    del out["entries"][position]
    return out


def resign_keep_key(export: Export) -> Export:
    """Someone else signs the head but the file still shows the business's key."""
    out = copy.deepcopy(export)
    out["signature"] = Ed25519PrivateKey.generate().sign(head_message(out["tree_head"])).hex()
    return out


def resign_with_own_key(export: Export) -> tuple[Export, str]:
    """Change an entry's origin, rebuild nothing but the signature with an own key.

    Returns the forged export and the attacker's fingerprint.
    """
    out = copy.deepcopy(export)
    key = Ed25519PrivateKey.generate()
    fp = fingerprint(public_bytes(key))
    out["public_key"] = public_bytes(key).hex()
    out["tree_head"] = {**out["tree_head"], "key": fp}
    out["signature"] = key.sign(head_message(out["tree_head"])).hex()
    out["key_chain"] = []
    return out, fp


def as_json(export: Export) -> str:
    return json.dumps(export)
