"""``levelfield set KEY VALUE`` and ``levelfield settings``: the analysis settings.

Registered on the Typer app by :mod:`levelfield.cli` (Typer stays out of the library).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register_cli"]

WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", help="Workspace file (DuckDB).", envvar="LEVELFIELD_WORKSPACE"
    ),
]
DEFAULT_WS = Path("levelfield.duckdb")


def _who() -> str:
    """Who changes a setting from the command line: the login name, ``cli:`` in front."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        name = os.environ.get("USER", "") or "unknown"
    return f"cli:{name}"


def _value_table(rows: list[Any], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("setting", "value", "unit", "from", "allowed", "used by", "what it does"):
        table.add_column(col, overflow="fold")
    for v in rows:
        s = v.setting
        source = v.source if not v.problem else f"default ({v.problem})"
        table.add_row(
            s.key,
            s.to_text(v.value) or "(none)",
            s.unit,
            source,
            s.allowed,
            ", ".join(s.analyses) if len(s.analyses) < 7 else "every analysis",
            s.doc,
        )
    return table


def register_cli(
    app: typer.Typer,
    *,
    friendly_errors: Callable[[Any], Any],
    open_ws: Callable[..., Any],
    console: Callable[[], Console],
) -> None:
    """Add ``set`` and ``settings`` to ``app`` (``console()``: the CLI's current console)."""

    @app.command("set")
    @friendly_errors
    def set_setting(
        key: Annotated[str, typer.Argument(help="Setting, e.g. pricing.max_step.")],
        value: Annotated[
            str,
            typer.Argument(help="New value, e.g. 0.05 or 5% (shares), yes/no, auto, SKU=12.5."),
        ],
        workspace: WorkspaceOpt = DEFAULT_WS,
    ) -> None:
        """Set an analysis setting (checked against its allowed range); the next
        analyze, advise or report re-runs what depends on it."""
        with open_ws(workspace) as ws:
            v = ws.settings.set(key, value, by=_who())
        shown = v.setting.to_text(v.value) or "(none)"
        unit = f" {v.setting.unit}" if v.setting.unit else ""
        console().print(
            f"{key} = {shown}{unit} (re-runs {', '.join(v.setting.analyses)} when next needed)",
            highlight=False,
        )

    @app.command("settings")
    @friendly_errors
    def list_settings(
        workspace: WorkspaceOpt = DEFAULT_WS,
        reset: Annotated[
            list[str] | None,
            typer.Option("--reset", help="Forget your value of this setting (repeatable)."),
        ] = None,
        prefix: Annotated[
            str | None,
            typer.Argument(help="Only settings starting with this, e.g. pricing."),
        ] = None,
        history: Annotated[
            bool, typer.Option("--history", help="Show the latest changes (who, when, old, new).")
        ] = False,
    ) -> None:
        """List every analysis setting with its value, unit, allowed values and where the
        value came from (default, business profile, user); --reset KEY forgets a value."""
        with open_ws(workspace, reading=not reset) as ws:
            for key in reset or ():
                v = ws.settings.reset(key, by=_who())
                console().print(
                    f"{key} reset: {v.setting.to_text(v.value) or '(none)'} (from {v.source})",
                    highlight=False,
                )
            if reset:
                return
            rows = [v for v in ws.settings.values() if v.setting.key.startswith(prefix or "")]
            if history:
                changes = Table(title="Latest changes", title_justify="left")
                for col in ("when (UTC)", "who", "setting", "old", "new"):
                    changes.add_column(col)
                for c in ws.settings.ledger():
                    changes.add_row(
                        f"{c['at']:%Y-%m-%d %H:%M}", c["by"], c["key"], c["old"], c["new"]
                    )
                console().print(changes)
                return
        console().print(_value_table(rows, f"Settings of {workspace}"))
        console().print(
            "Change one with 'levelfield set KEY VALUE'; forget it with "
            "'levelfield settings --reset KEY'.",
            highlight=False,
        )
