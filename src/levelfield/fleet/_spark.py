"""``run(directory)``: the fleet's per-business analyses on Apache Spark.

Spark runs in local mode (``local[2]``) unless ``master`` (or ``SPARK_MASTER``) names a
cluster. Orders are read as a Parquet dataset, grouped by ``business_id`` and handed to
:func:`levelfield.fleet._kernels.safe_business_metrics` one business at a time inside the
executors (``applyInPandas``): no order row reaches the driver, only counts.

Each run writes under its own id (``fleet_findings/run=<fingerprint>/``, see
:mod:`levelfield.fleet._runs`), aside first and then moved into place, and makes itself
the current run (``fleet_findings/latest.json``). A rerun over the same input and settings
finds its partition there and does nothing (``force=True`` recomputes and replaces it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from levelfield._version import __version__
from levelfield.errors import ConfigError, DataError
from levelfield.fleet._kernels import LINE_COLUMNS, ORDER_COLUMNS, safe_business_metrics
from levelfield.fleet._runs import (
    LATEST,
    commit_run,
    point_latest,
    read_manifest,
    run_folder,
    staging_folder,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["FleetRun", "run", "spark_session"]

log = logging.getLogger("levelfield.fleet")

_FINDINGS_SCHEMA = (
    "business_id string, analysis string, metric string, value double, unit string, error string"
)


@dataclass(frozen=True)
class FleetRun:
    """Where a fleet run wrote its findings, and how it went.

    ``findings`` is the run's own folder (``.../fleet_findings/run=<run_fingerprint>``);
    ``latest`` the pointer file that names it the current run. ``reused`` is true when
    an earlier run over the same input and settings was found and nothing was computed.
    """

    findings: Path
    run_fingerprint: str
    n_businesses: int
    n_metric_rows: int
    n_error_rows: int
    master: str
    latest: Path
    reused: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "findings": str(self.findings),
            "run_fingerprint": self.run_fingerprint,
            "n_businesses": self.n_businesses,
            "n_metric_rows": self.n_metric_rows,
            "n_error_rows": self.n_error_rows,
            "master": self.master,
            "latest": str(self.latest),
            "reused": self.reused,
        }

    @classmethod
    def _from_manifest(cls, root: Path, manifest: dict[str, Any], *, reused: bool) -> FleetRun:
        return cls(
            findings=run_folder(root, str(manifest["run_id"])),
            run_fingerprint=str(manifest["run_id"]),
            n_businesses=int(manifest["n_businesses"]),
            n_metric_rows=int(manifest["n_metric_rows"]),
            n_error_rows=int(manifest["n_error_rows"]),
            master=str(manifest["master"]),
            latest=root / LATEST,
            reused=reused,
        )


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return
    if shutil.which("java") is None:
        raise ConfigError(
            "fleet mode runs on Apache Spark, which needs Java 17: install it "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )


def spark_session(master: str | None = None, *, app_name: str = "levelfield-fleet") -> SparkSession:
    """A Spark session on ``master`` (default ``SPARK_MASTER`` or ``local[2]``).

    Raises
    ------
    ConfigError
        PySpark is not installed (``pip install 'levelfield[fleet]'``) or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("fleet mode needs PySpark: pip install 'levelfield[fleet]'") from exc
    _check_java()
    # Executors run this same Python (and so find levelfield and its kernels).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    where = master or os.environ.get("SPARK_MASTER") or "local[2]"
    builder = (
        SparkSession.builder.master(where)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        # Per-business work is CPU-bound and its input small in bytes: coalescing the
        # shuffle into one partition (Spark's default) would leave all but one core idle.
        .config("spark.sql.adaptive.coalescePartitions.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.executorEnv.OMP_NUM_THREADS", "1")
        .config("spark.executorEnv.OPENBLAS_NUM_THREADS", "1")
    )
    if "PYTHONPATH" in os.environ:
        builder = builder.config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _input_files(base: Path, source: str) -> list[Path]:
    """The files a run reads: the Parquet dataset's tables, or the member workspaces."""
    if source == "workspaces":
        return sorted((base / "workspaces").glob("*.duckdb"))
    tables = [base / "orders", base / "order_lines", base / "suppliers", base / "products"]
    tables += [base / "channels.parquet", base / "businesses.parquet"]
    tables = [d for d in tables if d.exists()]
    return sorted(p for d in tables for p in ([d] if d.is_file() else d.rglob("*.parquet")))


