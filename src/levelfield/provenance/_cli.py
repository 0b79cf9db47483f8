"""``levelfield provenance ...``: add to the log, list lots, export and verify records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from levelfield.errors import ConfigError
from levelfield.provenance._bundle import build_export, read_export_file, verify_export
from levelfield.provenance._entries import (
    certificate_entry,
    lot_entry,
    shipment_entry,
    transformation_entry,
)
from levelfield.provenance._html import qr_target, write_export_html
from levelfield.provenance._keys import format_fingerprint
from levelfield.provenance._lineage import lineage, lot_rows
from levelfield.provenance._log import ProvenanceLog
from levelfield.workspace import Workspace, open_workspace

__all__ = ["read_export_file", "register_cli"]

WS = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", help="Workspace file (DuckDB).", envvar="LEVELFIELD_WORKSPACE"
    ),
]
DEFAULT_WS = Path("levelfield.duckdb")
#: The CLI's error decorator (``friendly_errors``): prints ``TypeName: message``, exits 1.
_Errors = Callable[[Callable[..., None]], Callable[..., None]]
console = Console()
err_console = Console(stderr=True)


@contextmanager
def _opened(workspace: Path) -> Iterator[ProvenanceLog]:
    ws: Workspace = open_workspace(workspace, create=False)
    try:
        yield ProvenanceLog(ws)
    finally:
        ws.close()


def _report_added(log: ProvenanceLog, n: int) -> None:
    head = log.latest_head()
    if head is not None:
        console.print(
            f"Logged {n} entr{'y' if n == 1 else 'ies'}; tree head {head.size} signed by "
            f"{format_fingerprint(head.key)[:19]}...",
            highlight=False,
        )


def _parse_inputs(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        lot, sep, qty = item.rpartition("=")
        try:
            amount = float(qty)
        except ValueError:
            amount = float("nan")
        if not sep or not lot or amount != amount:
            raise ConfigError(f"--input {item!r}: write LOT=QUANTITY, e.g. --input G-104=30")
        out[lot] = out.get(lot, 0.0) + amount
    return out


def _add_app(errors: _Errors) -> typer.Typer:
    """The ``provenance add`` group: lots and certificates, then what happens to lots."""
    add = typer.Typer(
        help="Append an entry to the provenance log (signed on the spot).", no_args_is_help=True
    )
    _register_origin_commands(add, errors)
    _register_movement_commands(add, errors)
    return add


def _register_origin_commands(add: typer.Typer, errors: _Errors) -> None:
    """``add lot`` and ``add certificate``: where lots come from and what covers them."""

    @add.command("lot")
    @errors
    def add_lot(
        lot: Annotated[str, typer.Argument(help="Lot id (unique), e.g. G-2025-07.")],
        product: Annotated[str, typer.Option(help="What the lot is.")],
        quantity: Annotated[float, typer.Option(help="Amount in the lot.")],
        unit: Annotated[str, typer.Option(help="Unit of the amount (kg, bags, pieces).")],
        date: Annotated[str, typer.Option(help="Harvest or receipt date, YYYY-MM-DD.")],
        producer: Annotated[str | None, typer.Option(help="Farm, cooperative or maker.")] = None,
        region: Annotated[str | None, typer.Option(help="Region of origin.")] = None,
        country: Annotated[str | None, typer.Option(help="Country of origin.")] = None,
        supplier: Annotated[str | None, typer.Option(help="Who sold it to you.")] = None,
        sku: Annotated[str | None, typer.Option(help="Product SKU it is sold as.")] = None,
        workspace: WS = DEFAULT_WS,
    ) -> None:
        """Log a lot bought or harvested, with its origin."""
        body = lot_entry(
            lot,
            product,
            quantity,
            unit,
            date,
            producer=producer,
            region=region,
            country=country,
            supplier=supplier,
            sku=sku,
        )
        with _opened(workspace) as log:
            log.add([body])
            _report_added(log, 1)

    @add.command("certificate")
    @errors
    def add_certificate(
        certificate: Annotated[str, typer.Argument(help="Certificate id or number.")],
        file: Annotated[Path, typer.Argument(help="The certificate file (its SHA-256 is logged).")],
        scheme: Annotated[str, typer.Option(help="Fairtrade, Organic, Rainforest Alliance...")],
        lot: Annotated[list[str], typer.Option("--lot", help="Lot it covers (repeat).")],
        issuer: Annotated[str | None, typer.Option(help="Who issued it.")] = None,
        holder: Annotated[str | None, typer.Option(help="Who holds it.")] = None,
        valid_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD.")] = None,
        valid_until: Annotated[str | None, typer.Option(help="YYYY-MM-DD.")] = None,
        workspace: WS = DEFAULT_WS,
    ) -> None:
        """Log a certificate covering lots; the file stays where you keep it."""
        body = certificate_entry(
            certificate,
            scheme,
            file,
            lot,
            issuer=issuer,
            holder=holder,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        with _opened(workspace) as log:
            log.add([body])
            _report_added(log, 1)


def _register_movement_commands(add: typer.Typer, errors: _Errors) -> None:
    """``add transform`` and ``add shipment``: lots made from lots, and lots sold."""

    @add.command("transform")
    @errors
    def add_transform(
        output: Annotated[str, typer.Argument(help="Id of the lot it makes.")],
        process: Annotated[str, typer.Option(help="roast, bake, assemble, blend...")],
        inputs: Annotated[list[str], typer.Option("--input", help="LOT=QUANTITY used (repeat).")],
        product: Annotated[str, typer.Option(help="What the new lot is.")],
        quantity: Annotated[float, typer.Option(help="Amount made.")],
        unit: Annotated[str, typer.Option(help="Unit of the amount made.")],
        date: Annotated[str, typer.Option(help="YYYY-MM-DD.")],
        sku: Annotated[str | None, typer.Option(help="Product SKU it is sold as.")] = None,
        workspace: WS = DEFAULT_WS,
    ) -> None:
        """Log a step that turns input lots into a new lot (checked against what is left)."""
        body = transformation_entry(
            process, _parse_inputs(inputs), output, product, quantity, unit, date, sku=sku
        )
        with _opened(workspace) as log:
            log.add([body])
            _report_added(log, 1)

    @add.command("shipment")
    @errors
    def add_shipment(
        lot: Annotated[str, typer.Argument(help="Lot shipped.")],
        channel: Annotated[str, typer.Option(help="Sales channel (shop, wholesale...).")],
        quantity: Annotated[float, typer.Option(help="Amount shipped.")],
        date: Annotated[str, typer.Option(help="YYYY-MM-DD.")],
        workspace: WS = DEFAULT_WS,
    ) -> None:
        """Log part of a lot shipped to a sales channel."""
        with _opened(workspace) as log:
            log.add([shipment_entry(lot, channel, quantity, date)])
            _report_added(log, 1)


def register_cli(app: Any, *, friendly_errors: Any, progress_bar: Any) -> None:
    """Add the ``provenance`` command group to the Typer ``app``."""
    errors = cast(_Errors, friendly_errors)
    group = typer.Typer(
        help="Signed, tamper-evident supply-chain record (lots, certificates, roasts) "
        "that customers verify offline.",
        no_args_is_help=True,
    )
    group.add_typer(_add_app(errors), name="add")
    app.add_typer(group, name="provenance")
    _register_lot_commands(group, errors)
    _register_publish_commands(group, errors)
    _register_key_commands(group, errors)
    del progress_bar  # every provenance command is quick


def _lots_table(frame: pd.DataFrame) -> Table:
    """The lots of :func:`lot_rows` as a table: amounts right-aligned, origin in one cell."""
    table = Table(title="Lots")
    for col in ("lot", "product", "quantity", "used", "made by", "origin", "certificates"):
        table.add_column(col, justify="right" if col in ("quantity", "used") else "left")
    for r in frame.itertuples():
        origin = ", ".join(str(x) for x in (r.producer, r.country) if isinstance(x, str))
        table.add_row(
            str(r.lot),
            str(r.product),
            f"{r.quantity:g} {r.unit}",
            f"{r.used:g}",
            str(r.made_by or ""),
            origin,
            str(r.certificates),
        )
    return table


def _register_lot_commands(group: typer.Typer, errors: _Errors) -> None:
    """``provenance list`` and ``provenance show``: the lots and one lot's lineage."""

    @group.command("list")
    @errors
    def list_lots(workspace: WS = DEFAULT_WS) -> None:
        """List the lots in the log with origin, use and certificates."""
        with _opened(workspace) as log:
            frame = lot_rows([e.body for e in log.entries()])
        if frame.empty:
            console.print("No lots logged yet: start with 'levelfield provenance add lot'.")
            return
        console.print(_lots_table(frame))

    @group.command("show")
    @errors
    def show(
        lot: Annotated[str, typer.Argument(help="Lot id.")], workspace: WS = DEFAULT_WS
    ) -> None:
        """Show a lot's lineage: every input lot, origin and certificate."""
        with _opened(workspace) as log:
            record = lineage([e.body for e in log.entries()], lot)
        console.print(record.summary(), highlight=False)
        console.print(record.to_frame().to_string(index=False), highlight=False)


