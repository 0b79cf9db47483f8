"""The landscape pipeline and its result."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from levelfield.errors import ConfigError, DataError
from levelfield.findings import Finding, ProgressCallback, Severity, no_progress
from levelfield.landscape._gower import attribute_weights, gower_components, gower_matrix
from levelfield.landscape._kernels import (
    combined_distance,
    distinctiveness,
    market_map,
    normalize_shares,
    strategic_groups,
    strategic_homogeneity,
)
from levelfield.landscape._prices import PricePositioning, price_positioning
from levelfield.landscape._profiles import AttributeSpec, CompetitorProfiles, load_profiles
from levelfield.landscape._text import TextModel, communications, text_model
from levelfield.landscape._whitespace import (
    BinaryFeatures,
    binary_features,
    group_profiles,
    map_gaps,
    portfolio_size,
    underserved_combinations,
)
from levelfield.workspace import UNSET, Unset, Workspace

__all__ = ["LandscapeResult", "analyze", "analyze_profiles"]

FloatArray = npt.NDArray[np.float64]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True, eq=False)
class LandscapeResult:
    """The competitive landscape: distances, distinctiveness, homogeneity, groups, map,
    white space and communications.

    Attributes
    ----------
    firms
        One row per firm of the current landscape: ``name, self, share,
        distinctiveness`` (mean distance to the k nearest rivals, 0–1), ``percentile``
        (0–100, 100 = most distinctive), ``nearest_rival``, ``nearest_rival_distance``,
        ``group`` (1 = largest), ``x, y`` (map coordinates).
    distance
        (n, n) combined distance (0 identical, 1 nothing in common).
    attribute_distance, text_distance
        The two components (NaN where undefined; None when absent).
    shi, sdi, effective_strategies
        Strategic homogeneity index (0–10,000), diversity index (0–1) and the effective
        number of distinct strategies.
    trend
        SHI per snapshot date (empty without dated snapshots).
    shi_trend_per_year
        Slope of SHI over time in index points per year (None with < 2 snapshots).
    group_descriptions
        Group number (1-based) -> what sets it apart.
    stress
        Kruskal stress-1 of the market map (0 perfect, < 0.1 good, > 0.2 poor).
    white_space
        Candidate niches, each a hypothesis with its evidence.
    attribution
        What makes the business similar to its nearest rivals: attributes and words with
        their contribution to the mean similarity.
    terms, cliches, cliche_share
        Each firm's distinctive terms; the business's words used by most rivals; their
        share of the business's words.
    """

    firms: pd.DataFrame
    distance: FloatArray
    attribute_distance: FloatArray | None
    text_distance: FloatArray | None
    self_index: int | None
    k: int
    shi: float
    sdi: float
    effective_strategies: float
    shares_given: bool
    trend: pd.DataFrame
    shi_trend_per_year: float | None
    n_groups: int
    silhouette: float
    silhouette_by_k: dict[int, float]
    group_descriptions: dict[int, str]
    group_profiles: pd.DataFrame
    stress: float
    map_converged: bool
    white_space: pd.DataFrame
    combinations: pd.DataFrame
    gaps: pd.DataFrame
    attribution: pd.DataFrame
    terms: pd.DataFrame
    cliches: pd.DataFrame
    cliche_share: float
    text_method: str
    specs: tuple[AttributeSpec, ...]
    notes: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    groups_clear: bool = True
    best_split: int = 0
    groups_reason: str = ""
    prices: PricePositioning | None = None

    # -- convenience -----------------------------------------------------------------
    @property
    def n_firms(self) -> int:
        return len(self.firms)

    @property
    def business(self) -> dict[str, Any] | None:
        """The business's row of :attr:`firms` as a dict (None when no firm is self)."""
        if self.self_index is None:
            return None
        row = self.firms.iloc[self.self_index]
        return {str(k): row[k] for k in self.firms.columns}

    # -- contract ----------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Headline numbers (JSON-able)."""
        out: dict[str, Any] = {
            "firms": self.n_firms,
            "k": self.k,
            "shi": _num(self.shi),
            "sdi": _num(self.sdi),
            "effective_strategies": _num(self.effective_strategies),
            "shares_given": self.shares_given,
            "shi_trend_per_year": None
            if self.shi_trend_per_year is None
            else _num(self.shi_trend_per_year),
            "groups": self.n_groups,
            "groups_clear": self.groups_clear,
            "silhouette": _num(self.silhouette),
            "map_stress": _num(self.stress),
            "white_space_count": len(self.white_space),
            "text_method": self.text_method,
            "cliche_share": _num(self.cliche_share),
        }
        if self.prices is not None:
            out.update(self.prices.summary())
        b = self.business
        if b is not None:
            out.update(
                {
                    "business": str(b["name"]),
                    "distinctiveness": _num(float(b["distinctiveness"])),
                    "distinctiveness_percentile": _num(float(b["percentile"])),
                    "nearest_rival": str(b["nearest_rival"]),
                    "nearest_rival_distance": _num(float(b["nearest_rival_distance"])),
                    "group": int(b["group"]),
                    "group_description": self.group_descriptions.get(int(b["group"]), ""),
                }
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per firm (see :attr:`firms`)."""
        return self.firms.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every result table, for export."""
        names = list(self.firms["name"])
        return {
            "landscape_firms": self.firms.copy(),
            "landscape_distance": pd.DataFrame(self.distance, index=names, columns=names)
            .rename_axis("firm")
            .reset_index(),
            "landscape_groups": self.group_profiles.copy(),
            "landscape_homogeneity_trend": self.trend.copy(),
            "landscape_white_space": self.white_space.copy(),
            "landscape_attribution": self.attribution.copy(),
            "landscape_terms": self.terms.copy(),
            "landscape_cliches": self.cliches.copy(),
            **(self.prices.tables() if self.prices is not None else {}),
        }

    def headline(self) -> list[str]:
        """Plain-language lines for the CLI, each with its number."""
        lines: list[str] = []
        n = self.n_firms
        b = self.business
        if b is not None:
            lines.append(
                f"Distinctiveness of {b['name']}: {b['distinctiveness']:.2f} (mean distance to "
                f"its {self.k} nearest rivals, 0 = identical, 1 = nothing in common), "
                f"percentile {b['percentile']:.0f} of {n} firms."
            )
            lines.append(
                f"Nearest rival: {b['nearest_rival']} (distance {b['nearest_rival_distance']:.2f})."
            )
        else:
            lines.append("No firm is marked self=yes: market-level results only.")
        lines.append(
            f"Strategic homogeneity index (SHI): {self.shi:,.0f} of 10,000; diversity SDI "
            f"{self.sdi:.2f}; {self.effective_strategies:.1f} effective distinct strategies "
            f"among {n} firms" + ("" if self.shares_given else " (equal shares assumed)") + "."
        )
        if self.shi_trend_per_year is not None:
            direction = "homogenizing" if self.shi_trend_per_year > 0 else "diversifying"
            lines.append(
                f"Trend: SHI moves {self.shi_trend_per_year:+,.0f} points per year over "
                f"{len(self.trend)} snapshots (the market is {direction})."
            )
        if not self.groups_clear:
            lines.append(self._no_groups_text())
        elif b is not None:
            g = int(b["group"])
            size = int((self.firms["group"] == g).sum())
            weak = ", a weak structure" if self.silhouette <= 0.5 else ""
            lines.append(
                f"Strategic group {g} of {self.n_groups} ({size} firms, silhouette "
                f"{self.silhouette:.2f}{weak}): {self.group_descriptions.get(g, '')}."
            )
        else:
            lines.append(f"{self.n_groups} strategic groups (silhouette {self.silhouette:.2f}).")
        if len(self.white_space):
            for i, row in enumerate(_records(self.white_space.head(3)), start=1):
                lines.append(f"White space {i}: {row.hypothesis} Evidence: {row.evidence}")
        else:
            lines.append("White space: no under-served combination or empty map region found.")
        if len(self.cliches):
            top = ", ".join(
                f"{t} ({u} rivals)"
                for t, u in zip(
                    self.cliches["term"].head(5), self.cliches["rivals_using"].head(5), strict=True
                )
            )
            lines.append(
                f"Clichés you share with rivals: {top} — {self.cliche_share:.0%} of your words."
            )
        lines.append(f"Market map stress: {self.stress:.3f} (below 0.1 is a faithful map).")
        if self.prices is not None:
            lines += self.prices.headline()
        return lines

    def _no_groups_text(self) -> str:
        head = (
            f"No clear strategic groups: the best split into {self.best_split} groups "
            f"(silhouette {self.silhouette:.2f})"
        )
        if self.groups_reason and self.silhouette >= GROUP_SILHOUETTE_MIN:
            why = f" {self.groups_reason}: a few outliers are not a market structure."
        else:
            why = (
                f" is below {GROUP_SILHOUETTE_MIN:.2f}, under which Kaufman & Rousseeuw "
                "(1990) find no substantial structure."
            )
        return head + why + " The firms differ by degree, not as separate groups."

    def findings(self) -> list[Finding]:
        """Measured facts with stable metric ids (see the package docstring).

        In order: the business's position (:meth:`_position_findings`), the market's
        structure (:meth:`_structure_findings`), openings and the map's fidelity
        (:meth:`_opening_findings`), then price positioning when prices were given.
        """
        out = [
            *self._position_findings(),
            *self._structure_findings(),
            *self._opening_findings(),
        ]
        if self.prices is not None:
            out += self.prices.findings()
        return out

    def _position_findings(self) -> list[Finding]:
        """Distinctiveness, its percentile, the nearest rival and the business's group."""
        out: list[Finding] = []
        n = self.n_firms
        b = self.business
        if b is None:
            return out
        pct = float(b["percentile"])
        sev_pct: Severity = (
            "warning" if pct < 25 else "watch" if pct < 50 else "good" if pct >= 75 else "info"
        )
        ctx = {"firms": n, "k": self.k, "business": str(b["name"])}
        out.append(
            Finding(
                "landscape.distinctiveness",
                float(b["distinctiveness"]),
                "index",
                f"Your mean distance to your {self.k} nearest rivals is "
                f"{b['distinctiveness']:.2f} on a 0–1 scale.",
                sev_pct,
                ctx,
            )
        )
        out.append(
            Finding(
                "landscape.distinctiveness_percentile",
                pct,
                "percentile",
                f"You are more distinctive than {pct:.0f}% of the {n} firms in your market.",
                sev_pct,
                ctx,
            )
        )
        d = float(b["nearest_rival_distance"])
        out.append(
            Finding(
                "landscape.nearest_rival_distance",
                d,
                "index",
                f"Your closest rival, {b['nearest_rival']}, is at distance {d:.2f} "
                "(0 = a copy of you).",
                "warning" if d < 0.1 else "watch" if d < 0.2 else "info",
                {"nearest_rival": str(b["nearest_rival"])},
            )
        )
        g = int(b["group"])
        share = float((self.firms["group"] == g).mean())
        if self.groups_clear:
            out.append(
                Finding(
                    "landscape.self_group_share",
                    share,
                    "share",
                    f"{share:.0%} of the firms are in your strategic group ({g}: "
                    f"{self.group_descriptions.get(g, '')}).",
                    "watch" if share >= 0.5 else "info",
                    {"group": g, "groups": self.n_groups},
                )
            )
        return out

    def _structure_findings(self) -> list[Finding]:
        """Homogeneity (SHI, SDI, effective strategies, trend) and the group count."""
        out: list[Finding] = []
        n = self.n_firms
        out.append(
            Finding(
                "landscape.shi",
                self.shi,
                "index",
                f"The strategic homogeneity index is {self.shi:,.0f} of 10,000 "
                "(10,000 = every firm identical).",
                "warning" if self.shi >= 5000 else "watch" if self.shi >= 2500 else "info",
                {"shares_given": self.shares_given, "firms": n},
            )
        )
        out.append(
            Finding(
                "landscape.sdi",
                self.sdi,
                "share",
                f"The strategic diversity index is {self.sdi:.2f} (0 = all alike, 1 = all "
                "different).",
                "warning" if self.sdi <= 0.5 else "watch" if self.sdi <= 0.75 else "good",
            )
        )
        out.append(
            Finding(
                "landscape.effective_strategies",
                self.effective_strategies,
                "count",
                f"The {n} firms amount to {self.effective_strategies:.1f} effectively distinct "
                "strategies.",
                "info",
                {"firms": n},
            )
        )
        if self.shi_trend_per_year is not None:
            t = self.shi_trend_per_year
            out.append(
                Finding(
                    "landscape.shi_trend",
                    t,
                    "index_per_year",
                    f"Strategic homogeneity changes by {t:+,.0f} points per year: the market "
                    f"is {'homogenizing' if t > 0 else 'diversifying'}.",
                    "warning" if t > 250 else "watch" if t > 0 else "good",
                    {"snapshots": len(self.trend)},
                )
            )
        out.append(
            Finding(
                "landscape.group_count",
                float(self.n_groups),
                "count",
                f"The market splits into {self.n_groups} strategic groups (silhouette "
                f"{self.silhouette:.2f}; above 0.5 is a clear structure)."
                if self.groups_clear
                else self._no_groups_text(),
                "info",
                {
                    "silhouette": _num(self.silhouette),
                    "clear": 1.0 if self.groups_clear else 0.0,
                    "best_split": self.best_split,
                },
            )
        )
        return out

    def _opening_findings(self) -> list[Finding]:
        """White-space candidates, shared clichés and the map's stress."""
        out: list[Finding] = []
        out.append(
            Finding(
                "landscape.white_space_count",
                float(len(self.white_space)),
                "count",
                f"{len(self.white_space)} candidate niche(s) to test (under-served "
                "combinations or empty regions of the map).",
                "info",
                {"hypotheses": list(self.white_space["hypothesis"].head(3))},
            )
        )
        if math.isfinite(self.cliche_share):
            out.append(
                Finding(
                    "landscape.cliche_share",
                    self.cliche_share,
                    "share",
                    f"{self.cliche_share:.0%} of the words you describe yourself with are used "
                    "by most of your rivals too.",
                    "warning"
                    if self.cliche_share >= 0.5
                    else "watch"
                    if self.cliche_share >= 0.3
                    else "info",
                    {"cliches": list(self.cliches["term"].head(8))},
                )
            )
        out.append(
            Finding(
                "landscape.map_stress",
                self.stress,
                "ratio",
                f"The market map keeps the distances with stress {self.stress:.3f} "
                "(below 0.1 is faithful, above 0.2 only a rough picture).",
                "watch" if self.stress > 0.2 else "info",
            )
        )
        return out


# -- pipeline ------------------------------------------------------------------------------


def _shares_for(profiles: CompetitorProfiles, share_column: str | None) -> FloatArray:
    if share_column is None:
        return profiles.shares
    for a in profiles.attributes:
        if a.name == share_column:
            if a.kind != "numeric":
                raise ConfigError(
                    f"share_column {share_column!r} is {a.kind}; a share proxy must be numeric "
                    "(revenue, review count)"
                )
            vals = np.asarray(a.values, dtype=float)
            if np.any(vals[~np.isnan(vals)] < 0):
                bad = [profiles.names[i] for i in np.flatnonzero(vals < 0)]
                raise DataError(
                    f"share proxy {share_column!r} is negative for {', '.join(map(repr, bad[:5]))}"
                    "; a proxy must be zero or more"
                )
            return vals
    raise ConfigError(
        f"share_column {share_column!r} is not a numeric attribute; choose from "
        f"{', '.join(a.name for a in profiles.attributes if a.kind == 'numeric') or '(none)'}"
    )


def _trend(
    profiles: CompetitorProfiles, D_all: FloatArray, shares_all: FloatArray
) -> tuple[pd.DataFrame, float | None]:
    cols = ["snapshot_date", "firms", "shi", "sdi", "effective_strategies"]
    dates = profiles.snapshot
    valid = ~np.isnat(dates)
    uniq = np.unique(dates[valid])
    rows = []
    for d in uniq:  # one SHI per snapshot date (a handful)
        idx = np.flatnonzero(dates == d)
        if idx.size < 3:
            continue
        s = shares_all[idx]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the current snapshot already warned
            p, _, _ = normalize_shares(s)
        shi, sdi, eff = strategic_homogeneity(D_all[np.ix_(idx, idx)], p)
        rows.append((pd.Timestamp(d), idx.size, shi, sdi, eff))
    trend = pd.DataFrame(rows, columns=cols)
    if len(trend) < 2:
        return trend, None
    years = (trend["snapshot_date"] - trend["snapshot_date"].iloc[0]).dt.days.to_numpy() / 365.25
    slope = float(np.polyfit(years, trend["shi"].to_numpy(dtype=float), 1)[0])
    return trend, slope


def _attribution(
    profiles: CompetitorProfiles,
    text: TextModel | None,
    D_attr: FloatArray | None,
    D_text: FloatArray | None,
    weights: Mapping[str, float],
    attr_w: FloatArray,
    i: int,
    rivals: npt.NDArray[np.intp],
    asymmetric_flags: bool,
) -> pd.DataFrame:
    """Split the business's mean similarity to its nearest rivals into attributes and words.

    Similarity ``1 - D`` is a weighted mean over dimensions and, inside the attribute
    dimension, over attributes, so each attribute's share ``w_k delta_k (1 - d_k)`` and
    each word's share of the cosine ``x_it x_jt`` add up exactly to the similarity.
    """
    cols = ["kind", "feature", "value", "contribution", "share_of_similarity"]
    wa = float(weights.get("attributes", 0.5))
    wt = float(weights.get("text", 0.5))
    r = rivals
    has_a = np.zeros(r.size, bool) if D_attr is None else ~np.isnan(D_attr[i, r])
    has_t = np.zeros(r.size, bool) if D_text is None else ~np.isnan(D_text[i, r])
    denom = wa * has_a + wt * has_t
    denom = np.where(denom > 0, denom, 1.0)
    rows: list[tuple[str, str, str, float]] = []
    if D_attr is not None and profiles.attributes:
        d, delta = gower_components(profiles.attributes, i, asymmetric_flags=asymmetric_flags)
        wsum = (attr_w[:, None] * delta[:, r]).sum(axis=0)
        part = np.divide(
            attr_w[:, None] * delta[:, r] * (1.0 - d[:, r]),
            wsum[None, :],
            out=np.zeros((len(profiles.attributes), r.size)),
            where=wsum[None, :] > 0,
        )
        contrib = (part * (wa * has_a / denom)[None, :]).mean(axis=1)
        for a, c in zip(profiles.attributes, contrib, strict=True):
            rows.append(("attribute", a.name, a.value_at(i), float(c)))
    if text is not None and text.matrix is not None and D_text is not None and has_t.any():
        X = text.matrix
        xi = X[i]
        prod = X[r].multiply(xi).tocsr()  # (rivals, V): x_it x_jt
        cos = np.asarray(prod.sum(axis=1)).ravel()
        sim_cal = 1.0 - np.nan_to_num(D_text[i, r], nan=1.0)
        scale = np.divide(sim_cal, cos, out=np.zeros_like(cos), where=cos > 0)
        scale *= wt * has_t / denom
        words = np.asarray(prod.multiply(scale[:, None]).mean(axis=0)).ravel()
        top = np.argsort(-words, kind="stable")[:10]
        for t in top:
            if words[t] > 0:
                rows.append(("word", text.terms[t], "", float(words[t])))
    out = pd.DataFrame(rows, columns=cols[:4])
    total = float(out["contribution"].sum()) if len(out) else 0.0
    out["share_of_similarity"] = out["contribution"] / total if total > 0 else 0.0
    return out.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)


