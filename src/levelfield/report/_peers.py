"""Where a member stands among its peers: its own findings against a published peer release.

A peer release (``peer_benchmarks.parquet`` of ``levelfield fleet run``) holds, per metric
and peer group (sector x region x size band, coarsened when small), the count and the
p10/p25/p50/p75/p90 of the businesses that consented to pooling; suppressed groups hold
nothing. :func:`peer_positions` finds the business's own group for each metric (the
finest published one it belongs to, as the release assigned it: its sector x region x
size band, else its sector x size band, else its sector) and places its own value among
the published percentiles by linear interpolation: "Your marketplace fee rate is higher
than 80 % of 37 similar shops". Only published groups are used; a value outside p10-p90
is said to be beyond 90 % of the group, no further.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from levelfield.errors import DataError
from levelfield.findings import Finding
from levelfield.report._data import FindingView, Section, TablePreview

__all__ = [
    "PEER_LABELS",
    "PeerPosition",
    "peer_positions",
    "peer_section",
    "read_peer_release",
]

#: The metrics a member is compared on, in the user's words, and the unit shown.
PEER_LABELS: dict[str, str] = {
    "exposure.fee_rate_max": "highest channel fee rate (effective, fees over revenue)",
    "exposure.fee_drag": "fees as a share of gross margin",
    "exposure.platform_share_max": "share of revenue from your largest marketplace",
    "exposure.data_ownership_share": "share of revenue where you own the customer relationship",
    "customers.repeat_rate": "repeat-customer rate",
    "customers.monthly_retention": "monthly customer retention",
    "customers.value_per_customer": "expected 12-month profit value of the average customer",
    "pricing.median_elasticity": "price elasticity (median over your products)",
    "exposure.supplier_hhi": "supplier concentration (HHI, 0-10,000)",
    "exposure.compliance_cost_share": "estimated compliance cost as a share of revenue",
    "exposure.customer_hhi": "customer concentration (HHI, 0-10,000)",
    "exposure.customer_top1_share": "largest customer's share of revenue",
    "exposure.channel_hhi": "sales-channel concentration (HHI, 0-10,000)",
}
_CHANNEL_FEE = "exposure.channel_fee_rate."
_PROFILE_KEYS = ("sector", "region", "size_band")
_NEED = {"metric", "unit", "sector", "region", "size_band", "status", "n", "p10", "p50", "p90"}
_KNOTS = ("p10", "p25", "p50", "p75", "p90")


@dataclass(frozen=True)
class PeerPosition:
    """One metric: the member's value, its group and its place in it."""

    metric: str
    label: str
    value: float
    unit: str
    share_below: float
    n: int
    group: str
    median: float
    text: str


def read_peer_release(path: str | Path) -> pd.DataFrame:
    """A peer release from Parquet, checked; raises :class:`DataError` naming what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"{p} is not a file: pass the peer_benchmarks.parquet that 'levelfield fleet run' wrote"
        )
    try:
        table = pd.read_parquet(p)
    except Exception as exc:  # pyarrow's errors are not LevelfieldErrors
        raise DataError(f"{p} is not a readable Parquet file ({exc})") from None
    if missing := sorted(_NEED - set(table.columns)):
        raise DataError(f"{p} is not a peer release: it lacks the column(s) {', '.join(missing)}")
    return table


def _label(metric: str) -> str:
    if metric.startswith(_CHANNEL_FEE):
        return f"effective fee rate on {metric[len(_CHANNEL_FEE) :]}"
    return PEER_LABELS.get(metric, metric)


def _fmt(value: float, unit: str) -> str:
    if unit == "elasticity":
        return f"{value:.2f}"
    return f"{value:.1%}" if unit == "share" else f"{value:,.0f}"


_VALUE = "customers.value_per_customer"


def _comparable(findings: Sequence[Finding]) -> tuple[dict[str, float], str | None]:
    """The member's values to place among peers, and a note on its customer value.

    The fleet publishes customer value as a profit value (each member's gross margin);
    a member's own value with margin 1 (no product costs, no margin set: a revenue
    value) is not compared with it, and the note says why.
    """
    values = {f.metric: f.value for f in findings}
    value = next((f for f in findings if f.metric == _VALUE), None)
    if value is None:
        return values, None
    margin = value.context.get("margin")
    if isinstance(margin, int | float) and margin < 1.0:
        return values, (
            f"Customer value is compared as profit value: yours uses a gross margin of "
            f"{margin:.0%} ({value.context.get('margin_source', 'as set')}); the peers' "
            "use each member's own margin."
        )
    del values[_VALUE]
    return values, (
        "Customer value is not compared: the peers' is a profit value and yours is a "
        "revenue value (margin unknown); import product costs or set customers.margin."
    )


def _own_group(rows: pd.DataFrame, profile: Mapping[str, str]) -> pd.Series | None:
    """The finest published group of the member's sector that the release put it in."""
    s, r, z = (str(profile[k]) for k in _PROFILE_KEYS)
    live = rows.loc[(rows["status"] != "suppressed") & (rows["sector"] == s)]
    for region, size in ((r, z), ("pooled", z), ("pooled", "pooled")):
        hit = live.loc[(live["region"] == region) & (live["size_band"] == size)]
        if len(hit):
            return hit.iloc[0]
    return None


