"""Build the demo folder: export files, workspace (through ingest) and manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levelfield._version import __version__
from levelfield.demo._catalog import BUSINESS_NAME
from levelfield.demo._exports import (
    EU_CAFE_EVERY,
    WHOLESALE_MAPPING,
    People,
    make_people,
    write_amazon,
    write_etsy,
    write_shopify,
    write_wholesale,
)
from levelfield.demo._financing import PAYABLES, financing_truth, write_credit_offers
from levelfield.demo._provenance import CERTIFICATES_DIR, add_demo_provenance
from levelfield.demo._rivals import write_competitor_prices
from levelfield.demo._simulate import END, START, Simulation, simulate
from levelfield.demo._subscriptions import write_stripe_subscriptions
from levelfield.demo._tables import (
    write_automation,
    write_business,
    write_channels,
    write_competitors,
    write_costs,
    write_pilots,
    write_products,
    write_suppliers,
    write_surveys,
)
from levelfield.errors import ConfigError
from levelfield.findings import ProgressCallback, no_progress

__all__ = ["DemoResult", "build_demo"]

GENERATOR = "levelfield.demo"
WORKSPACE_NAME = "levelfield.duckdb"
MANIFEST_NAME = "manifest.json"
EXPORTS_DIR = "exports"


@dataclass(frozen=True)
class DemoResult:
    """What :func:`build_demo` wrote.

    Attributes
    ----------
    directory, workspace, manifest
        The demo folder, the workspace file and the ground-truth manifest.
    imports
        One :class:`levelfield.ingest.ImportSummary` per imported file, in import order.
    counts
        Rows per workspace table after the imports.
    date_min, date_max
        First and last order timestamp in the workspace (UTC).
    revenue_by_channel
        Net revenue per channel (USD) as the workspace's ``order_revenue`` view sees it.
    """

    directory: Path
    workspace: Path
    manifest: Path
    imports: tuple[Any, ...]
    counts: dict[str, int] = field(default_factory=dict)
    date_min: dt.datetime | None = None
    date_max: dt.datetime | None = None
    revenue_by_channel: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary printed by ``levelfield demo``."""
        total = sum(self.revenue_by_channel.values()) or 1.0
        out = [
            f"Demo business: {BUSINESS_NAME} (USD), written to {self.directory}",
            f"Workspace: {self.workspace}",
            f"Ground truth: {self.manifest}",
            "Tables: " + ", ".join(f"{t} {n:,}" for t, n in self.counts.items()),
        ]
        if self.date_min is not None and self.date_max is not None:
            out.append(f"Orders from {self.date_min:%Y-%m-%d} to {self.date_max:%Y-%m-%d} (UTC)")
        out.append(
            "Net revenue by channel: "
            + ", ".join(
                f"{ch} {v:,.0f} ({v / total:.0%})"
                for ch, v in sorted(self.revenue_by_channel.items(), key=lambda kv: -kv[1])
            )
        )
        out.append("Files and the profile each matched:")
        for s in self.imports:
            out.append(
                f"  {s.source_name}: {s.kind} via {s.profile} "
                f"({s.rows_loaded:,} of {s.rows_in:,} rows loaded)"
            )
        return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_demo_folder(directory: Path) -> bool:
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("generator") == GENERATOR


def _prepare_directory(directory: Path, workspace: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file; give a folder for the demo (e.g. demo/)")
    if directory.is_dir() and any(directory.iterdir()):
        if not force:
            raise ConfigError(
                f"{directory} already exists and is not empty; pass --force to replace the "
                "demo in it, or choose a new folder"
            )
        if not _is_demo_folder(directory):
            raise ConfigError(
                f"{directory} is not empty and holds no levelfield demo (no {MANIFEST_NAME} "
                "written by 'levelfield demo'); --force only replaces a demo folder, so "
                "choose an empty or new folder"
            )
        shutil.rmtree(directory / EXPORTS_DIR, ignore_errors=True)
        shutil.rmtree(directory / CERTIFICATES_DIR, ignore_errors=True)
        for name in (MANIFEST_NAME, WORKSPACE_NAME, WORKSPACE_NAME + ".wal"):
            (directory / name).unlink(missing_ok=True)
    if workspace.exists():
        if not force:
            raise ConfigError(
                f"workspace {workspace} already exists; pass --force to replace it, or "
                "choose another --workspace path"
            )
        workspace.unlink()
        Path(str(workspace) + ".wal").unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)