class _Row:
    """Attribute access to one table row (values typed Any)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _records(frame: pd.DataFrame) -> list[Any]:
    return [_Row({str(k): v for k, v in r.items()}) for r in frame.to_dict("records")]


def _white_space_table(
    combos: pd.DataFrame,
    gaps: pd.DataFrame,
    descriptions: dict[int, str],
    conditioned: bool = False,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for c in _records(combos):
        rows.append(
            {
                "kind": "combination",
                "hypothesis": (
                    f"Customers may want {c.feature_a} together with {c.feature_b}, which few "
                    "firms offer; test demand before investing (it may be rare because it "
                    "does not pay)."
                ),
                "evidence": (
                    f"{c.observed} of {c.firms} firms combine them, {c.expected:.1f} would if "
                    "the two choices were unrelated"
                    + (
                        " among firms of the same portfolio size (one-sided "
                        f"Cochran-Mantel-Haenszel p = {c.p_value:.3g}, q = {c.q_value:.3g})."
                        if conditioned
                        else f" (one-sided Fisher p = {c.p_value:.3g}, q = {c.q_value:.3g})."
                    )
                ),
                "p_value": float(c.p_value),
                "score": float(c.expected - c.observed),
            }
        )
    for g in _records(gaps):
        a, b = int(g.group_a) + 1, int(g.group_b) + 1
        rows.append(
            {
                "kind": "map_gap",
                "hypothesis": (
                    f"A position between group {a} ({descriptions.get(a, '')}) and group {b} "
                    f"({descriptions.get(b, '')}) is unoccupied; an offer that mixes the two "
                    "may find customers neither group serves well."
                ),
                "evidence": (
                    f"the nearest firm ({g.nearest_firm}) is {g.spacing_ratio:.1f}x the typical "
                    f"spacing between neighbouring firms away; firm density there is "
                    f"{g.density_ratio:.0%} of that at the groups' centres."
                ),
                "p_value": float("nan"),
                "score": float(g.spacing_ratio),
            }
        )
    cols = ["kind", "hypothesis", "evidence", "p_value", "score"]
    return pd.DataFrame(rows, columns=cols)


def analyze_profiles(
    profiles: CompetitorProfiles,
    *,
    progress: ProgressCallback = no_progress,
    k: int = 5,
    weights: Mapping[str, float] | None = None,
    attribute_weights: Mapping[str, float] | None = None,
    n_groups: int | None = None,
    max_groups: int = 8,
    text_method: str = "auto",
    alpha: float = 0.05,
    asymmetric_flags: bool = True,
    cliche_threshold: float = 0.5,
    share_column: str | None = None,
    map_max_iter: int | None = None,
    seed: int = 0,
) -> LandscapeResult:
    """Run the whole landscape analysis on profiles (no workspace needed).

    Parameters
    ----------
    profiles
        From :func:`profiles_from_frame` or :func:`load_profiles`.
    progress
        ``progress(step, fraction)`` callback.
    k
        Nearest rivals for distinctiveness (default 5).
    weights
        ``{"attributes": wa, "text": wt}``, default 0.5 each; re-normalized per pair when
        one is missing.
    attribute_weights
        Weight per attribute name inside the Gower distance (default 1 each).
    n_groups
        Number of strategic groups (default: chosen by silhouette in 2..max_groups).
    max_groups
        Largest number of groups tried.
    text_method
        ``"auto"``, ``"tfidf"`` or ``"embeddings"`` (see :func:`text_model`).
    alpha
        False discovery rate for under-served combinations (Benjamini-Hochberg q).
    asymmetric_flags
        Shared absence of a capability does not count as similarity (default True).
    cliche_threshold
        Share of rivals that must use a word for it to count as a cliché.
    share_column
        Numeric attribute to use as market-share proxy when ``market_share`` is empty.
    map_max_iter
        Cap on SMACOF iterations for the map (default depends on n).
    seed
        Seed of the map's Lanczos start vector (results are otherwise deterministic).

    Returns
    -------
    LandscapeResult

    Notes
    -----
    Stages, each a function of its own: :func:`_distances` (every snapshot),
    :func:`_position` (the current market: distinctiveness and homogeneity),
    :func:`_structure` (groups, map, white space), :func:`_communications_of`,
    :func:`_self_attribution`, :func:`_firms_table`, and :func:`_landscape_result`
    which assembles them.
    """
    _check_options(profiles, alpha, cliche_threshold)
    progress("attribute distances", 0.05)
    attr_w = attribute_weights_checked(profiles, attribute_weights)
    dist = _distances(profiles, attr_w, weights, text_method, asymmetric_flags, progress)
    pos = _position(profiles, dist, k, share_column, progress)
    text_cur = _current_text(dist.text_model, pos.index)
    structure = _structure(pos, text_cur, n_groups, max_groups, alpha, map_max_iter, seed, progress)
    progress("communications", 0.9)
    communications = _communications_of(text_cur, pos.current, cliche_threshold)
    attribution = _self_attribution(
        pos.current,
        text_cur,
        pos.attribute_distance,
        pos.text_distance,
        {"attributes": 0.5, "text": 0.5, **dict(weights or {})},
        attr_w,
        pos.nearest,
        asymmetric_flags,
    )
    firms = _firms_table(
        pos.current,
        pos.shares,
        pos.score,
        pos.percentile,
        pos.nearest,
        pos.distance,
        structure.groups.labels,
        structure.coords,
    )
    notes = (
        *profiles.notes,
        *pos.share_notes,
        *((structure.size_note,) if structure.size_note else ()),
    )
    if dist.text_model is not None:
        notes = (*notes, f"text compared with {dist.text_model.method}")
    progress("done", 1.0)
    params = {
        "k": k,
        "weights": dict(weights or {}),
        "attribute_weights": dict(attribute_weights or {}),
        "n_groups": n_groups,
        "max_groups": max_groups,
        "text_method": text_method,
        "alpha": alpha,
        "asymmetric_flags": asymmetric_flags,
        "cliche_threshold": cliche_threshold,
        "share_column": share_column,
        "map_max_iter": map_max_iter,
        "seed": seed,
    }
    return _landscape_result(
        profiles,
        dist.text_model,
        pos,
        structure,
        (firms, attribution, *communications),
        notes,
        params,
    )


@dataclass(frozen=True)
class _Position:
    """Where each firm of the current market stands (the latest snapshot of each).

    ``index`` picks the current profiles out of every snapshot; the distances are
    theirs (``attribute_distance``/``text_distance`` None when the market has no such
    dimension). ``score``, ``nearest`` and ``percentile`` are :func:`distinctiveness`
    with ``k`` rivals; ``shares`` are the normalized market shares (``shares_given``:
    taken from the data, ``share_notes``: what stood in for missing ones) behind the
    homogeneity indices ``shi`` (0–10,000), ``sdi`` (0–1) and ``effective``; ``trend``
    is SHI per snapshot date and ``trend_per_year`` its slope (index points a year).
    """

    index: npt.NDArray[np.intp]
    current: CompetitorProfiles
    distance: FloatArray
    attribute_distance: FloatArray | None
    text_distance: FloatArray | None
    score: FloatArray
    nearest: npt.NDArray[np.intp]
    percentile: FloatArray
    shares: FloatArray
    shares_given: bool
    share_notes: tuple[str, ...]
    shi: float
    sdi: float
    effective: float
    trend: pd.DataFrame
    trend_per_year: float | None


def _position(
    profiles: CompetitorProfiles,
    dist: _Distances,
    k: int,
    share_column: str | None,
    progress: ProgressCallback,
) -> _Position:
    """The current market's distances, each firm's distinctiveness and the homogeneity."""
    cur = profiles.latest_index()
    current = profiles.take(cur)
    D = dist.combined[np.ix_(cur, cur)]
    D_attr = None if dist.attributes is None else dist.attributes[np.ix_(cur, cur)]
    D_text = None if dist.text is None else dist.text[np.ix_(cur, cur)]
    progress("distinctiveness", 0.4)
    score, nearest, pct = distinctiveness(D, k)
    progress("homogeneity", 0.45)
    shares_all = _shares_for(profiles, share_column)
    p, given, share_notes = normalize_shares(shares_all[cur], current.names)
    shi, sdi, eff = strategic_homogeneity(D, p)
    trend, slope = _trend(profiles, dist.combined, shares_all)
    return _Position(
        cur,
        current,
        D,
        D_attr,
        D_text,
        score,
        nearest,
        pct,
        p,
        given,
        tuple(share_notes),
        shi,
        sdi,
        eff,
        trend,
        slope,
    )


@dataclass(frozen=True)
class _Structure:
    """The market's structure: strategic groups, the map and its white space.

    ``coords`` are the map positions (n, 2) with Kruskal ``stress`` and whether SMACOF
    ``converged``; ``combinations`` the under-served attribute combinations (``size_note``
    says when the test was conditioned on portfolio size), ``gaps`` the empty regions
    of the map and ``white_space`` both as candidate niches.
    """

    groups: _Groups
    coords: FloatArray
    stress: float
    converged: bool
    combinations: pd.DataFrame
    size_note: str
    gaps: pd.DataFrame
    white_space: pd.DataFrame


def _structure(
    pos: _Position,
    text: TextModel | None,
    n_groups: int | None,
    max_groups: int,
    alpha: float,
    map_max_iter: int | None,
    seed: int,
    progress: ProgressCallback,
) -> _Structure:
    """Strategic groups, the market map and the white space of the current market."""
    progress("strategic groups", 0.5)
    feats = binary_features(pos.current.attributes)
    groups = _find_groups(pos.distance, n_groups, max_groups, feats, text)
    progress("market map", 0.6)
    coords, stress, converged = market_map(pos.distance, max_iter=map_max_iter, seed=seed)
    progress("white space", 0.85)
    combos, size_note = _combinations(feats, pos.current.attributes, alpha)
    gaps = map_gaps(coords, groups.labels, pos.current.names)
    white = _white_space_table(combos, gaps, groups.descriptions, conditioned=bool(size_note))
    return _Structure(groups, coords, stress, converged, combos, size_note, gaps, white)


def _landscape_result(
    profiles: CompetitorProfiles,
    text: TextModel | None,
    pos: _Position,
    structure: _Structure,
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, float],
    notes: tuple[str, ...],
    params: dict[str, Any],
) -> LandscapeResult:
    """Assemble the result; ``tables`` are firms, attribution, terms, clichés and their share."""
    firms, attribution, terms, cliches, cliche_share = tables
    groups = structure.groups
    return LandscapeResult(
        firms=firms,
        distance=pos.distance,
        attribute_distance=pos.attribute_distance,
        text_distance=pos.text_distance,
        self_index=pos.current.self_index,
        k=pos.nearest.shape[1],
        shi=pos.shi,
        sdi=pos.sdi,
        effective_strategies=pos.effective,
        shares_given=pos.shares_given,
        trend=pos.trend,
        shi_trend_per_year=pos.trend_per_year,
        n_groups=int(groups.labels.max()) + 1,
        silhouette=groups.silhouette,
        silhouette_by_k=groups.silhouette_by_k,
        group_descriptions=groups.descriptions,
        group_profiles=groups.profiles,
        stress=structure.stress,
        map_converged=structure.converged,
        white_space=structure.white_space,
        combinations=structure.combinations,
        gaps=structure.gaps,
        attribution=attribution,
        terms=terms,
        cliches=cliches,
        cliche_share=cliche_share,
        text_method="none" if text is None else text.method,
        specs=profiles.specs,
        notes=tuple(notes),
        params=params,
        groups_clear=groups.clear,
        best_split=groups.best_split,
        groups_reason=groups.reason,
    )


def _check_options(profiles: Any, alpha: Any, cliche_threshold: Any) -> None:
    """Reject options :func:`analyze_profiles` cannot use, saying what would work."""
    if not isinstance(profiles, CompetitorProfiles):
        raise ConfigError(
            "analyze_profiles needs CompetitorProfiles; build them with profiles_from_frame(df)"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, not {alpha!r}")
    if not isinstance(cliche_threshold, int | float) or not 0 < cliche_threshold <= 1:
        raise ConfigError(f"cliche_threshold must be in (0, 1], not {cliche_threshold!r}")


@dataclass(frozen=True)
class _Distances:
    """Distances between all profiles (every snapshot): attributes, text, combined."""

    attributes: FloatArray | None
    text_model: TextModel | None
    text: FloatArray | None
    combined: FloatArray


def _distances(
    profiles: CompetitorProfiles,
    attr_w: FloatArray,
    weights: Mapping[str, float] | None,
    text_method: str,
    asymmetric_flags: bool,
    progress: ProgressCallback,
) -> _Distances:
    """Gower distance on the attributes, calibrated text distance, and their blend.

    A dimension a market does not have (no attributes, no text) is ``None``; the
    combined distance re-normalizes the weights per pair.
    """
    D_attr: FloatArray | None = None
    if profiles.attributes:
        D_attr, _ = gower_matrix(profiles.attributes, attr_w, asymmetric_flags=asymmetric_flags)
    progress("text distances", 0.25)
    has_text = any(t.strip() for t in profiles.texts)
    text = text_model(list(profiles.texts), method=text_method) if has_text else None
    D_text = text.distance if text is not None and text.available.any() else None
    progress("combined distance", 0.35)
    D, _ = combined_distance(D_attr, D_text, weights)
    return _Distances(D_attr, text, D_text, D)


def _current_text(text: TextModel | None, cur: npt.NDArray[np.intp]) -> TextModel | None:
    """The text model restricted to the current snapshot's firms (None without words)."""
    if text is None or text.matrix is None:
        return None
    return TextModel(
        distance=text.distance[np.ix_(cur, cur)],
        available=text.available[cur],
        chance=text.chance[cur],
        matrix=text.matrix[cur],
        tfidf=None if text.tfidf is None else text.tfidf[cur],
        terms=text.terms,
        baseline_presence=text.baseline_presence,
        method=text.method,
    )


