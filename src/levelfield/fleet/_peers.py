"""Anonymous peer benchmarks: k-anonymous percentiles per metric and peer group.

Rules enforced (one release = one call of :func:`peer_benchmarks`):

1. **k contributors.** A group's percentiles (p10, p25, p50, p75, p90) and count are
   published only when at least ``k`` businesses that consented to pooling contributed a
   value of that metric. Businesses without consent never enter any statistic.
2. **Coarsen, then suppress.** Groups are sector x region x size band. Businesses of
   groups below ``k`` are pooled per sector x size band ("region dropped"), the rest of
   those per sector ("region and size band dropped"); what is still below ``k`` is
   suppressed (no count, no statistics). A pooled group holds only businesses not
   published at a finer level, so the groups of one release are disjoint: no two
   published groups of a release differ by a few members.
3. **No differencing across releases** (query-set overlap control, Dobkin, Jones &
   Lipton 1979). The ledger of earlier releases keeps each published group's members.
   A group is republished only if its members equal those of every earlier published
   group of the same metric it overlaps, or differ from each by at least ``k``
   businesses (symmetric difference). Removing (or adding) one business and publishing
   again therefore suppresses the affected group instead of letting the two releases'
   statistics be compared: any difference of two published groups concerns at least
   ``k`` businesses, never one.

The ledger holds business ids: it stays with the association (it is what makes rule 3
checkable) and is never published. The published table holds groups, counts and
percentiles only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from levelfield.errors import ConfigError, DataError
from levelfield.fleet._kernels import METRICS

__all__ = ["PERCENTILES", "PeerRelease", "peer_benchmarks"]

PERCENTILES = (10, 25, 50, 75, 90)
_LEVELS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("sector", "region", "size_band"), "sector x region x size band"),
    (("sector", "size_band"), "sector x size band (region dropped)"),
    (("sector",), "sector (region and size band dropped)"),
)
_POOLED = "pooled"
_STATS = [f"p{q}" for q in PERCENTILES]
RELEASE_COLUMNS = [
    "metric", "unit", "sector", "region", "size_band", "level", "status", "n", *_STATS, "reason",
]  # fmt: skip
LEDGER_COLUMNS = ["metric", "sector", "group", "members"]


@dataclass(frozen=True)
class PeerRelease:
    """One release: the published table and the (private) ledger for the next release."""

    table: pd.DataFrame
    ledger: pd.DataFrame
    k: int

    @property
    def published(self) -> pd.DataFrame:
        return self.table.loc[self.table["status"] != "suppressed"]


def _contributions(
    findings: pd.DataFrame, businesses: pd.DataFrame, metrics: Mapping[str, str]
) -> pd.DataFrame:
    need = {"business_id", "sector", "region", "size_band", "consent"}
    if missing := sorted(need - set(businesses.columns)):
        raise DataError(f"the businesses table lacks the column(s) {', '.join(missing)}")
    ok = findings.loc[findings["error"].isna() & findings["metric"].isin(list(metrics))]
    ok = ok.loc[np.isfinite(ok["value"].to_numpy(dtype=float))]
    biz = businesses.loc[businesses["consent"].astype(bool), sorted(need - {"consent"})]
    vals = ok[["business_id", "metric", "value"]].merge(biz, on="business_id", how="inner")
    out: pd.DataFrame = vals.astype({"sector": str, "region": str, "size_band": str})
    return out


def _assign_groups(vals: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each contribution's group (fine, pooled or none) and level, by rule 2."""
    out = vals.assign(level=-1, g_region=_POOLED, g_size=_POOLED)
    left = np.ones(len(out), dtype=bool)
    for i, (keys, _label) in enumerate(_LEVELS):
        sub = out.loc[left]
        n = sub.groupby(["metric", *keys])["value"].transform("size")
        take = sub.index[n.to_numpy() >= k]
        out.loc[take, "level"] = i
        if "region" in keys:
            out.loc[take, "g_region"] = out.loc[take, "region"]
        if "size_band" in keys:
            out.loc[take, "g_size"] = out.loc[take, "size_band"]
        left &= ~out.index.isin(take)
    return out


def _group_key(frame: pd.DataFrame) -> pd.Series:
    return frame["sector"] + "|" + frame["g_region"] + "|" + frame["g_size"]


