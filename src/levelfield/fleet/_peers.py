"""Anonymous peer benchmarks: k-anonymous percentiles per metric and peer group.

Rules enforced (one release = one call of :func:`peer_benchmarks`):

1. **k contributors.** A group's percentiles (p10, p25, p50, p75, p90) and count (and,
   for the amounts of :data:`TOTAL_METRICS`, its total) are published only when at least
   ``k`` businesses that consented to pooling contributed a value of that metric.
   Businesses without consent never enter any statistic.
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

4. **Optional differential privacy** (``epsilon``). Each value is clipped to its
   metric's bounds (:data:`CLIP_BOUNDS`: shares to [0, 1], HHI to [0, 10,000]). The total
   budget ``epsilon`` is split equally over the metrics of the release (sequential
   composition: one business contributes to every metric) and, within a metric, over the
   six statistics of a group (count and five percentiles, sequential again; seven with a
   total, whose sensitivity is also hi - lo); the groups of
   one metric are disjoint, so they compose in parallel. Each statistic gets Laplace noise
   of scale sensitivity / its epsilon: 1 for the count, the clipping range (hi - lo) for a
   percentile, the most one business can move it. Noisy percentiles are clipped to the
   bounds and sorted, noisy counts rounded (post-processing costs no budget). The noise of
   a group is drawn from a generator keyed by a secret and the group's members, so
   republishing the same members gives the same numbers: repeating a release cannot be
   averaged away. What the k threshold and rule 3 decide rests on exact counts and is not
   itself covered by the budget; the statement in :attr:`PeerRelease.privacy` says so.

The ledger holds business ids: it stays with the association (it is what makes rule 3
checkable) and is never published, like the noise secret. The published table holds
groups, counts and percentiles only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from levelfield.errors import ConfigError, DataError
from levelfield.fleet._kernels import METRICS, REVENUE_VALUE_UNIT, metric_unit

__all__ = [
    "CLIP_BOUNDS",
    "PERCENTILES",
    "TOTAL_METRICS",
    "PeerRelease",
    "clip_bounds",
    "peer_benchmarks",
]

PERCENTILES = (10, 25, 50, 75, 90)
_LEVELS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("sector", "region", "size_band"), "sector x region x size band"),
    (("sector", "size_band"), "sector x size band (region dropped)"),
    (("sector",), "sector (region and size band dropped)"),
)
_POOLED = "pooled"
_STATS = [f"p{q}" for q in PERCENTILES]
RELEASE_COLUMNS = [
    "metric", "unit", "sector", "region", "size_band", "level", "status", "n", *_STATS, "total",
    "reason", "epsilon",
]  # fmt: skip
#: Clipping bounds (lo, hi) of the differentially private release, by unit.
CLIP_BOUNDS: dict[str, tuple[float, float]] = {
    "share": (0.0, 1.0),
    "index": (0.0, 10_000.0),
    "currency": (0.0, 1_000_000.0),
    # product price elasticities outside this range are estimation noise, not demand
    "elasticity": (-6.0, 1.0),
}
#: Metrics whose group total (sum over the group's members) is published too: amounts
#: whose sum means something to an association (the members' total compliance cost).
TOTAL_METRICS = frozenset({"exposure.compliance_cost"})
_N_STATS = 1 + len(PERCENTILES)  # count and five percentiles per group (+1 with a total)


def clip_bounds(unit: str) -> tuple[float, float]:
    """Clipping bounds of a unit; a unit without stated bounds cannot be released with DP."""
    if unit not in CLIP_BOUNDS:
        raise ConfigError(f"no clipping bounds for unit {unit!r}: a DP release needs them")
    return CLIP_BOUNDS[unit]


LEDGER_COLUMNS = ["metric", "sector", "group", "members"]


@dataclass(frozen=True)
class PeerRelease:
    """One release: the published table and the (private) ledger for the next release."""

    table: pd.DataFrame
    ledger: pd.DataFrame
    k: int
    privacy: dict[str, Any] = field(default_factory=dict)

    @property
    def published(self) -> pd.DataFrame:
        return self.table.loc[self.table["status"] != "suppressed"]


def _unit(metric: str, metrics: Mapping[str, str]) -> str:
    """A metric's unit in this release ("" = not released): the fleet's ids include the
    per-marketplace fee rates; a caller's own ``metrics`` are taken as given."""
    if metrics is METRICS:
        return metric_unit(metric)
    return metrics.get(metric, "")


