"""Ed25519 signing keys of a provenance log: generation, storage, rotation, fingerprints.

Private keys never enter the workspace file. They live beside the workspace's
pseudonym key, in the same key dir (``--key-dir`` / ``LEVELFIELD_KEY_DIR`` /
``~/.config/levelfield/keys``, see :mod:`levelfield.workspace._keys`), in a folder
``<workspace id>.provenance/`` (owner-only, ``0700``; each key file ``0600``). The
workspace keeps only public keys, so a copy of it given to an accountant cannot sign.

A key's fingerprint is the SHA-256 of its 32-byte raw public key, in hex; the owner
publishes it (website, packaging) so customers can check who signed a record.

References
----------
S. Josefsson, I. Liusvaara (2017). *Edwards-Curve Digital Signature Algorithm (EdDSA)*.
RFC 8032, §5.1 (Ed25519).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from levelfield.errors import ConfigError, WorkspaceError

__all__ = [
    "fingerprint",
    "format_fingerprint",
    "generate_key",
    "load_private_key",
    "public_bytes",
    "sign",
    "signing_key_dir",
    "verify_signature",
]


class _HasKeyPath(Protocol):
    @property
    def workspace_id(self) -> str: ...

    @property
    def key_path(self) -> Path: ...


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32-byte raw public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key: bytes) -> str:
    """SHA-256 of the raw public key, 64 lowercase hex digits."""
    if len(public_key) != 32:
        raise ConfigError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
    return hashlib.sha256(public_key).hexdigest()


def format_fingerprint(fp: str) -> str:
    """A fingerprint in groups of four for reading aloud or printing."""
    return " ".join(fp[i : i + 4] for i in range(0, len(fp), 4))


def signing_key_dir(ws: _HasKeyPath, key_dir: Path | None = None) -> Path:
    """Folder of the provenance signing keys of workspace ``ws``.

    ``key_dir`` when given, else ``<key dir>/<workspace id>.provenance`` next to the
    workspace's pseudonym key file.
    """
    if key_dir is not None:
        return Path(key_dir)
    name = f"{ws.workspace_id}.provenance" if ws.workspace_id else "provenance"
    return ws.key_path.parent / name


def _ensure_private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & 0o077:
        os.chmod(directory, 0o700)


def _key_path(directory: Path, fp: str) -> Path:
    return directory / f"provenance-{fp[:16]}.pem"


def generate_key(directory: Path) -> tuple[Ed25519PrivateKey, str]:
    """Create an Ed25519 key, write it owner-only into ``directory``; return it and its id."""
    key = Ed25519PrivateKey.generate()
    fp = fingerprint(public_bytes(key))
    _ensure_private_dir(directory)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = _key_path(directory, fp)
    # O_EXCL: never overwrite a key; 0600 from the first byte, not chmod afterwards.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key, fp


def load_private_key(directory: Path, fp: str) -> Ed25519PrivateKey:
    """The private key with fingerprint ``fp`` from ``directory``.

    Raises
    ------
    WorkspaceError
        The key file is missing, readable by others, or holds another key.
    """
    path = _key_path(directory, fp)
    if not path.exists():
        raise WorkspaceError(
            f"the signing key {format_fingerprint(fp)[:19]}... is not in {directory}; "
            "point LEVELFIELD_KEY_DIR (levelfield --key-dir) at the key dir whose "
            f"provenance folder holds provenance-{fp[:16]}.pem "
            "(or rotate to a new key with 'levelfield provenance rotate-key')"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise WorkspaceError(
            f"{path} can be read by other users (mode {mode:o}); run 'chmod 600 {path}'"
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey) or fingerprint(public_bytes(key)) != fp:
        raise WorkspaceError(f"{path} does not hold the Ed25519 key {fp}")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """Ed25519 signature (64 bytes) of ``message``."""
    return key.sign(message)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