def _check_args(seed: object, n_customers: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be a whole number, not {seed!r}")
    if seed < 0:
        raise ConfigError(f"seed must be 0 or more, not {seed}")
    if isinstance(n_customers, bool) or not isinstance(n_customers, int):
        raise ConfigError(f"--customers must be a whole number, not {n_customers!r}")
    if not 100 <= n_customers <= 1_000_000:
        raise ConfigError(
            f"--customers must be from 100 to 1,000,000, not {n_customers:,}; the default is 10,000"
        )


#: The files to import, in order: (kind, path, import_file options).
_Files = list[tuple[str, Path, dict[str, Any]]]


def _write_order_exports(
    sim: Simulation,
    people: People,
    exports: Path,
    eur_wholesale: bool,
    truth: dict[str, Any],
    progress: ProgressCallback,
) -> _Files:
    """Write the business and catalogue tables and the platform order exports (Shopify,
    Etsy, Amazon, wholesale invoices); record their truths in ``truth``."""
    files: _Files = []

    def add(kind: str, path: Path, **options: Any) -> None:
        files.append((kind, path, options))

    add("business", exports / "business.csv")
    truth["business"] = write_business(
        exports / "business.csv", {"payables": [dict(x) for x in PAYABLES]}
    )
    add("channels", exports / "channels.csv")
    truth["channel_setup"] = write_channels(exports / "channels.csv")
    add("suppliers", exports / "suppliers.csv")
    truth["suppliers"] = write_suppliers(sim, exports / "suppliers.csv")
    add("products", exports / "products.csv")
    truth["products"] = write_products(sim, exports / "products.csv")
    shopify = exports / "orders_export_1.csv"
    write_shopify(sim, people, shopify)
    add("orders", shopify)
    progress("writing platform exports", 0.14)
    etsy = write_etsy(sim, people, exports)
    for p in sorted(etsy, key=lambda q: ("Items" in q.name, q.name)):  # orders before items
        add("orders", p)
    amazon = exports / "amazon_all_orders_2023-2025.txt"
    write_amazon(sim, amazon)
    add("orders", amazon)
    wholesale = exports / "wholesale_invoices_2023-2025.csv"
    eur = exports / "wholesale_eu_invoices_2023-2025.csv" if eur_wholesale else None
    write_wholesale(sim, wholesale, eur)
    add("orders", wholesale, mapping=dict(WHOLESALE_MAPPING), channel="wholesale", currency="USD")
    if eur is not None:
        add(
            "orders",
            eur,
            mapping={**WHOLESALE_MAPPING, "Currency": "currency"},
            channel="wholesale",
            currency="EUR",
        )
        truth["eur_wholesale"] = {
            "file": f"{EXPORTS_DIR}/{eur.name}",
            "cafes_every": EU_CAFE_EVERY,
            "rule": "USD invoice prices divided by the ECB reference USD per EUR of the "
            "invoice date, rounded to cents; base currency stays USD",
        }
    return files


def _write_reference_tables(
    sim: Simulation, people: People, seed: int, exports: Path, truth: dict[str, Any]
) -> _Files:
    """Write competitors, costs, pilots, surveys, automation, competitor prices,
    subscriptions and credit offers; record their truths in ``truth``."""
    writers: list[tuple[str, str, Callable[[Path], Any], str | None]] = [
        ("competitors", "competitors.csv", lambda p: write_competitors(seed, p), "landscape"),
        ("costs", "costs.csv", lambda p: write_costs(sim, p), "costs"),
        ("pilots", "pilots.csv", write_pilots, None),
        ("surveys", "nps_survey.csv", lambda p: write_surveys(sim, people, p), "nps"),
        ("automation", "automation.csv", write_automation, "automation"),
        (
            "competitor_prices",
            "competitor_prices.csv",
            lambda p: write_competitor_prices(sim, seed, p),
            "competitor_prices",
        ),
        (
            "subscriptions",
            "subscriptions.csv",
            lambda p: write_stripe_subscriptions(seed, p),
            "subscriptions",
        ),
        ("credit_offers", "credit_offers.csv", write_credit_offers, None),
    ]
    files: _Files = []
    for kind, name, write, key in writers:
        files.append((kind, exports / name, {}))
        result = write(exports / name)
        if key is not None:
            truth[key] = result
        elif kind == "pilots":
            truth["pricing"]["pilot"]["pilot_ids"] = result
    truth["financing"] = financing_truth()
    return files


@dataclass(frozen=True)
class _Imported:
    """What importing the demo's files left in the workspace."""

    summaries: list[Any]
    provenance: Any
    counts: dict[str, int]
    date_range: tuple[Any, Any]
    revenue: dict[str, float]


def _import_all(
    ws_path: Path,
    key_dir: str | Path | None,
    files: _Files,
    certificates: Path,
    progress: ProgressCallback,
) -> _Imported:
    """Import every file through :func:`levelfield.ingest.import_file` (progress from
    22 % to 96 %), log the lots in the provenance log, and read back counts, the order
    date range and net revenue per channel."""
    from levelfield.ingest import import_file
    from levelfield.workspace import open_workspace

    summaries: list[Any] = []
    with open_workspace(ws_path, create=True, key_dir=key_dir) as ws:
        for i, (kind, path, options) in enumerate(files):
            lo = 0.22 + 0.74 * i / len(files)
            hi = 0.22 + 0.74 * (i + 1) / len(files)

            def sub(
                step: str, fraction: float, lo: float = lo, hi: float = hi, name: str = path.name
            ) -> None:
                progress(f"importing {name}: {step}", lo + (hi - lo) * max(0.0, min(1.0, fraction)))

            summaries.append(import_file(ws, kind, path, progress=sub, **options))
        progress("logging lots in the provenance log", 0.96)
        provenance = add_demo_provenance(ws, certificates)
        counts = ws.counts()
        rng = ws.con.execute("SELECT min(ordered_at), max(ordered_at) FROM orders").fetchall()[0]
        rev_rows = ws.con.execute(
            "SELECT channel, CAST(sum(net_revenue) AS DOUBLE) FROM order_revenue "
            "GROUP BY channel ORDER BY channel"
        ).fetchall()
    revenue = {str(ch): float(v) for ch, v in rev_rows}
    return _Imported(summaries, provenance, counts, (rng[0], rng[1]), revenue)


def _manifest(
    seed: int, n_customers: int, truth: dict[str, Any], files: _Files, summaries: list[Any]
) -> dict[str, Any]:
    """The ground-truth manifest: generator, truths, and each file with its hash, the
    profile it matched, its rows and its import options."""
    return {
        "generator": GENERATOR,
        "version": __version__,
        "business": truth.pop("business"),
        "seed": seed,
        "period": {"start": START.isoformat(), "end": END.isoformat()},
        "currency": "USD",
        "timezone": "America/New_York (Shopify local times); UTC in the workspace",
        "n_customers": n_customers,
        **truth,
        "files": [
            {
                "file": f"{EXPORTS_DIR}/{path.name}",
                "kind": kind,
                "sha256": _sha256(path),
                "profile": s.profile,
                "rows": s.rows_in,
                "options": dict(options),
            }
            for (kind, path, options), s in zip(files, summaries, strict=True)
        ],
    }


def build_demo(
    directory: str | Path,
    *,
    seed: int = 7,
    n_customers: int = 10_000,
    force: bool = False,
    workspace: str | Path | None = None,
    key_dir: str | Path | None = None,
    progress: ProgressCallback = no_progress,
    eur_wholesale: bool = False,
) -> DemoResult:
    """Create the demo business in ``directory``.

    Writes ``directory/exports/`` (the platform exports and plain CSVs), imports every
    file through :func:`levelfield.ingest.import_file` into ``directory/levelfield.duckdb``
    (or ``workspace``) and writes the ground truth to ``directory/manifest.json``.

    Parameters
    ----------
    directory
        Folder to create. An existing non-empty folder is an error unless ``force`` is
        true and it holds a demo written earlier (then the demo is replaced).
    seed
        Seed of every random draw: the same seed writes byte-identical exports and
        manifest.
    n_customers
        Identified customers (100 to 1,000,000).
    force
        Replace an existing demo (and an existing ``workspace`` file).
    workspace
        Workspace file; default ``directory/levelfield.duckdb``.
    key_dir
        Folder for the workspace's pseudonym key (see :func:`levelfield.open_workspace`).
    progress
        ``progress(step, fraction)`` callback.
    eur_wholesale
        Bill the EU wholesale account (every fourth café) in EUR: its invoices go to
        ``exports/wholesale_eu_invoices_2023-2025.csv``, priced at the ECB reference rate
        of each invoice date, and are converted back to USD (the base) on import. The
        planted truths do not change; the manifest says which file and rule.

    Returns
    -------
    DemoResult

    Raises
    ------
    ConfigError
        Bad ``seed``/``n_customers``, or the folder/workspace exists (without ``force``).
    """
    _check_args(seed, n_customers)
    root = Path(directory)
    ws_path = Path(workspace) if workspace is not None else root / WORKSPACE_NAME
    _prepare_directory(root, ws_path, force)
    exports = root / EXPORTS_DIR
    exports.mkdir(parents=True, exist_ok=True)
    progress("simulating three years of orders", 0.02)
    sim = simulate(seed, n_customers)
    people = make_people(seed, sim.n_customers, sim.cust_city)
    progress("writing platform exports", 0.08)
    truth: dict[str, Any] = dict(sim.truth)
    files = _write_order_exports(sim, people, exports, eur_wholesale, truth, progress)
    progress("writing reference tables", 0.2)
    files += _write_reference_tables(sim, people, seed, exports, truth)
    done = _import_all(ws_path, key_dir, files, root / CERTIFICATES_DIR, progress)
    truth["provenance"] = done.provenance
    progress("writing manifest", 0.97)
    manifest = _manifest(seed, sim.n_customers, truth, files, done.summaries)
    manifest_path = root / MANIFEST_NAME
    manifest_path.write_text(
        json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )
    progress("done", 1.0)
    return DemoResult(
        directory=root,
        workspace=ws_path,
        manifest=manifest_path,
        imports=tuple(done.summaries),
        counts=done.counts,
        date_min=done.date_range[0],
        date_max=done.date_range[1],
        revenue_by_channel=done.revenue,
    )
