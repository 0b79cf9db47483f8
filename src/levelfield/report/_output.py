"""Check that an output path can be written before any analysis runs (minutes saved)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from levelfield.errors import ConfigError

__all__ = ["check_output_dir", "check_output_file"]


def _unwritable(path: Path, exc: OSError) -> ConfigError:
    reason = exc.strerror or type(exc).__name__
    return ConfigError(
        f"cannot write to {path} ({reason}); choose another output path (-o) or make the "
        "folder writable. Nothing was analysed"
    )


def check_output_dir(path: Path) -> None:
    """Create ``path`` if needed and prove a file can be written in it.

    Raises
    ------
    ConfigError
        ``path`` is a file, or the folder cannot be created or written.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is a file; give a folder to write the tables into")
    _probe(path)


def _probe(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise _unwritable(folder, exc) from exc


def check_output_file(path: Path) -> None:
    """Prove ``path`` can be written (its folder is created when missing).

    Raises
    ------
    ConfigError
        ``path`` is a folder or cannot be written.
    """
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the report file, e.g. {path}/report.html")
    _probe(path.parent)
    if path.exists() and not os.access(path, os.W_OK):
        raise _unwritable(path, PermissionError(13, "the file is read-only"))
