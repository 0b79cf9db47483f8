"""The ``levelfield demo`` command (only ``levelfield.cli`` imports it: Typer stays out)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from levelfield.demo._build import build_demo
from levelfield.demo._fleet import demo_fleet
from levelfield.errors import ConfigError

__all__ = ["register_cli"]


# Argument and option declarations of ``levelfield demo`` (Typer reads the annotations).
_Directory = Annotated[Path, typer.Argument(help="Folder to create the demo in.")]
_Seed = Annotated[int, typer.Option(help="Random seed (same seed, same files).")]
_Force = Annotated[bool, typer.Option("--force", help="Replace an existing demo in DIR.")]
_Customers = Annotated[int, typer.Option("--customers", help="Identified customers to simulate.")]
_Workspace = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace file (default DIR/levelfield.duckdb)."),
]
_EurWholesale = Annotated[
    bool,
    typer.Option(
        "--eur-wholesale",
        help="Bill the EU wholesale cafés in EUR (a second currency, converted to "
        "USD at ECB rates on import); the planted truths stay the same.",
    ),
]
_Fleet = Annotated[
    int | None,
    typer.Option(
        "--fleet",
        metavar="N",
        help="Write a demo fleet of N businesses of six sectors instead (Parquet "
        "dataset for 'levelfield fleet run DIR'; the generated exports go through the real "
        "ingest path, so customer ids are pseudonyms).",
    ),
]
_Workspaces = Annotated[
    bool,
    typer.Option(
        "--workspaces",
        help="With --fleet: also one workspace per business, through the real ingest "
        "path (DIR/workspaces/<business_id>.duckdb).",
    ),
]


def _demo_command(progress_bar: Any, console: Any) -> Callable[..., None]:
    """The ``demo`` command, printing with ``console`` and showing ``progress_bar``."""

    def demo(
        directory: _Directory = Path("demo"),
        seed: _Seed = 7,
        force: _Force = False,
        customers: _Customers = 10_000,
        workspace: _Workspace = None,
        eur_wholesale: _EurWholesale = False,
        fleet: _Fleet = None,
        workspaces: _Workspaces = False,
    ) -> None:
        """Create a demo coffee roaster with three years of exports and known truth.

        With --fleet N: N small businesses (coffee, bakery, bike shop, bookshop, apparel,
        crafts) of varied sizes, channels and regions for fleet mode.
        """
        if fleet is not None:
            made = demo_fleet(fleet, directory, seed=seed, workspaces=workspaces)
            console.print(made.sentence(), highlight=False, markup=False)
            return
        if workspaces:
            raise ConfigError("--workspaces goes with --fleet N")
        with progress_bar("Building the demo business") as progress:
            result = build_demo(
                directory,
                seed=seed,
                n_customers=customers,
                force=force,
                workspace=workspace,
                progress=progress,
                eur_wholesale=eur_wholesale,
            )
        for line in result.lines():
            console.print(line, highlight=False, markup=False, soft_wrap=True)

    return demo


def register_cli(app: Any, *, friendly_errors: Any, progress_bar: Any) -> None:
    """Add the ``demo`` command to the Typer ``app``."""
    from rich.console import Console

    command = cast(Callable[[Callable[..., None]], Callable[..., None]], app.command())
    errors = cast(Callable[[Callable[..., None]], Callable[..., None]], friendly_errors)
    command(errors(_demo_command(progress_bar, Console())))