@dataclass(frozen=True)
class _Groups:
    """Strategic groups of the current market and what sets each apart.

    ``labels`` are 0-based (all 0 when the split is not clear); ``profiles`` and
    ``descriptions`` number groups from 1. ``best_split`` is the number of groups of
    the best split found, clear or not.
    """

    labels: npt.NDArray[np.intp]
    silhouette: float
    silhouette_by_k: dict[int, float]
    clear: bool
    reason: str
    best_split: int
    profiles: pd.DataFrame
    descriptions: dict[int, str]


def _find_groups(
    D: FloatArray,
    n_groups: int | None,
    max_groups: int,
    feats: BinaryFeatures,
    text: TextModel | None,
) -> _Groups:
    """Cluster the market, keep the split only when it is a real structure, describe it."""
    labels, sil_by_k = strategic_groups(D, n_groups, max_groups=max_groups)
    labels, sil, clear, reason = _clear_split(D, labels, sil_by_k, n_groups)
    best_split = int(labels.max()) + 1
    if not clear:
        labels = np.zeros_like(labels)
    gp, desc0 = group_profiles(
        feats,
        labels,
        text_matrix=None if text is None else text.matrix,
        terms=() if text is None else text.terms,
    )
    gp["group"] = gp["group"].astype(int) + 1
    descriptions = {g + 1: d for g, d in desc0.items()}
    if not clear:
        descriptions = {1: "one market without clear strategic groups"}
    return _Groups(labels, float(sil), sil_by_k, clear, reason, best_split, gp, descriptions)