def _register_publish_commands(group: typer.Typer, errors: _Errors) -> None:
    """``provenance export`` and ``provenance verify``: the page customers check offline."""

    @group.command("export")
    @errors
    def export(
        lot: Annotated[str, typer.Argument(help="Lot whose record to publish.")],
        output: Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                help="HTML file to write (default LOT.html); the JSON goes beside it.",
            ),
        ] = None,
        url: Annotated[
            str | None, typer.Option(help="Where you will publish the page (for the QR code).")
        ] = None,
        workspace: WS = DEFAULT_WS,
    ) -> None:
        """Write a one-file HTML page (and its JSON) that verifies itself offline."""
        with _opened(workspace) as log:
            doc = build_export(log, lot, url=url)
        page, data = write_export_html(doc, output or Path(f"{lot}.html"))
        console.print(f"wrote {page} and {data}", highlight=False)
        console.print(
            f"signing key fingerprint (publish it): {format_fingerprint(doc['tree_head']['key'])}",
            highlight=False,
        )
        target = qr_target(doc)
        console.print(
            f"QR code points at {target}"
            if target
            else "No QR code: pass --url with the address where you will publish the page.",
            highlight=False,
        )

    @group.command("verify")
    @errors
    def verify(
        file: Annotated[Path, typer.Argument(help="Exported page (.html) or its .json.")],
        key: Annotated[
            str | None, typer.Option(help="The fingerprint the business publishes.")
        ] = None,
    ) -> None:
        """Verify an exported record offline; exit 0 when verified, 1 naming what failed."""
        result = verify_export(
            read_export_file(file), expected_key=key.replace(" ", "") if key else None
        )
        if result.ok:
            console.print(result.summary(), highlight=False)
            if key is None:
                console.print(
                    "Compare the key with the fingerprint the business publishes (or pass --key).",
                    highlight=False,
                )
            return
        for failure in result.failures:
            err_console.print(f"NOT verified: {failure}", highlight=False, markup=False)
        raise typer.Exit(1)


