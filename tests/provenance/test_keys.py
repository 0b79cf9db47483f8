"""Ed25519 keys: RFC 8032 test vectors, fingerprints, owner-only key files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from levelfield import open_workspace
from levelfield.errors import ConfigError, WorkspaceError
from levelfield.provenance import (
    fingerprint,
    format_fingerprint,
    signing_key_dir,
    verify_signature,
)
from levelfield.provenance._keys import generate_key, load_private_key, public_bytes, sign

# RFC 8032 §7.1, TEST 1, TEST 2, TEST 3: (secret key, public key, message, signature)
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_section_7_1_vectors(
    secret: str, public: str, message: str, signature: str
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert public_bytes(key).hex() == public
    assert sign(key, bytes.fromhex(message)).hex() == signature
    assert verify_signature(bytes.fromhex(public), bytes.fromhex(signature), bytes.fromhex(message))
    wrong = bytearray(bytes.fromhex(signature))
    wrong[0] ^= 1
    assert not verify_signature(bytes.fromhex(public), bytes(wrong), bytes.fromhex(message))
    assert not verify_signature(bytes.fromhex(public), bytes.fromhex(signature), b"other")


def test_fingerprint_is_sha256_of_the_raw_public_key() -> None:
    pub = bytes.fromhex(RFC8032[0][1])
    fp = fingerprint(pub)
    assert len(fp) == 64 and fp == __import__("hashlib").sha256(pub).hexdigest()
    assert format_fingerprint(fp).split(" ")[0] == fp[:4]
    with pytest.raises(ConfigError):
        fingerprint(b"short")
    assert not verify_signature(b"short", b"x" * 64, b"")


def test_key_files_are_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    key, fp = generate_key(directory)
    path = directory / f"provenance-{fp[:16]}.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert public_bytes(load_private_key(directory, fp)) == public_bytes(key)
    os.chmod(path, 0o644)
    with pytest.raises(WorkspaceError, match="chmod 600"):
        load_private_key(directory, fp)
    with pytest.raises(WorkspaceError, match="LEVELFIELD_KEY_DIR"):
        load_private_key(directory, "0" * 64)


def test_signing_keys_sit_beside_the_workspace_pseudonym_key(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "shop.duckdb")
    try:
        expected = ws.key_path.parent / f"{ws.workspace_id}.provenance"
        assert signing_key_dir(ws) == expected
        assert signing_key_dir(ws, tmp_path / "o") == tmp_path / "o"
        assert not signing_key_dir(ws).is_relative_to(tmp_path)  # not next to the workspace file
    finally:
        ws.close()
