"""Ingest: read exports, detect platform profiles, validate, pseudonymize, load atomically."""

from __future__ import annotations

from typing import Any

__all__ = ["register_cli"]


def register_cli(app: Any, *, friendly_errors: Any, progress_bar: Any) -> None:
    """Add the ``import`` and ``template`` commands to the CLI (under construction)."""
