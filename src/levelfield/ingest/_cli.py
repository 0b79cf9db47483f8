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


# Argument and option declarations of ``levelfield import`` (Typer reads them from
# the annotations).
_Kind = Annotated[str, typer.Argument(help="What the file holds: " + ", ".join(KINDS) + ".")]
_File = Annotated[Path, typer.Argument(help="Export file: CSV/TSV, XLSX or Parquet.")]
_Profile = Annotated[
    str | None,
    typer.Option(help="Order layout (detected from the header): " + ", ".join(PROFILES)),
]
_Map = Annotated[
    list[str] | None,
    typer.Option("--map", help='Column mapping "Your column=field" (repeatable).'),
]
_Channel = Annotated[str | None, typer.Option(help="Sales channel of these orders.")]
_Dayfirst = Annotated[
    bool | None,
    typer.Option("--dayfirst/--monthfirst", help="Dates are DD/MM (or MM/DD)."),
]
_DateFormat = Annotated[
    str | None, typer.Option(help='strftime format of the dates, e.g. "%d.%m.%Y".')
]
_DecimalComma = Annotated[
    bool | None,
    typer.Option("--decimal-comma/--decimal-point", help="Amounts use 12,50 (or 12.50)."),
]
_Currency = Annotated[
    str | None, typer.Option(help="ISO currency when the file has none, e.g. EUR.")
]
_MaxRejectRate = Annotated[
    float, typer.Option(help="Largest share of bad rows (0-1) before the import fails.")
]
_Sheet = Annotated[str | None, typer.Option(help="Worksheet of an XLSX file.")]
_Store = Annotated[
    str | None,
    typer.Option(
        help="Store or account these orders come from; keeps order numbers of "
        "different stores apart (WooCommerce, generic files)."
    ),
]
_Workspace = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", help="Workspace file (DuckDB).", envvar="LEVELFIELD_WORKSPACE"
    ),
]


def _import_command(
    progress_bar: Callable[[str], AbstractContextManager[ProgressCallback]],
) -> _Command:
    """The ``import`` command, showing its progress with ``progress_bar``."""

    def import_cmd(
        kind: _Kind,
        file: _File,
        profile: _Profile = None,
        map_: _Map = None,
        channel: _Channel = None,
        dayfirst: _Dayfirst = None,
        date_format: _DateFormat = None,
        decimal_comma: _DecimalComma = None,
        currency: _Currency = None,
        max_reject_rate: _MaxRejectRate = 0.01,
        sheet: _Sheet = None,
        store: _Store = None,
        workspace: _Workspace = Path("levelfield.duckdb"),
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

    return import_cmd


def _template_command(extras: Mapping[str, Callable[[], str]]) -> _Command:
    """The ``template`` command; ``extras`` are the templates of other packages' inputs."""

    def template_cmd(
        # A default, not Annotated: the help names kinds known only at registration.
        kind: str = typer.Argument(..., help="One of: " + ", ".join([*KINDS, *extras]) + "."),
    ) -> None:
        """Print a CSV template with one example row (redirect it to a file and fill it in)."""
        typer.echo(extras[kind]() if kind in extras else template_csv(kind), nl=False)

    return template_cmd


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
    app.command("import")(friendly_errors(_import_command(progress_bar)))
    app.command("template")(friendly_errors(_template_command(dict(extra_templates or {}))))
