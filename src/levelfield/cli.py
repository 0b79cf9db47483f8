"""The ``levelfield`` command line (Typer + Rich).

Every command takes ``--workspace PATH`` (default ``./levelfield.duckdb``). Errors the
user can fix print ``TypeName: message`` on stderr and exit 1, without a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import duckdb
import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from levelfield._version import __version__
from levelfield._warnings import plain_warnings
from levelfield.errors import ConfigError, LevelfieldError
from levelfield.findings import ProgressCallback
from levelfield.pipeline import ANALYSES, analysis_module, run_analysis

__all__ = ["ANALYSES", "app", "main"]

app = typer.Typer(
    name="levelfield",
    help="Strategy analytics for small and medium businesses, from the exports you have.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)


WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", help="Workspace file (DuckDB).", envvar="LEVELFIELD_WORKSPACE"
    ),
]
DEFAULT_WS = Path("levelfield.duckdb")

P = ParamSpec("P")
R = TypeVar("R")


def _was_interrupted(exc: BaseException) -> bool:
    """Whether Ctrl-C caused ``exc``: DuckDB reports an interrupt that reaches it inside
    a nested call (a streamed read, a thread) as a plain ``RuntimeError: Query
    interrupted``, possibly wrapped by the caller."""
    seen: BaseException | None = exc
    for _ in range(10):  # the chain of causes, not data
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt | duckdb.InterruptException) or (
            isinstance(seen, RuntimeError) and "Query interrupted" in str(seen)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print library errors as ``TypeName: message`` and exit 1, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            # Python warnings as one plain sentence each, not "file.py:508: ...".
            with plain_warnings(lambda text: err_console.print(text, highlight=False)):
                return func(*args, **kwargs)
        except LevelfieldError as exc:
            # Not wrapped by Rich: a file path in the message stays whole, to copy.
            err_console.print(
                f"[bold red]{type(exc).__name__}[/]: {exc}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from None
        except (KeyboardInterrupt, duckdb.InterruptException):
            # DuckDB turns Ctrl-C during a query into its own exception.
            err_console.print("Interrupted: nothing was changed by the interrupted step.")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except duckdb.IOException as exc:
            err_console.print(
                f"[bold red]WorkspaceError[/]: cannot read or write the workspace ({exc}); "
                "the disk may be full, or the file damaged (restore it from a backup)",
                highlight=False,
            )
            raise typer.Exit(1) from None
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            err_console.print(
                f"[bold red]{type(exc).__name__}[/]: cannot use{where}: "
                f"{exc.strerror or exc}; check the path and its permissions",
                highlight=False,
            )
            raise typer.Exit(1) from None
        except Exception as exc:  # a bug, not a user mistake: say so plainly
            if _was_interrupted(exc):
                err_console.print("Interrupted: nothing was changed by the interrupted step.")
                raise typer.Exit(130) from None
            if os.environ.get("LEVELFIELD_DEBUG"):
                traceback.print_exc()
            err_console.print(
                f"[bold red]InternalError[/]: {type(exc).__name__}: {exc}\n"
                "This is a bug in levelfield, not in your data. Run again with "
                "'levelfield --debug ...' to see the details and report them.",
                highlight=False,
            )
            raise typer.Exit(2) from None

    return wrapper


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
    """A Rich progress bar exposed as a ``progress(step, fraction)`` callback."""
    quiet = not sys.stderr.isatty() and os.environ.get("LEVELFIELD_PROGRESS") != "1"
    if quiet:
        yield lambda step, fraction: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=1.0, step="")

        def update(step: str, fraction: float) -> None:
            bar.update(task, completed=max(0.0, min(1.0, fraction)), step=step)

        yield update


def _open(workspace: Path, *, create: bool = False, reading: bool = False) -> Any:
    """Open ``workspace``; a command that only ``reading`` opens a read-only file read-only."""
    from levelfield.workspace import open_workspace, workspace_is_writable

    if reading and workspace.is_file() and not workspace_is_writable(workspace):
        err_console.print(
            f"{workspace} is read-only: reading it; runs are not recorded.", highlight=False
        )
        return open_workspace(workspace, create=False, read_only=True)
    return open_workspace(workspace, create=create)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"levelfield {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    key_dir: Annotated[
        Path | None,
        typer.Option(
            "--key-dir",
            help="Folder of the workspaces' pseudonym keys (default ~/.config/levelfield/keys).",
            envvar="LEVELFIELD_KEY_DIR",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="On an unexpected error, show the traceback (for bug reports)."
        ),
    ] = False,
) -> None:
    """levelfield: strategy analytics for small and medium businesses."""
    if debug:
        os.environ["LEVELFIELD_DEBUG"] = "1"
    if key_dir is not None:
        # open_workspace reads the key dir from the environment: one place to look.
        os.environ["LEVELFIELD_KEY_DIR"] = str(key_dir)


@app.command()
@_friendly_errors
def init(
    path: Annotated[Path, typer.Argument(help="Workspace file to create.")] = DEFAULT_WS,
) -> None:
    """Create a new, empty workspace (or open and upgrade an existing one)."""
    with _open(path, create=True) as ws:
        console.print(f"Workspace ready: [bold]{ws.path}[/]")


@app.command()
@_friendly_errors
def status(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Show what the workspace holds: table counts and the import ledger."""
    with _open(workspace, reading=True) as ws:
        table = Table(title=f"{ws.path}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in ws.counts().items():
            table.add_row(name, f"{n:,}")
        console.print(table)
        rows = ws.con.execute(
            "SELECT import_id, kind, source_name, profile, rows_loaded, rows_rejected, status, "
            "finished_at FROM imports ORDER BY import_id DESC LIMIT 20"
        ).fetchall()
        if rows:
            ledger = Table(title="Imports (newest first)")
            for col in ("id", "kind", "file", "profile", "loaded", "rejected", "status", "when"):
                ledger.add_column(col, justify="right" if col in ("loaded", "rejected") else "left")
            for r in rows:
                when = r[7].strftime("%Y-%m-%d %H:%M") if r[7] is not None else ""
                ledger.add_row(str(r[0]), r[1], r[2], r[3], f"{r[4]:,}", f"{r[5]:,}", r[6], when)
            console.print(ledger)
        console.print(f"data fingerprint: {ws.fingerprint()}")


@app.command()
@_friendly_errors
def analyze(
    analysis: Annotated[
        str,
        typer.Argument(
            help="customers, subscriptions, landscape, exposure, pricing, scenarios, "
            "financing or all."
        ),
    ] = "all",
    workspace: WorkspaceOpt = DEFAULT_WS,
) -> None:
    """Run an analysis (or all of them) and print its headline findings."""
    names = ANALYSES if analysis == "all" else (analysis,)
    for name in names:
        analysis_module(name)
    from levelfield.workspace import fx_statement

    with _open(workspace, reading=True) as ws:
        for name in names:
            with progress_bar(f"Analysing {name}") as progress:
                try:
                    result = run_analysis(ws, name, progress)
                except LevelfieldError as exc:
                    if analysis != "all":
                        raise
                    err_console.print(
                        f"[yellow]{name}: skipped[/] ({type(exc).__name__}: {exc})", highlight=False
                    )
                    continue
            console.print(
                Panel("\n".join(result.headline()), title=name.capitalize(), expand=False)
            )
        fx = fx_statement(ws.con)
        if fx.multi_currency or fx.missing:
            console.print(f"Money: {fx.text()}.", highlight=False)


@app.command()
@_friendly_errors
def advise(
    workspace: WorkspaceOpt = DEFAULT_WS,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="text (the headline), markdown or json (the whole plan: every ranked action "
            "with its assumptions and chance of success, automation, scorecard, missing data).",
        ),
    ] = "text",
) -> None:
    """Turn the analyses' findings into ranked, concrete actions."""
    from levelfield import advice

    if fmt not in ("text", "markdown", "json"):
        raise ConfigError(f"--format must be text, markdown or json, not {fmt!r}")
    with _open(workspace, reading=True) as ws, progress_bar("Advising") as progress:
        plan = advice.advise(ws, progress=progress)
    if fmt == "json":
        typer.echo(json.dumps(advice.plan_to_dict(plan), indent=2, allow_nan=False))
    elif fmt == "markdown":
        typer.echo(advice.plan_markdown(plan), nl=False)
    else:
        console.print(Panel("\n".join(plan.headline()), title="What to do next", expand=False))


