"""The ``levelfield import`` and ``levelfield template`` commands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import typer

from levelfield.findings import ProgressCallback
from levelfield.ingest._import import KINDS, PROFILES, import_file, template_csv

_Command = Callable[..., None]

__all__ = ["register_cli"]


def register_cli(
    app: typer.Typer,
    *,
    friendly_errors: Callable[[_Command], _Command],
    progress_bar: Callable[[str], AbstractContextManager[ProgressCallback]],
    extra_templates: Mapping[str, Callable[[], str]] | None = None,
) -> None:
    """Add the ``import`` and ``template`` commands to the Typer ``app``.

    Parameters
    ----------
    app
        The ``levelfield`` Typer application.
    friendly_errors
        Decorator printing ``TypeName: message`` and exiting 1 on library errors.
    progress_bar
        Context manager ``progress_bar(description)`` yielding ``progress(step, fraction)``.
    extra_templates
        Templates of inputs that other packages read (not imported into a workspace),
        by kind: ``template KIND`` prints ``extra_templates[KIND]()``.
    """
    extras = dict(extra_templates or {})

    @app.command("import")
    @friendly_errors
    def import_cmd(
        kind: Annotated[str, typer.Argument(help="What the file holds: " + ", ".join(KINDS) + ".")],
        file: Annotated[Path, typer.Argument(help="Export file: CSV/TSV, XLSX or Parquet.")],
        profile: Annotated[
            str | None,
            typer.Option(help="Order layout (detected from the header): " + ", ".join(PROFILES)),
        ] = None,
        map_: Annotated[
            list[str] | None,
            typer.Option("--map", help='Column mapping "Your column=field" (repeatable).'),
        ] = None,
        channel: Annotated[str | None, typer.Option(help="Sales channel of these orders.")] = None,
        dayfirst: Annotated[
            bool | None,
            typer.Option("--dayfirst/--monthfirst", help="Dates are DD/MM (or MM/DD)."),
        ] = None,
        date_format: Annotated[
            str | None, typer.Option(help='strftime format of the dates, e.g. "%d.%m.%Y".')
        ] = None,
        decimal_comma: Annotated[
            bool | None,
            typer.Option("--decimal-comma/--decimal-point", help="Amounts use 12,50 (or 12.50)."),
        ] = None,
        currency: Annotated[
            str | None, typer.Option(help="ISO currency when the file has none, e.g. EUR.")
        ] = None,
        max_reject_rate: Annotated[
            float, typer.Option(help="Largest share of bad rows (0-1) before the import fails.")
        ] = 0.01,
        sheet: Annotated[str | None, typer.Option(help="Worksheet of an XLSX file.")] = None,
        store: Annotated[
            str | None,
            typer.Option(
                help="Store or account these orders come from; keeps order numbers of "
                "different stores apart (WooCommerce, generic files)."
            ),
        ] = None,
        workspace: Annotated[
            Path,
            typer.Option(
                "--workspace", "-w", help="Workspace file (DuckDB).", envvar="LEVELFIELD_WORKSPACE"
            ),
        ] = Path("levelfield.duckdb"),
    ) -> None:
        """Import an export file (orders from Shopify, Square, Stripe, WooCommerce, Etsy,
        Amazon, ... or a levelfield CSV) into the workspace, all or nothing."""
        from levelfield.workspace import open_workspace

        with open_workspace(workspace) as ws, progress_bar(f"Importing {file.name}") as progress:
            summary = import_file(
                ws,
                kind,
                file,
                profile=profile,
                mapping=map_ or None,
                channel=channel,
                dayfirst=dayfirst,
                date_format=date_format,
                decimal_comma=decimal_comma,
                currency=currency,
                max_reject_rate=max_reject_rate,
                sheet=sheet,
                store=store,
                progress=progress,
            )
        for line in summary.lines():
            typer.echo(line)

    @app.command("template")
    @friendly_errors
    def template_cmd(
        # A default, not Annotated: the help names kinds known only at registration.
        kind: str = typer.Argument(..., help="One of: " + ", ".join([*KINDS, *extras]) + "."),
    ) -> None:
        """Print a CSV template with one example row (redirect it to a file and fill it in)."""
        typer.echo(extras[kind]() if kind in extras else template_csv(kind), nl=False)
