"""``run(directory)``: the fleet's per-business analyses on Apache Spark.

Spark runs in local mode (``local[2]``) unless ``master`` (or ``SPARK_MASTER``) names a
cluster. Orders are read as a Parquet dataset, grouped by ``business_id`` and handed to
:func:`levelfield.fleet._kernels.safe_business_metrics` one business at a time inside the
executors (``applyInPandas``): no order row reaches the driver, only counts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from levelfield._version import __version__
from levelfield.errors import ConfigError, DataError
from levelfield.fleet._kernels import ORDER_COLUMNS, safe_business_metrics

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["FleetRun", "run", "spark_session"]

log = logging.getLogger("levelfield.fleet")

_FINDINGS_SCHEMA = (
    "business_id string, analysis string, metric string, value double, unit string, error string"
)


@dataclass(frozen=True)
class FleetRun:
    """Where a fleet run wrote its findings, and how it went."""

    findings: Path
    run_fingerprint: str
    n_businesses: int
    n_metric_rows: int
    n_error_rows: int
    master: str

    def summary(self) -> dict[str, Any]:
        return {
            "findings": str(self.findings),
            "run_fingerprint": self.run_fingerprint,
            "n_businesses": self.n_businesses,
            "n_metric_rows": self.n_metric_rows,
            "n_error_rows": self.n_error_rows,
            "master": self.master,
        }


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


def fingerprint(orders_dir: Path) -> str:
    """Run fingerprint: package version and the input files' names, sizes and times."""
    h = hashlib.sha256(__version__.encode())
    for f in sorted(orders_dir.rglob("*.parquet")):
        st = f.stat()
        h.update(f"{f.relative_to(orders_dir)}:{st.st_size}:{st.st_mtime_ns}".encode())
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


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target``; an earlier ``target`` is removed only after the move."""
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def run(
    directory: str | Path,
    *,
    output: str | Path | None = None,
    master: str | None = None,
    spark: SparkSession | None = None,
) -> FleetRun:
    """Per-business customer and exposure metrics of a fleet, written as Parquet.

    Parameters
    ----------
    directory
        Fleet directory with ``orders/`` (Parquet, canonical orders plus ``business_id``).
    output
        Where ``fleet_findings`` goes (default ``DIRECTORY/fleet_findings``), partitioned by
        ``analysis``; columns business_id, metric, value, unit, error, run_fingerprint.
        A rerun replaces it whole (written aside, then moved into place).
    master, spark
        Spark master URL, or an existing session (tests share one).
    """
    from pyspark.sql import functions as sf

    base = Path(directory)
    orders_dir = _orders_dir(base)
    target = Path(output) if output is not None else base / "fleet_findings"
    session = spark or spark_session(master)
    orders = session.read.parquet(str(orders_dir))
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise DataError(f"{orders_dir}: the orders lack the column(s) {', '.join(missing)}")
    fp = fingerprint(orders_dir)
    log.info("fleet run %s over %s on %s", fp, orders_dir, session.sparkContext.master)
    findings = (
        orders.select(*ORDER_COLUMNS)
        .groupBy("business_id")
        .applyInPandas(safe_business_metrics, schema=_FINDINGS_SCHEMA)
        .withColumn("run_fingerprint", sf.lit(fp))
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    try:
        findings.write.partitionBy("analysis").parquet(str(tmp))
        _replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    written = session.read.parquet(str(target))
    counts = written.agg(
        sf.countDistinct("business_id").alias("b"),
        sf.count(sf.when(sf.col("error").isNull(), 1)).alias("m"),
        sf.count(sf.when(sf.col("error").isNotNull(), 1)).alias("e"),
    ).collect()[0]
    return FleetRun(
        findings=target,
        run_fingerprint=fp,
        n_businesses=int(counts["b"]),
        n_metric_rows=int(counts["m"]),
        n_error_rows=int(counts["e"]),
        master=str(session.sparkContext.master),
    )