def _differencing_blocked(
    groups: pd.DataFrame, ledger: pd.DataFrame | None, k: int
) -> dict[tuple[str, str], str]:
    """Published candidates (metric, group) that rule 3 suppresses, with the reason."""
    blocked: dict[tuple[str, str], str] = {}
    if ledger is None or ledger.empty:
        return blocked
    earlier: dict[tuple[str, str], list[frozenset[str]]] = {}
    for m, s, members in ledger[["metric", "sector", "members"]].itertuples(index=False):
        earlier.setdefault((m, s), []).append(frozenset(members))
    for m, s, key, members in groups[["metric", "sector", "group", "members"]].itertuples(
        index=False
    ):  # one pass over groups (hundreds), not over businesses
        now = frozenset(members)
        for before in earlier.get((m, s), []):
            d = len(now ^ before)
            if now & before and 0 < d < k:
                blocked[(m, key)] = (
                    f"suppressed: its members differ from an earlier release's group by {d} "
                    f"business(es), fewer than k={k}; comparing the two releases could "
                    "reveal their values"
                )
                break
    return blocked


def peer_benchmarks(
    findings: pd.DataFrame,
    businesses: pd.DataFrame,
    *,
    k: int = 10,
    ledger: pd.DataFrame | None = None,
    metrics: Mapping[str, str] = METRICS,
) -> PeerRelease:
    """Publishable peer percentiles per metric and peer group (rules in the module doc).

    Parameters
    ----------
    findings
        ``fleet_findings`` rows (business_id, metric, value, error).
    businesses
        business_id, sector, region, size_band, consent.
    k
        Minimum number of consenting contributors of a published group (default 10).
    ledger
        The ledger of earlier releases (:attr:`PeerRelease.ledger`), for rule 3.
    metrics
        Metric id -> unit of the metrics to release (default the fleet's
        :data:`METRICS`; the cooperation evidence pack passes its own).
    """
    if not (isinstance(k, int) and k >= 2):
        raise ConfigError(f"k must be a whole number of at least 2, not {k!r}")
    vals = _assign_groups(_contributions(findings, businesses, metrics), k)
    vals["group"] = _group_key(vals)
    pub = vals.loc[vals["level"] >= 0]
    groups = (
        pub.groupby(["metric", "group"], sort=True)
        .agg(
            sector=("sector", "first"),
            region=("g_region", "first"),
            size_band=("g_size", "first"),
            level=("level", "first"),
            n=("value", "size"),
            members=("business_id", lambda s: sorted(s)),
        )
        .reset_index()
    )
    if pub.empty:
        groups = groups.assign(**dict.fromkeys(_STATS, np.nan))
    else:
        q = pub.groupby(["metric", "group"])["value"].quantile(np.array(PERCENTILES) / 100.0)
        stats = q.unstack().set_axis(_STATS, axis=1).reset_index()
        groups = groups.merge(stats, on=["metric", "group"])
    blocked = _differencing_blocked(groups, ledger, k)
    keys = list(zip(groups["metric"], groups["group"], strict=True))
    is_blocked = np.array([key in blocked for key in keys], dtype=bool)
    groups["status"] = np.where(groups["level"] == 0, "published", "coarsened")
    groups["reason"] = [
        blocked.get(key, "")
        or ("" if lv == 0 else f"fewer than k={k} in the finer group; {_LEVELS[lv][1]}")
        for key, lv in zip(keys, groups["level"], strict=True)
    ]
    groups.loc[is_blocked, "status"] = "suppressed"
    groups.loc[is_blocked, ["n", *_STATS]] = np.nan
    groups["level"] = [_LEVELS[lv][1] for lv in groups["level"]]
    table = pd.concat([groups, _suppressed(vals, k)], ignore_index=True)
    table["unit"] = table["metric"].map(dict(metrics))
    new = groups.loc[~is_blocked, LEDGER_COLUMNS]
    full = new if ledger is None else pd.concat([ledger[LEDGER_COLUMNS], new], ignore_index=True)
    full = full.loc[~full.assign(m=full["members"].map(tuple)).duplicated(["metric", "group", "m"])]
    return PeerRelease(table[RELEASE_COLUMNS], full.reset_index(drop=True), k)


def _suppressed(vals: pd.DataFrame, k: int) -> pd.DataFrame:
    """One row per fine group whose businesses are in no published group (no count)."""
    rest = vals.loc[vals["level"] < 0]
    rows = rest.groupby(["metric", "sector", "region", "size_band"]).size().reset_index()
    return rows.drop(columns=0).assign(
        level=_LEVELS[0][1],
        status="suppressed",
        n=np.nan,
        reason=f"fewer than k={k} consenting businesses even with region and size band pooled",
    )