@app.command()
@_friendly_errors
def report(
    workspace: WorkspaceOpt = DEFAULT_WS,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="HTML file to write (report.html, or lender-pack.html)."
        ),
    ] = None,
    lender: Annotated[
        bool,
        typer.Option(
            "--lender",
            help="Write the lender pack instead: credit offers ranked by APR, the 13-week cash "
            "forecast, lender metrics with their thresholds, data sources; totals only, no "
            "customer data; print it to PDF from the browser.",
        ),
    ] = False,
    peers: Annotated[
        Path | None,
        typer.Option(
            "--peers",
            help="Peer release (peer_benchmarks.parquet of 'levelfield fleet run'): adds where "
            "the business stands among similar businesses (profile keys sector, region, "
            "size_band).",
        ),
    ] = None,
) -> None:
    """Write the one-file HTML report (works offline), or with --lender the lender pack."""
    from levelfield import report as report_mod

    if lender:
        target = output or Path("lender-pack.html")
        with _open(workspace, reading=True) as ws, progress_bar("Writing lender pack") as bar:
            path = report_mod.write_lender_pack(ws, target, progress=bar)
        console.print(f"Lender pack written: [bold]{path.resolve()}[/]")
        return
    with _open(workspace, reading=True) as ws, progress_bar("Writing report") as progress:
        path = report_mod.write_report(
            ws, output or Path("report.html"), progress=progress, peers=peers
        )
    console.print(f"Report written: [bold]{path.resolve()}[/]")