def _communications_of(
    text: TextModel | None, current: CompetitorProfiles, cliche_threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Distinctive terms and clichés; empty tables when the market has no words."""
    if text is not None:
        return communications(
            text, current.names, current.self_index, cliche_threshold=cliche_threshold
        )
    empty = TextModel(
        np.zeros((0, 0)), np.zeros(0, bool), np.zeros(0), None, None, (), np.zeros(0), "none"
    )
    return communications(empty, current.names, None)


def _self_attribution(
    current: CompetitorProfiles,
    text: TextModel | None,
    D_attr: FloatArray | None,
    D_text: FloatArray | None,
    w_dims: Mapping[str, float],
    attr_w: FloatArray,
    nearest: npt.NDArray[np.intp],
    asymmetric_flags: bool,
) -> pd.DataFrame:
    """What makes the business look like its nearest rivals (empty without a business)."""
    i = current.self_index
    if i is None:
        return pd.DataFrame(
            columns=["kind", "feature", "value", "contribution", "share_of_similarity"]
        )
    return _attribution(
        current, text, D_attr, D_text, w_dims, attr_w, i, nearest[i], asymmetric_flags
    )


def _firms_table(
    current: CompetitorProfiles,
    share: FloatArray,
    score: FloatArray,
    percentile: FloatArray,
    nearest: npt.NDArray[np.intp],
    D: FloatArray,
    labels: npt.NDArray[np.intp],
    coords: FloatArray,
) -> pd.DataFrame:
    """One row per current firm: share, distinctiveness, nearest rival, group, map position."""
    return pd.DataFrame(
        {
            "name": list(current.names),
            "self": current.is_self.copy(),
            "share": share,
            "distinctiveness": score,
            "percentile": percentile,
            "nearest_rival": [current.names[j] for j in nearest[:, 0]],
            "nearest_rival_distance": D[np.arange(current.n), nearest[:, 0]],
            "group": labels + 1,
            "x": coords[:, 0],
            "y": coords[:, 1],
        }
    )


#: Mean silhouette width below which a partition shows no substantial structure
#: (Kaufman & Rousseeuw 1990, p. 88: 0.26-0.50 weak, 0.51-0.70 reasonable, above strong).
GROUP_SILHOUETTE_MIN = 0.25
#: A strategic group has at least this many firms, and at least :data:`MIN_GROUP_SHARE`
#: of the market: a split that sets apart a few outliers is not a market structure.
MIN_GROUP_FIRMS = 3
MIN_GROUP_SHARE = 0.05


def groups_are_clear(labels: npt.NDArray[np.intp], silhouette: float) -> tuple[bool, str]:
    """Whether a partition is a real group structure, and why not beyond the silhouette.

    Clear when the mean silhouette is at least :data:`GROUP_SILHOUETTE_MIN` and at least
    two groups have ``max(MIN_GROUP_FIRMS, MIN_GROUP_SHARE * n)`` firms or more. The
    reason names splits that only set apart a few firms (empty otherwise).
    """
    counts = np.bincount(labels)
    min_size = max(MIN_GROUP_FIRMS, math.ceil(MIN_GROUP_SHARE * labels.size))
    big = int((counts >= min_size).sum())
    small = int(counts[counts < min_size].sum())
    reason = (
        f"only sets apart {small} firm(s) in group(s) of fewer than {min_size} firms"
        if big < 2 and counts.size > 1
        else ""
    )
    ok = math.isfinite(silhouette) and silhouette >= GROUP_SILHOUETTE_MIN and big >= 2
    return ok, reason


def _clear_split(
    D: FloatArray,
    labels: npt.NDArray[np.intp],
    sil_by_k: dict[int, float],
    n_groups: int | None,
) -> tuple[npt.NDArray[np.intp], float, bool, str]:
    """The best split that is a real structure: the silhouette's choice when clear, else
    the next best number of groups that is; ``(labels, silhouette, clear, reason)``."""
    k0 = int(labels.max()) + 1
    sil = (
        sil_by_k.get(k0, float("nan"))
        if n_groups is None
        else next(iter(sil_by_k.values()), float("nan"))
    )
    clear, reason = groups_are_clear(labels, sil)
    if clear or n_groups is not None:
        return labels, sil, clear, reason
    for k, s in sorted(sil_by_k.items(), key=lambda kv: -kv[1]):  # at most max_groups
        if k == k0 or s < GROUP_SILHOUETTE_MIN:
            continue
        lab_k, _ = strategic_groups(D, k)
        if groups_are_clear(lab_k, s)[0]:
            return lab_k, s, True, ""
    return labels, sil, False, reason


def _combinations(feats: BinaryFeatures, attributes: Any, alpha: float) -> tuple[pd.DataFrame, str]:
    """Under-served feature pairs, conditioned on portfolio size when firms list sets.

    A firm with one product has one style: an unconditioned test would present that
    arithmetic as white space. With set attributes, pairs are tested within
    portfolio-size strata and numeric attributes that count the portfolio are left out.
    """
    size = portfolio_size(attributes)
    if size is None:
        return underserved_combinations(feats, alpha=alpha), ""
    combos = underserved_combinations(
        feats, alpha=alpha, strata=size.strata, exclude=tuple(size.counting)
    )
    return combos, size.describe()


def attribute_weights_checked(
    profiles: CompetitorProfiles, weights: Mapping[str, float] | None
) -> FloatArray:
    """Per-attribute weights in profile order (checked)."""
    if weights is not None and not isinstance(weights, Mapping):
        raise ConfigError("attribute_weights must be a mapping of attribute name to weight")
    return attribute_weights(profiles.attributes, weights)


def analyze(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    k: int | Unset = UNSET,
    weights: Mapping[str, float] | Unset = UNSET,
    attribute_weights: Mapping[str, float] | Unset = UNSET,
    n_groups: int | Unset | None = UNSET,
    max_groups: int | Unset = UNSET,
    text_method: str | Unset = UNSET,
    alpha: float | Unset = UNSET,
    asymmetric_flags: bool | Unset = UNSET,
    cliche_threshold: float | Unset = UNSET,
    share_column: str | Unset | None = UNSET,
    map_max_iter: int | Unset | None = UNSET,
    seed: int | Unset = UNSET,
    price_move_threshold: float | Unset = UNSET,
    price_move_window_days: int | Unset = UNSET,
) -> LandscapeResult:
    """Analyse the competitive landscape of the workspace's ``competitors`` table.

    Reads the profiles, runs :func:`analyze_profiles` and records the run in the
    workspace. Keywords left out are read from the settings (``landscape.k``, ...;
    ``levelfield settings``); given ones override them for this run (see
    :func:`analyze_profiles` for their meaning; empty weights mean the defaults). With
    dated rival prices (``competitor_prices``) the result also carries
    :class:`PricePositioning` (``prices``): the owner's price position, its monthly trend
    and the rivals' price moves of at least ``price_move_threshold`` (share, default 0.10)
    within ``price_move_window_days`` (default 183) of the newest observation, each a
    ``landscape.rival_price_move`` finding.

    Raises
    ------
    InsufficientDataError
        No competitors imported, or fewer than three firms.
    ConfigError
        An invalid parameter.
    """
    params, used = ws.settings.resolve(
        "landscape",
        {
            "k": k,
            "weights": weights,
            "attribute_weights": attribute_weights,
            "n_groups": n_groups,
            "max_groups": max_groups,
            "text_method": text_method,
            "alpha": alpha,
            "asymmetric_flags": asymmetric_flags,
            "cliche_threshold": cliche_threshold,
            "share_column": share_column,
            "map_max_iter": map_max_iter,
            "seed": seed,
            "price_move_threshold": price_move_threshold,
            "price_move_window_days": price_move_window_days,
        },
    )
    for name in ("weights", "attribute_weights"):
        params[name] = dict(params[name]) or None
    started = _utcnow()
    progress("reading competitor profiles", 0.0)
    profiles = load_profiles(ws)
    moves = {n: params[n] for n in ("price_move_threshold", "price_move_window_days")}
    rest = {n: v for n, v in params.items() if n not in moves}
    result = analyze_profiles(profiles, progress=progress, **rest)
    progress("positioning prices against rivals", 0.95)
    prices = price_positioning(
        ws.con,
        ws.currency(),
        move_threshold=float(moves["price_move_threshold"]),
        move_window_days=int(moves["price_move_window_days"]),
    )
    if prices is not None:
        result = dataclasses.replace(result, prices=prices, notes=result.notes + prices.notes)
    ws.record_run("landscape", params, result.summary(), started, settings=used)
    return result
