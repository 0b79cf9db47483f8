"""Fleet mode: the same analyses over many businesses on Apache Spark, and peer benchmarks.

An association, cooperative or platform serving many small firms holds their orders as one
Parquet dataset with a ``business_id`` column plus a ``businesses`` table (id, sector,
region, size band, consent to be pooled). :func:`run` computes each business's customer
and exposure metrics on Spark (``groupBy("business_id").applyInPandas``) with the same
kernels as the single-business analyses, and writes ``fleet_findings``: one partition
per run (``run=<fingerprint>``) and ``latest.json`` naming the current one, which
:func:`read_findings` reads.
:func:`peer_benchmarks` turns those into anonymous peer statistics: percentiles only for
groups of at least ``k`` consenting businesses, coarsened or suppressed otherwise, and
never republished after a change of fewer than ``k`` members (see its docstring).
:func:`demo_fleet` writes a seeded demo fleet to try it on.

PySpark is an optional extra: ``pip install 'levelfield[fleet]'`` (and Java 17).
"""

from __future__ import annotations

from levelfield.demo import SECTORS, FleetDemo, demo_fleet
from levelfield.fleet._kernels import METRICS, business_metrics
from levelfield.fleet._peers import PERCENTILES, PeerRelease, peer_benchmarks
from levelfield.fleet._runs import current_run, read_findings
from levelfield.fleet._spark import FleetRun, run, spark_session

__all__ = [
    "METRICS",
    "PERCENTILES",
    "SECTORS",
    "FleetDemo",
    "FleetRun",
    "PeerRelease",
    "business_metrics",
    "current_run",
    "demo_fleet",
    "peer_benchmarks",
    "read_findings",
    "run",
    "spark_session",
]
