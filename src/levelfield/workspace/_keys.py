"""The pseudonym key: kept outside the workspace file, in an owner-only key file.

Customer identifiers are stored as keyed hashes. Whoever holds both the workspace and
its key can test a guessed e-mail address against the pseudonyms, so the key is not in
the workspace: it lives in ``<key dir>/<workspace id>.key`` (mode 0600, folder 0700).
The key dir is, in order of precedence, the ``key_dir`` argument of
:func:`~levelfield.open_workspace` (the web app passes its own data folder), the
``LEVELFIELD_KEY_DIR`` environment variable (``levelfield --key-dir``), or
``$XDG_CONFIG_HOME/levelfield/keys`` (``~/.config/levelfield/keys``).

The workspace keeps only its id and a check value (a hash of the key under another
label, which tells a wrong key from the right one and reveals nothing usable).
``levelfield key export`` and ``levelfield key import`` back the key up and restore it.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from levelfield.errors import WorkspaceError

__all__ = [
    "KEY_DIR_ENV",
    "KeyBackup",
    "default_key_dir",
    "key_check",
    "new_key",
    "parse_backup",
    "read_key_file",
    "resolve_key_dir",
    "write_key_file",
]

KEY_DIR_ENV = "LEVELFIELD_KEY_DIR"
_KEY = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[0-9a-f]{32}")
_BACKUP_HEADER = "levelfield pseudonym key v1"


def default_key_dir() -> Path:
    """``$XDG_CONFIG_HOME/levelfield/keys``, else ``~/.config/levelfield/keys``."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".config"
    return root / "levelfield" / "keys"


def resolve_key_dir(key_dir: str | Path | None = None) -> Path:
    """The key dir to use: ``key_dir``, else ``$LEVELFIELD_KEY_DIR``, else the default."""
    if key_dir is not None:
        return Path(key_dir).expanduser()
    env = os.environ.get(KEY_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else default_key_dir()


def new_key() -> str:
    """A fresh 256-bit key, as 64 hex digits."""
    return secrets.token_hex(32)


def key_check(key: str) -> str:
    """A value stored in the workspace to recognise its key (not usable as the key)."""
    return hashlib.sha256(b"levelfield key check\0" + key.encode()).hexdigest()[:32]


def _restore_hint(workspace: Path) -> str:
    return (
        f"restore it with 'levelfield key import BACKUP --workspace {workspace}' from the "
        f"backup made by 'levelfield key export', or point {KEY_DIR_ENV} (levelfield "
        "--key-dir) at the folder that holds it"
    )


def read_key_file(path: Path, workspace: Path, check: str | None) -> str | None:
    """The key in ``path``; ``None`` when the file does not exist.

    Raises
    ------
    WorkspaceError
        The file is readable by others, is not a key, or is the key of another workspace.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WorkspaceError(f"cannot read the pseudonym key {path}: {exc}") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WorkspaceError(
            f"the pseudonym key {path} can be read by other users (mode "
            f"{stat.S_IMODE(st.st_mode):o}); run 'chmod 600 {path}' and try again"
        )
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"cannot read the pseudonym key {path}: {exc}") from exc
    if not _KEY.fullmatch(text):
        raise WorkspaceError(
            f"{path} is not a levelfield pseudonym key (64 hex digits); {_restore_hint(workspace)}"
        )
    if check is not None and key_check(text) != check:
        raise WorkspaceError(
            f"{path} holds a key that does not belong to {workspace}; {_restore_hint(workspace)}"
        )
    return text


def write_key_file(path: Path, key: str) -> None:
    """Write ``key`` to ``path`` atomically with mode 0600 (its folder 0700).

    An existing file with the same key is left alone.

    Raises
    ------
    WorkspaceError
        ``path`` already holds another key, or the folder cannot be written.
    """
    if not _KEY.fullmatch(key):
        raise WorkspaceError("a pseudonym key is 64 hex digits")
    try:
        if path.exists():
            if path.read_text(encoding="ascii").strip() == key:
                return
            raise WorkspaceError(
                f"{path} already holds a different pseudonym key for a workspace with the "
                "same id; move it away first if you are sure it is not needed"
            )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (key + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise WorkspaceError(
            f"cannot write the pseudonym key to {path}: {exc}; choose a writable key folder "
            f"with {KEY_DIR_ENV} or levelfield --key-dir"
        ) from exc


@dataclass(frozen=True)
class KeyBackup:
    """A key backup: the workspace id it belongs to and the key."""

    workspace_id: str
    key: str

    def text(self) -> str:
        """The backup file's content (keep it as safe as the customer list itself)."""
        return (
            f"# {_BACKUP_HEADER}\n# Anyone with this key and the workspace can test "
            "guessed customer e-mails against it: store it privately.\n"
            f"workspace_id: {self.workspace_id}\nkey: {self.key}\n"
        )


def parse_backup(text: str, name: str) -> KeyBackup:
    """Read a backup written by :meth:`KeyBackup.text`.

    Raises
    ------
    WorkspaceError
        The text is not a levelfield key backup.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    wid, key = fields.get("workspace_id", ""), fields.get("key", "")
    if _BACKUP_HEADER not in text or not _ID.fullmatch(wid) or not _KEY.fullmatch(key):
        raise WorkspaceError(
            f"{name} is not a levelfield key backup (it should come from 'levelfield key export')"
        )
    return KeyBackup(workspace_id=wid, key=key)