def _contributions(
    findings: pd.DataFrame, businesses: pd.DataFrame, metrics: Mapping[str, str]
) -> pd.DataFrame:
    need = {"business_id", "sector", "region", "size_band", "consent"}
    if missing := sorted(need - set(businesses.columns)):
        raise DataError(f"the businesses table lacks the column(s) {', '.join(missing)}")
    known = findings["metric"].map(lambda m: _unit(str(m), metrics)).ne("")
    if "unit" in findings:
        # a customer value that is revenue (margin unknown) is never pooled with the
        # profit values of the others
        known &= findings["unit"].ne(REVENUE_VALUE_UNIT)
    ok = findings.loc[findings["error"].isna() & known]
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
    epsilon: float | None = None,
    secret: bytes | None = None,
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
    epsilon
        Total differential-privacy budget of the release (rule 4); None: no noise.
    secret
        Key of the noise generator (kept private with the ledger); None draws fresh
        noise from the operating system (then a repeated release differs).
    """
    if isinstance(k, bool) or not (isinstance(k, int) and k >= 2):
        raise ConfigError(f"k must be a whole number of at least 2, not {k!r}")
    if epsilon is not None and not (
        isinstance(epsilon, int | float) and np.isfinite(epsilon) and epsilon > 0
    ):
        raise ConfigError(f"epsilon must be a positive number, not {epsilon!r}")
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
    total = pub.groupby(["metric", "group"])["value"].sum().rename("total").reset_index()
    groups = groups.merge(total, on=["metric", "group"], how="left")
    groups.loc[~groups["metric"].isin(TOTAL_METRICS), "total"] = np.nan
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
    groups.loc[is_blocked, ["n", *_STATS, "total"]] = np.nan
    privacy: dict[str, Any] = {"k": k, "differential_privacy": False}
    groups["epsilon"] = np.nan
    if epsilon is not None:
        groups, privacy = _add_noise(groups, pub, float(epsilon), secret, k, metrics)
    groups["level"] = [_LEVELS[lv][1] for lv in groups["level"]]
    table = pd.concat([groups, _suppressed(vals, k)], ignore_index=True)
    table["unit"] = table["metric"].map(lambda m: _unit(str(m), metrics))
    new = groups.loc[~is_blocked, LEDGER_COLUMNS]
    full = new if ledger is None else pd.concat([ledger[LEDGER_COLUMNS], new], ignore_index=True)
    full = full.loc[~full.assign(m=full["members"].map(tuple)).duplicated(["metric", "group", "m"])]
    return PeerRelease(table[RELEASE_COLUMNS], full.reset_index(drop=True), k, privacy)


def _noise_rng(secret: bytes | None, metric: str, members: list[str]) -> np.random.Generator:
    if secret is None:
        return np.random.default_rng()
    msg = (metric + "\x00" + "\x00".join(members)).encode()
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _add_noise(
    groups: pd.DataFrame,
    pub: pd.DataFrame,
    epsilon: float,
    secret: bytes | None,
    k: int,
    units: Mapping[str, str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rule 4: clipped percentiles and counts with Laplace noise; the budget statement."""
    metrics = sorted(set(groups["metric"]))
    eps_metric = epsilon / max(1, len(metrics))
    eps_stat = eps_metric / _N_STATS
    eps_total_stat = eps_metric / (_N_STATS + 1)
    out = groups.copy()
    live = out["status"] != "suppressed"
    for idx in out.index[live.to_numpy()]:  # one draw per published group, not per row
        metric, group = str(out.at[idx, "metric"]), str(out.at[idx, "group"])
        lo, hi = clip_bounds(_unit(metric, units))
        eps = eps_total_stat if metric in TOTAL_METRICS else eps_stat
        vals = np.clip(
            pub.loc[(pub["metric"] == metric) & (pub["group"] == group), "value"].to_numpy(float),
            lo,
            hi,
        )
        rng = _noise_rng(secret, metric, [str(b) for b in out.loc[idx, "members"]])
        noisy = np.percentile(vals, PERCENTILES) + rng.laplace(0.0, (hi - lo) / eps, 5)
        n_noisy = float(np.rint(len(vals) + rng.laplace(0.0, 1.0 / eps)))
        out.loc[idx, _STATS] = np.sort(np.clip(noisy, lo, hi))
        out.loc[idx, "n"] = max(0.0, n_noisy)
        if metric in TOTAL_METRICS:
            total = float(vals.sum()) + rng.laplace(0.0, (hi - lo) / eps)
            out.loc[idx, "total"] = min(max(total, 0.0), hi * max(0.0, n_noisy))
    out.loc[live, "epsilon"] = eps_metric
    statement = (
        f"Differential privacy (Laplace mechanism): total budget epsilon={epsilon:g} over "
        f"{len(metrics)} metric(s) (sequential composition), {eps_metric:.4g} per metric, "
        f"split over {_N_STATS} statistics per group ({eps_stat:.4g} each; "
        f"{_N_STATS + 1} with a published total, {eps_total_stat:.4g} each); groups of one "
        "metric are disjoint (parallel composition). Values clipped to "
        + ", ".join(f"{u} [{lo:g}, {hi:g}]" for u, (lo, hi) in CLIP_BOUNDS.items())
        + "; percentile noise scale = (hi - lo) / epsilon per statistic, count noise scale = "
        f"1 / epsilon per statistic. Which groups are published (k={k}) and the differencing "
        "rule use exact counts and are not covered by this budget."
    )
    return out, {
        "k": k,
        "differential_privacy": True,
        "mechanism": "laplace",
        "epsilon_total": epsilon,
        "epsilon_per_metric": eps_metric,
        "epsilon_per_statistic": eps_stat,
        "statistics_per_group": _N_STATS,
        "epsilon_per_statistic_with_total": eps_total_stat,
        "total_metrics": sorted(TOTAL_METRICS & set(metrics)),
        "metrics": metrics,
        "clip_bounds": {u: list(b) for u, b in CLIP_BOUNDS.items()},
        "composition": "sequential over metrics and statistics, parallel over disjoint groups",
        "statement": statement
        + " Totals (sums over a group's members) use the same clipping; their noise scale "
        "is (hi - lo) / epsilon per statistic.",
    }


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
