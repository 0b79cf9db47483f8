"""``levelfield fleet demo|run``: the fleet commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console

if TYPE_CHECKING:
    from levelfield.fleet._spark import FleetRun

console = Console()


def _noise_secret(directory: Path) -> bytes:
    """The fleet's private noise key (``peer_secret.key``, made once, kept like the ledger)."""
    import secrets

    path = directory / "peer_secret.key"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def publish_peers(
    directory: Path,
    findings: Path,
    *,
    k: int,
    epsilon: float | None = None,
    run_id: str | None = None,
) -> tuple[Path, int, int]:
    """Peer benchmarks of a run: ``peer_benchmarks.parquet`` and the private ledger.

    The ledger of the previous release (``peer_ledger.parquet``) is read first, so that a
    group whose members changed by fewer than ``k`` is suppressed rather than republished.
    The release's privacy statement (k, and with ``epsilon`` the differential-privacy
    budget) goes to ``peer_privacy.json``, with ``run``: the id of the fleet run whose
    ``findings`` (a run's folder, ``fleet_findings/run=<id>``) it was computed from.
    """
    import json

    import pandas as pd

    from levelfield.errors import DataError
    from levelfield.fleet._peers import peer_benchmarks

    biz_file = directory / "businesses.parquet"
    if not biz_file.is_file():
        raise DataError(
            f"{biz_file} is missing: peer benchmarks need the businesses table (business_id, "
            "sector, region, size_band, consent)"
        )
    ledger_file = directory / "peer_ledger.parquet"
    ledger = pd.read_parquet(ledger_file) if ledger_file.is_file() else None
    release = peer_benchmarks(
        pd.read_parquet(findings),
        pd.read_parquet(biz_file),
        k=k,
        ledger=ledger,
        epsilon=epsilon,
        secret=_noise_secret(directory) if epsilon is not None else None,
    )
    out = directory / "peer_benchmarks.parquet"
    for frame, path in ((release.table, out), (release.ledger, ledger_file)):
        tmp = path.with_name(f".{path.name}.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
    privacy = directory / "peer_privacy.json"
    tmp = privacy.with_name(f".{privacy.name}.tmp")
    statement = dict(release.privacy) | ({"run": run_id} if run_id is not None else {})
    tmp.write_text(json.dumps(statement, indent=2))
    tmp.replace(privacy)
    published = int((release.table["status"] != "suppressed").sum())
    return out, published, int(len(release.table) - published)


def register_cli(app: Any, *, friendly_errors: Any, progress_bar: Any) -> None:
    """Add the ``fleet`` command group to the Typer ``app``."""
    errors = cast(Callable[[Callable[..., None]], Callable[..., None]], friendly_errors)
    group = typer.Typer(
        help="Many businesses on Apache Spark, with anonymous peer benchmarks "
        "(pip install 'levelfield[fleet]'; Java 17).",
        no_args_is_help=True,
    )
    app.add_typer(group, name="fleet")
    group.command("demo")(errors(demo_cmd))
    group.command("run")(errors(run_cmd))
    group.command("report")(errors(report_cmd))


def demo_cmd(
    n: Annotated[int, typer.Argument(help="Number of businesses.")],
    directory: Annotated[Path, typer.Argument(help="Fleet directory to write.")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same fleet).")] = 0,
    workspaces: Annotated[
        bool,
        typer.Option("--workspaces", help="Also one workspace per business (through ingest)."),
    ] = False,
) -> None:
    """Write a demo fleet (same as 'levelfield demo --fleet N DIR')."""
    from levelfield.fleet import demo_fleet

    made = demo_fleet(n, directory, seed=seed, workspaces=workspaces)
    console.print(made.sentence(), highlight=False, markup=False)


def run_cmd(
    directory: Annotated[
        Path, typer.Argument(help="Fleet directory (orders/, businesses.parquet).")
    ],
    master: Annotated[
        str | None,
        typer.Option(
            "--master", envvar="SPARK_MASTER", help="Spark master URL (default local[2])."
        ),
    ] = None,
    k: Annotated[
        int, typer.Option(help="Minimum consenting businesses per published peer group.")
    ] = 10,
    epsilon: Annotated[
        float | None,
        typer.Option(
            "--epsilon",
            help="Differential privacy: total budget of the peer release (Laplace noise "
            "on clipped statistics; the budget is stated in peer_privacy.json).",
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="auto (orders/ Parquet when present, else workspaces/), parquet or workspaces.",
        ),
    ] = "auto",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Recompute even when a run over the same input and settings exists "
            "(its partition is replaced).",
        ),
    ] = False,
) -> None:
    """Per-business customer, exposure and pricing metrics on Spark, then peer benchmarks.

    Input: DIR/orders/ (Parquet, with business_id), DIR/order_lines/, DIR/suppliers/,
    DIR/products/, DIR/channels.parquet and DIR/businesses.parquet; or
    DIR/workspaces/<business_id>.duckdb. Output: DIR/fleet_findings/run=<run id>/
    (partitioned by analysis; earlier runs stay) and
    DIR/fleet_findings/latest.json (the current run), DIR/peer_benchmarks.parquet,
    DIR/peer_privacy.json; private: DIR/peer_ledger.parquet (and peer_secret.key). A rerun
    over unchanged input computes nothing.
    """
    import logging

    from levelfield.errors import ConfigError
    from levelfield.fleet import run

    if source not in ("auto", "parquet", "workspaces"):
        raise ConfigError(f"--source must be auto, parquet or workspaces, not {source!r}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = run(directory, master=master, source=source, force=force)  # type: ignore[arg-type]
    _print_run(result)
    peers, published, suppressed = publish_peers(
        directory, result.findings, k=k, epsilon=epsilon, run_id=result.run_fingerprint
    )
    console.print(
        f"Peer benchmarks (k={k}"
        + (f", epsilon={epsilon:g}" if epsilon is not None else "")
        + f"): {published:,} groups published or coarsened, {suppressed:,} suppressed."
        f"\nPeers: {peers}\nAssociation report: levelfield fleet report {directory} "
        f"-o fleet-report.html",
        highlight=False,
        markup=False,
    )


def _print_run(result: FleetRun) -> None:
    """What the run did and where its findings are."""
    what = (
        "same input and settings as an earlier run: nothing recomputed (--force recomputes)"
        if result.reused
        else f"on {result.master}"
    )
    console.print(
        f"Fleet run {result.run_fingerprint} {what}: {result.n_businesses:,} businesses, "
        f"{result.n_metric_rows:,} metric rows, {result.n_error_rows:,} error rows (a "
        f"business's analysis that failed).\nFindings: {result.findings}\n"
        f"Current run: {result.latest}",
        highlight=False,
        markup=False,
    )


def report_cmd(
    directory: Annotated[
        Path, typer.Argument(help="Fleet directory with peer_benchmarks.parquet.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "fleet-report.html"
    ),
) -> None:
    """The association's one-file HTML report, from the published peer release only."""
    from levelfield.fleet._report import write_fleet_report

    path = write_fleet_report(directory, output)
    console.print(f"Fleet report written: {path.resolve()}", highlight=False, markup=False)