def _register_key_commands(group: typer.Typer, errors: _Errors) -> None:
    """``provenance key``, ``rotate-key`` and ``audit``: the signing keys and the log's health."""

    @group.command("key")
    @errors
    def key(workspace: WS = DEFAULT_WS) -> None:
        """Show the signing keys, their fingerprints and where the private key is kept."""
        with _opened(workspace) as log:
            keys, folder = log.keys(), log.key_dir
        if not keys:
            console.print("No signing key yet: one is made when you add the first entry.")
        for k in keys:
            state = "retired " + str(k["retired_at"])[:10] if k["retired_at"] else "active"
            console.print(f"{format_fingerprint(k['fingerprint'])}  ({state})", highlight=False)
        console.print(
            f"private keys: {folder} (back this folder up; never share it)", highlight=False
        )

    @group.command("rotate-key")
    @errors
    def rotate_key(workspace: WS = DEFAULT_WS) -> None:
        """Replace the signing key; the old key endorses the new one, old heads stay valid."""
        with _opened(workspace) as log:
            fp = log.rotate_key()
        console.print(f"new signing key: {format_fingerprint(fp)} (publish it)", highlight=False)

    @group.command("audit")
    @errors
    def audit(workspace: WS = DEFAULT_WS) -> None:
        """Re-check the whole log in the workspace; exit 1 naming any changed entry or head."""
        with _opened(workspace) as log:
            problems = log.audit()
            size = log.size
        if not problems:
            console.print(
                f"log intact: {size} entries, every signed head verifies", highlight=False
            )
            return
        for p in problems:
            err_console.print(f"problem: {p}", highlight=False, markup=False)
        raise typer.Exit(1)
