"""``levelfield fleet demo|run``: the fleet commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console

console = Console()


def publish_peers(directory: Path, findings: Path, *, k: int) -> tuple[Path, int, int]:
    """Peer benchmarks of a run: ``peer_benchmarks.parquet`` and the private ledger.

    The ledger of the previous release (``peer_ledger.parquet``) is read first, so that a
    group whose members changed by fewer than ``k`` is suppressed rather than republished.
    """
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
        pd.read_parquet(findings), pd.read_parquet(biz_file), k=k, ledger=ledger
    )
    out = directory / "peer_benchmarks.parquet"
    for frame, path in ((release.table, out), (release.ledger, ledger_file)):
        tmp = path.with_name(f".{path.name}.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
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

    @group.command("demo")
    @errors
    def demo(
        n: Annotated[int, typer.Argument(help="Number of businesses.")],
        directory: Annotated[Path, typer.Argument(help="Fleet directory to write.")],
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same fleet).")] = 0,
    ) -> None:
        """Write a demo fleet: orders/*.parquet (with business_id) and businesses.parquet."""
        from levelfield.fleet import demo_fleet

        made = demo_fleet(n, directory, seed=seed)
        console.print(
            f"Wrote {made.n_businesses:,} businesses ({made.n_orders:,} orders) to "
            f"{made.directory}. Next: levelfield fleet run {made.directory}",
            highlight=False,
        )

    @group.command("run")
    @errors
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
    ) -> None:
        """Per-business customer and exposure metrics on Spark, then peer benchmarks."""
        from levelfield.fleet import run

        result = run(directory, master=master)
        console.print(
            f"Fleet run {result.run_fingerprint} on {result.master}: {result.n_businesses:,} "
            f"businesses, {result.n_metric_rows:,} metric rows, {result.n_error_rows:,} "
            f"businesses' analyses failed (error rows).\nFindings: {result.findings}",
            highlight=False,
        )
        peers, published, suppressed = publish_peers(directory, result.findings, k=k)
        console.print(
            f"Peer benchmarks (k={k}): {published:,} groups published or coarsened, "
            f"{suppressed:,} suppressed.\nPeers: {peers}",
            highlight=False,
        )