@app.command()
@_friendly_errors
def export(
    what: Annotated[
        str,
        typer.Argument(
            help="tables (every result table) or contacts (a segment's customers with their "
            "e-mails, read back from your own export files; never stored)."
        ),
    ] = "tables",
    workspace: WorkspaceOpt = DEFAULT_WS,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="tables: folder to write into (default levelfield-export); contacts: the CSV "
            "file (default contacts.csv), written with owner-only permissions.",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="tables: csv, xlsx or both (default); contacts: csv (default), klaviyo, "
            "mailchimp or shopify (their customer import columns).",
        ),
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option(
            help="contacts: at-risk, champions, win-back, loyal, cant-lose, ... or all "
            "(repeatable; default at-risk)."
        ),
    ] = None,
    from_: Annotated[
        list[Path] | None,
        typer.Option(
            "--from", help="contacts: an order export you imported (repeatable), read again."
        ),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help='contacts: the "Your column=field" mapping the files were imported with.'
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="contacts: the order layout (detected from the header).")
    ] = None,
    sheet: Annotated[
        str | None, typer.Option(help="contacts: the worksheet of an XLSX export.")
    ] = None,
) -> None:
    """Write the analyses' result tables (CSV/XLSX), or a segment's contacts to act on."""
    from levelfield import report as report_mod

    if what == "contacts":
        _export_contacts(workspace, output, fmt, segment, from_, map_, profile, sheet)
        return
    if what != "tables":
        raise ConfigError(f"export tables or contacts, not {what!r}")
    fmt = fmt or "both"
    if fmt not in ("csv", "xlsx", "both"):
        raise ConfigError(f"--format must be csv, xlsx or both, not {fmt!r}")
    with _open(workspace, reading=True) as ws, progress_bar("Exporting") as progress:
        files = report_mod.export_tables(
            ws, output or Path("levelfield-export"), fmt=fmt, progress=progress
        )
    for f in files:
        console.print(f"wrote {f}")


def _export_contacts(
    workspace: Path,
    output: Path | None,
    fmt: str | None,
    segment: list[str] | None,
    files: list[Path] | None,
    mapping: list[str] | None,
    profile: str | None,
    sheet: str | None = None,
) -> None:
    """``levelfield export contacts``: read the exports again, write the segment's list."""
    from levelfield import report as report_mod

    fmt = fmt or "csv"
    out = output or Path("contacts.csv")
    sources = [
        report_mod.ContactSource(Path(f), profile=profile, mapping=mapping, sheet=sheet)
        for f in files or []
    ]
    with _open(workspace, reading=True) as ws, progress_bar("Finding contacts") as progress:
        progress("reading your exports and the customer model", 0.1)
        contacts = report_mod.contact_list(ws, sources, segments=segment or ["at-risk"], fmt=fmt)
        report_mod.write_contacts(contacts, out)
    console.print(
        f"wrote {out}: {len(contacts.frame):,} contacts ({', '.join(contacts.segments)}; "
        f"{contacts.matched:,} customers found in {', '.join(contacts.files)})",
        highlight=False,
    )
    for note in contacts.notes:
        console.print(f"Note: {note}.", highlight=False)
    err_console.print(f"[bold yellow]Personal data[/]: {report_mod.PERSONAL_DATA_WARNING}")