def fingerprint(base: Path, *, source: str = "parquet", full: bool = True) -> str:
    """Run fingerprint, the run's id: what a rerun with the same result would share.

    The package version, the source kind, ``full`` (Parquet only: the workspaces always
    get the full analysis) and the input files' names, sizes and modification times.
    Hashing the files' bytes would read the whole data lake to decide to do nothing.
    """
    h = hashlib.sha256(f"{__version__}|{source}|{full or source == 'workspaces'}".encode())
    for f in _input_files(base, source):
        st = f.stat()
        h.update(f"|{f.relative_to(base)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _orders_dir(directory: Path) -> Path:
    orders = directory / "orders"
    if not orders.is_dir() or not any(orders.rglob("*.parquet")):
        raise DataError(
            f"{directory} holds no Parquet orders dataset ('orders/*.parquet' with a "
            "business_id column); write one with 'levelfield fleet demo N DIR' or export the "
            "canonical orders table with business_id"
        )
    return orders


def _parquet_findings(
    session: SparkSession, base: Path, orders_dir: Path, *, full: bool
) -> DataFrame:
    """Findings of a Parquet fleet: kernels only, or with the full exposure analysis."""
    import pandas as pd
    from pyspark.sql import functions as sf

    from levelfield.fleet._business import frames_metrics

    orders = session.read.parquet(str(orders_dir))
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise DataError(f"{orders_dir}: the orders lack the column(s) {', '.join(missing)}")
    orders = orders.select(*ORDER_COLUMNS)
    if not full:
        return orders.groupBy("business_id").applyInPandas(
            safe_business_metrics, schema=_FINDINGS_SCHEMA
        )
    biz_file, sup_dir, chan_file = (
        base / "businesses.parquet",
        base / "suppliers",
        base / "channels.parquet",
    )
    if not biz_file.is_file():
        raise DataError(
            f"{biz_file} is missing: the fleet needs the businesses table (business_id, sector, "
            "region, size_band, consent, employees)"
        )
    # the channels table is reference data (a few rows per channel name), not business rows
    channels = (
        pd.read_parquet(chan_file)
        if chan_file.is_file()
        else pd.DataFrame(columns=["channel", "platform", "fee_profile", "owns_customer"])
    )
    biz = session.read.parquet(str(biz_file))
    employees = biz.select(
        "business_id",
        (biz["employees"] if "employees" in biz.columns else sf.lit(None))
        .cast("long")
        .alias("employees"),
        (biz["gross_margin"] if "gross_margin" in biz.columns else sf.lit(None))
        .cast("double")
        .alias("gross_margin"),
    )
    if sup_dir.is_dir() and any(sup_dir.rglob("*.parquet")):
        side = employees.join(session.read.parquet(str(sup_dir)), "business_id", "left")
    else:
        side = employees
        for c in ("supplier_id", "name", "country", "currency", "alternatives"):
            side = side.withColumn(c, sf.lit(None).cast("string"))
        for c in ("annual_spend", "lead_time_days"):
            side = side.withColumn(c, sf.lit(None).cast("double"))

    side = _with_lines(session, base, side)

    def one(orders_pd: pd.DataFrame, side_pd: pd.DataFrame) -> pd.DataFrame:
        # a business of the businesses table without orders gets its error row there
        return frames_metrics(orders_pd, side_pd, channels)

    grouped = orders.groupBy("business_id").cogroup(side.groupBy("business_id"))
    return grouped.applyInPandas(one, schema=_FINDINGS_SCHEMA)


def _with_lines(session: SparkSession, base: Path, side: DataFrame) -> DataFrame:
    """``side`` followed by the fleet's ``order_lines`` rows (with their product's
    ``unit_cost`` when ``products/`` exists), for the pricing kernel and the margin."""
    from pyspark.sql import functions as sf

    lines_dir, products_dir = base / "order_lines", base / "products"
    if not (lines_dir.is_dir() and any(lines_dir.rglob("*.parquet"))):
        return side
    lines = session.read.parquet(str(lines_dir)).select(
        *(sf.col(c).cast(t) for c, t in LINE_COLUMNS.items())
    )
    if products_dir.is_dir() and any(products_dir.rglob("*.parquet")):
        costs = session.read.parquet(str(products_dir)).select(
            "business_id", "sku", sf.col("unit_cost").cast("double")
        )
        lines = lines.join(costs, ["business_id", "sku"], "left")
    return side.unionByName(lines, allowMissingColumns=True)


def _workspace_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.duckdb"))
    if not files:
        raise DataError(
            f"{folder} holds no workspaces (*.duckdb, one per business, named by business id); "
            "write a demo with 'levelfield demo --fleet N DIR --workspaces'"
        )
    return files


def _workspace_findings(session: SparkSession, files: list[Path]) -> DataFrame:
    """Findings of a directory of workspaces (one ``<business_id>.duckdb`` per business).

    Only the file paths travel through Spark; each executor analyses a private copy of
    its members' files.
    """
    import pandas as pd

    from levelfield.fleet._business import workspace_file_metrics

    paths = session.createDataFrame(
        [(f.stem, str(f.resolve())) for f in files], "business_id string, path string"
    ).repartition(max(2, min(len(files), 64)), "business_id")

    def one(rows: pd.DataFrame) -> pd.DataFrame:
        return workspace_file_metrics(str(rows["path"].iloc[0]), str(rows["business_id"].iloc[0]))

    return paths.groupBy("business_id").applyInPandas(one, schema=_FINDINGS_SCHEMA)


def _write_run(
    session: SparkSession, findings: DataFrame, root: Path, manifest: dict[str, Any]
) -> dict[str, Any]:
    """Write a run's findings aside, count them there, and move them into place."""
    from pyspark.sql import functions as sf

    run_id = str(manifest["run_id"])
    root.mkdir(parents=True, exist_ok=True)
    staged = staging_folder(root, run_id)
    try:
        findings.withColumn("run_fingerprint", sf.lit(run_id)).write.partitionBy(
            "analysis"
        ).parquet(str(staged))
        counts = (
            session.read.parquet(str(staged))
            .agg(
                sf.countDistinct("business_id").alias("b"),
                sf.count(sf.when(sf.col("error").isNull(), 1)).alias("m"),
                sf.count(sf.when(sf.col("error").isNotNull(), 1)).alias("e"),
            )
            .collect()[0]
        )
        manifest = {
            **manifest,
            "n_businesses": int(counts["b"]),
            "n_metric_rows": int(counts["m"]),
            "n_error_rows": int(counts["e"]),
            "finished_at": _utcnow(),
        }
        commit_run(staged, root, manifest)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return manifest


def _utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run(
    directory: str | Path,
    *,
    output: str | Path | None = None,
    master: str | None = None,
    spark: SparkSession | None = None,
    source: Literal["auto", "parquet", "workspaces"] = "auto",
    full: bool = True,
    force: bool = False,
) -> FleetRun:
    """Per-business customer and exposure metrics of a fleet, written as Parquet.

    Parameters
    ----------
    directory
        Fleet directory with ``orders/`` (Parquet, canonical orders plus ``business_id``),
        ``order_lines/``, ``suppliers/``, ``products/`` and ``channels.parquet`` (optional)
        and ``businesses.parquet``; or
        with ``workspaces/`` (one ``<business_id>.duckdb`` per business).
    output
        The findings folder (default ``DIRECTORY/fleet_findings``). The run goes to
        ``run=<run_fingerprint>/`` in it, partitioned by ``analysis``; columns
        business_id, metric, value, unit, error, run_fingerprint. It is written aside and
        moved into place, then ``latest.json`` names it the current run; earlier runs
        stay. Read it with :func:`levelfield.fleet.read_findings`.
    master, spark
        Spark master URL, or an existing session (tests share one).
    source
        ``"parquet"``, ``"workspaces"``, or ``"auto"``: the Parquet dataset when
        ``orders/`` exists, else the workspaces.
    full
        With the Parquet dataset: run :func:`levelfield.exposure.analyze` per business
        (fee rates, marketplace share, supplier concentration, compliance burden); when
        false, only the customer and concentration kernels (what the benchmark times).
    force
        Recompute even when a complete run with the same fingerprint (same input files,
        settings and levelfield version) exists; its partition is replaced. Without it,
        such a rerun computes nothing and makes that run current again.
    """
    base = Path(directory)
    root = Path(output) if output is not None else base / "fleet_findings"
    use = source
    if use == "auto":
        use = "parquet" if (base / "orders").is_dir() else "workspaces"
    if use not in ("parquet", "workspaces"):
        raise ConfigError(f"source must be 'auto', 'parquet' or 'workspaces', not {source!r}")
    where = _orders_dir(base) if use == "parquet" else base / "workspaces"
    files = _workspace_files(where) if use == "workspaces" else []
    fp = fingerprint(base, source=use, full=full)
    done = read_manifest(run_folder(root, fp))
    if done is not None and not force:
        point_latest(root, done)
        log.info(
            "fleet run %s: same input and settings as the run of %s, nothing to compute; "
            "current run: %s (force=True or --force recomputes it)",
            fp,
            done.get("finished_at", "?"),
            run_folder(root, fp),
        )
        return FleetRun._from_manifest(root, done, reused=True)
    session = spark or spark_session(master)
    findings = (
        _parquet_findings(session, base, where, full=full)
        if use == "parquet"
        else _workspace_findings(session, files)
    )
    log.info("fleet run %s over %s on %s", fp, where, session.sparkContext.master)
    manifest = {
        "run_id": fp,
        "source": use,
        "input": str(where),
        "full": bool(full or use == "workspaces"),
        "levelfield_version": __version__,
        "master": str(session.sparkContext.master),
        "started_at": _utcnow(),
    }
    manifest = _write_run(session, findings, root, manifest)
    log.info(
        "fleet run %s written to %s (%d businesses, %d error rows); %s names it the current run",
        fp,
        run_folder(root, fp),
        manifest["n_businesses"],
        manifest["n_error_rows"],
        root / LATEST,
    )
    return FleetRun._from_manifest(root, manifest, reused=False)
