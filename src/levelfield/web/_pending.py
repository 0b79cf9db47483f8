"""Uploads waiting for a column mapping, kept encrypted and deleted on a timer.

The file is encrypted with AES-256-GCM in 1 MiB chunks (each with its own nonce and
its index and the final flag as associated data, so chunks cannot be reordered,
dropped or truncated unnoticed) under a key that lives only in the server process's
memory: it is never written to disk, so a copy of the data folder (or of a backup)
holds nothing readable, and a restart makes every pending upload unreadable; they are
deleted then, and by a timer after ``pending_upload_ttl_s``.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from levelfield.errors import DataError

__all__ = ["PendingUploads"]

_CHUNK = 1 << 20
_MAGIC = b"LFPU1"


class PendingUploads:
    """Encrypt, decrypt and expire uploads waiting for a column mapping."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def seal(self, source: Path, dest: Path) -> None:
        """Write ``source`` encrypted to ``dest`` (owner-only permissions)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            out.write(_MAGIC)
            index = 0
            chunk = src.read(_CHUNK)
            while True:
                nxt = src.read(_CHUNK)
                last = not nxt
                nonce = os.urandom(12)
                sealed = self._aead.encrypt(nonce, chunk, struct.pack(">Q?", index, last))
                out.write(nonce + struct.pack(">I", len(sealed)) + sealed)
                if last:
                    break
                chunk, index = nxt, index + 1
        tmp.replace(dest)

    def open(self, sealed: Path, dest: Path) -> None:
        """Decrypt ``sealed`` into ``dest``; ``DataError`` when it is not readable any more."""
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out, sealed.open("rb") as src:
                if src.read(len(_MAGIC)) != _MAGIC:
                    raise InvalidTag
                index, last = 0, False
                while not last:
                    head = src.read(16)
                    if len(head) < 16:
                        raise InvalidTag
                    (size,) = struct.unpack(">I", head[12:])
                    body = src.read(size)
                    try:
                        plain = self._aead.decrypt(
                            head[:12], body, struct.pack(">Q?", index, False)
                        )
                    except InvalidTag:
                        plain = self._aead.decrypt(head[:12], body, struct.pack(">Q?", index, True))
                        last = True
                    out.write(plain)
                    index += 1
        except (InvalidTag, OSError):
            dest.unlink(missing_ok=True)
            raise DataError(
                "this upload is no longer kept (it expired or the server restarted); "
                "upload the file again"
            ) from None

    def sweep(self, folder: Path, *, everything: bool = False) -> int:
        """Delete pending uploads older than the time limit (all with ``everything``)."""
        if not folder.is_dir():
            return 0
        cutoff = time.time() - self.ttl_s
        removed = 0
        for path in folder.glob("*/uploads/*"):
            try:
                if everything or path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:  # removed by a concurrent request
                pass
        return removed