@app.command()
@_friendly_errors
def serve(
    demo: Annotated[bool, typer.Option(help="Start with a demo organization and account.")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[
        Path, typer.Option(help="Where accounts and organization workspaces are kept.")
    ] = Path("levelfield-web"),
    signup: Annotated[
        bool,
        typer.Option(
            "--signup/--no-signup",
            help="Let anyone create an account (--no-signup: private server, people join "
            "by an owner's invitation link).",
        ),
    ] = True,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="Address of a reverse proxy whose X-Forwarded-For/-Proto headers are "
            "believed (repeat for several); without it the client is the TCP peer.",
        ),
    ] = None,
) -> None:
    """Start the web app (FastAPI + HTMX)."""
    from levelfield import web

    settings = web.Settings(allow_signup=signup, trusted_proxies=tuple(trusted_proxy or ()))
    web.serve(
        host=host, port=port, data_dir=data_dir, demo=demo, console=console, settings=settings
    )


key_app = typer.Typer(
    help="Back up or restore a workspace's pseudonym key (kept outside the workspace file).",
    no_args_is_help=True,
)
app.add_typer(key_app, name="key")


@key_app.command("path")
@_friendly_errors
def key_path(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Print where the workspace's pseudonym key file is kept."""
    with _open(workspace, reading=True) as ws:
        state = "present" if ws.has_key else "MISSING"
        console.print(f"{ws.key_path} ({state})", highlight=False)


@key_app.command("export")
@_friendly_errors
def key_export(
    output: Annotated[Path, typer.Argument(help="Backup file to write (mode 0600).")],
    workspace: WorkspaceOpt = DEFAULT_WS,
) -> None:
    """Write a backup of the pseudonym key; keep it private and apart from the workspace."""
    with _open(workspace, reading=True) as ws:
        text = ws.export_key().text()
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{output} exists; choose a new file name for the key backup") from None
    except OSError as exc:
        raise ConfigError(f"cannot write the key backup to {output}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
    console.print(f"Key backup written: [bold]{output}[/] (restore with 'levelfield key import')")


@key_app.command("import")
@_friendly_errors
def key_import(
    backup: Annotated[Path, typer.Argument(help="Backup written by 'levelfield key export'.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
) -> None:
    """Restore the pseudonym key of a workspace from a backup."""
    from levelfield.workspace import parse_key_backup

    try:
        text = backup.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {backup}: {exc.strerror}") from None
    parsed = parse_key_backup(text, backup.name)
    with _open(workspace) as ws:
        changed = ws.restore_key(parsed)
        where = ws.key_path
    console.print(f"Key {'restored' if changed else 'already in place'}: {where}", highlight=False)


def _register_subcommands() -> None:
    # Commands whose options belong to their package: ingest (import, template) and demo.
    from levelfield.cooperation import TEMPLATES as COOP_TEMPLATES
    from levelfield.cooperation import template_csv as cooperation_template
    from levelfield.cooperation._cli import register_cli as register_cooperation
    from levelfield.demo._cli import register_cli as register_demo
    from levelfield.ingest._cli import register_cli as register_ingest

    register_ingest(
        app,
        friendly_errors=_friendly_errors,
        progress_bar=progress_bar,
        extra_templates={k: functools.partial(cooperation_template, k) for k in COOP_TEMPLATES},
    )
    register_cooperation(app, friendly_errors=_friendly_errors)
    register_demo(app, friendly_errors=_friendly_errors, progress_bar=progress_bar)
    from levelfield.provenance._cli import register_cli as register_provenance

    register_provenance(app, friendly_errors=_friendly_errors, progress_bar=progress_bar)
    from levelfield.fleet._cli import register_cli as register_fleet

    register_fleet(app, friendly_errors=_friendly_errors, progress_bar=progress_bar)
    from levelfield._settings_cli import register_cli as register_settings

    register_settings(app, friendly_errors=_friendly_errors, open_ws=_open, console=lambda: console)


_register_subcommands()


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