def _group_words(row: pd.Series) -> str:
    if row["region"] != "pooled":
        return f"{row['sector']}, {row['region']}, {row['size_band']}"
    if row["size_band"] != "pooled":
        return f"{row['sector']}, {row['size_band']}, all regions"
    return f"all {row['sector']} businesses"


def peer_positions(
    peers: pd.DataFrame, profile: Mapping[str, str], values: Mapping[str, float]
) -> list[PeerPosition]:
    """The member's position on each metric it has a value for and a published group.

    Parameters
    ----------
    peers
        A peer release (:func:`read_peer_release`).
    profile
        The member's ``sector``, ``region`` and ``size_band``.
    values
        The member's own metric values by metric id (its findings).
    """
    if missing := [k for k in _PROFILE_KEYS if not profile.get(k)]:
        raise DataError(
            f"the business profile lacks {', '.join(missing)}: set them with 'levelfield "
            "import business business.csv' (key,value rows) to compare with peers"
        )
    out = []
    for metric, rows in peers.groupby("metric", sort=True):  # metrics (tens), not rows
        value = values.get(str(metric))
        shown = str(metric) in PEER_LABELS or str(metric).startswith(_CHANNEL_FEE)
        if not shown or value is None or not math.isfinite(value):
            continue
        row = _own_group(rows, profile)
        if row is None:
            continue
        knots = row[list(_KNOTS)].to_numpy(dtype=float)
        below = float(np.interp(value, np.maximum.accumulate(knots), [0.1, 0.25, 0.5, 0.75, 0.9]))
        unit = str(row["unit"])
        n = int(row["n"])
        label = _label(str(metric))
        # floored: "higher than 82 %" must hold, so 82.5 % is not rounded up
        where = (
            f"higher than {math.floor(100 * below + 1e-9)} %"
            if below >= 0.5
            else f"lower than {math.floor(100 * (1 - below) + 1e-9)} %"
        )
        text = (
            f"Your {label} ({_fmt(value, unit)}) is {where} of {n:,} similar businesses "
            f"({_group_words(row)}; median {_fmt(float(row['p50']), unit)})."
        )
        out.append(
            PeerPosition(
                str(metric),
                label,
                value,
                unit,
                below,
                n,
                _group_words(row),
                float(row["p50"]),
                text,
            )
        )
    return out


def peer_section(
    peers: pd.DataFrame, profile: Mapping[str, object], findings: Sequence[Finding]
) -> Section:
    """The report's "Among your peers" section (status missing, with the reason, if none)."""
    title = "Among your peers"
    values, value_note = _comparable(findings)
    try:
        positions = peer_positions(
            peers, {k: str(profile.get(k) or "") for k in _PROFILE_KEYS}, values
        )
    except DataError as exc:
        return Section("peers", title, "missing", reason=str(exc))
    if not positions:
        return Section(
            "peers",
            title,
            "missing",
            reason="no published peer group has a metric this business measured (groups "
            "smaller than k are suppressed; run the analyses first)"
            + (f". {value_note}" if value_note else ""),
        )
    views = tuple(FindingView(p.metric, p.text, p.value, p.unit, "info") for p in positions)
    rows = tuple(
        (p.label, _fmt(p.value, p.unit), _fmt(p.median, p.unit), f"{p.share_below:.0%}", f"{p.n:,}")
        for p in positions
    )
    table = TablePreview(
        "peer positions",
        ("metric", "yours", "peer median", "share of peers below you", "peers"),
        rows,
        len(rows),
    )
    return Section(
        "peers",
        title,
        "done",
        headline=(
            "Compared with the association's published peer benchmarks: only groups of at "
            "least k consenting businesses are published, and no single business can be "
            "identified in them.",
            *([value_note] if value_note else []),
        ),
        findings=views,
        tables=(table,),
        methods="Position = linear interpolation of your value between the group's published "
        "p10, p25, p50, p75 and p90; beyond p10 or p90 it is stated as 10 % or 90 %.",
    )
