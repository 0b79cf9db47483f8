"""Demo business with known ground truth."""

from __future__ import annotations

from typing import Any

__all__ = ["register_cli"]


def register_cli(app: Any, *, friendly_errors: Any, progress_bar: Any) -> None:
    """Add the ``demo`` command to the CLI (under construction)."""
