"""Partner and co-opetition matching across a group of businesses' workspaces.

For every pair of members the matcher measures what makes them good partners:

- **customers in common**, counted from group tokens (``levelfield cooperate tokens``):
  only the number of common tokens is computed and kept, never which customers;
- **different products**: 1 minus the Jaccard similarity of the product categories they
  sell;
- **adjacent positions**: the Gower distance between their own rows of the competitor
  table (:func:`levelfield.landscape.gower_matrix`), adjacent when between
  :data:`RIVAL_DISTANCE` and :data:`FAR_DISTANCE`;
- **shared suppliers** (by supplier name) and the **same region**.

A pair that is very close in position (below :data:`RIVAL_DISTANCE`) and sells mostly
the same products is flagged as **rivals**: a co-opetition candidate, proposed only for
what they do not compete on (joint purchasing, shared logistics, advocacy), never for
bundles or co-marketing.

The complementarity score of member ``i`` with partner ``j`` is
``overlap_ij x product_difference + 0.10 adjacent + 0.05 min(shared suppliers, 2) +
0.05 same region``, where ``overlap_ij`` is the share of ``i``'s customers who also buy
from ``j`` (directional: a small shop's share of a big one differs from the reverse).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from levelfield.cooperation._tokens import GroupKey
from levelfield.errors import DataError, InsufficientDataError, LevelfieldError
from levelfield.findings import json_float, money
from levelfield.workspace import Workspace, open_workspace

__all__ = [
    "FAR_DISTANCE",
    "RIVAL_DISTANCE",
    "RIVAL_PRODUCT_SIMILARITY",
    "UPTAKE",
    "MemberProfile",
    "PartnersResult",
    "find_workspaces",
    "match_partners",
    "member_profile",
]

RIVAL_DISTANCE = 0.12
"""Gower distance below which two members' positions count as (nearly) identical."""
FAR_DISTANCE = 0.6
"""Gower distance above which two positions are not adjacent."""
RIVAL_PRODUCT_SIMILARITY = 0.5
"""Jaccard similarity of product categories from which two close members are rivals."""
MIN_OVERLAP = 0.05
"""Smallest share of customers in common that counts as a reason to partner."""
MIN_SHARED = 3
"""Fewest customers in common that count: one or two shared customers are chance, whatever
share of a shop with four e-mails on file they make (1 of 4 is 25 %)."""
UPTAKE = (0.02, 0.08)
"""Share of a partner's other customers a joint offer might win (an assumption, stated)."""


@dataclass(frozen=True)
class MemberProfile:
    """What one member contributes to matching (names, sets and counts; no customer data)."""

    name: str
    path: Path
    region: str | None
    categories: frozenset[str]
    suppliers: frozenset[str]
    customers: int
    revenue_per_customer: float
    currency: str
    tokens: int
    position: dict[str, Any] = field(default_factory=dict)
    position_types: dict[str, str] = field(default_factory=dict)


def find_workspaces(directory: Path) -> list[Path]:
    """Workspace files (``*.duckdb``) in ``directory`` and its sub-folders, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such folder; give the folder holding the workspaces")
    found = sorted(p for p in directory.rglob("*.duckdb") if p.is_file())
    if len(found) < 2:
        raise InsufficientDataError(
            f"{directory}: found {len(found)} workspace(s) (*.duckdb); partner matching needs "
            "at least 2 members"
        )
    return found


def _business(ws: Workspace) -> dict[str, Any]:
    rows = ws.con.execute("SELECT key, value FROM business").fetchall()
    out: dict[str, Any] = {}
    for k, v in rows:
        try:
            out[str(k)] = json.loads(v)
        except (TypeError, ValueError):
            out[str(k)] = v
    return out


def _strings(ws: Workspace, sql: str) -> frozenset[str]:
    return frozenset(str(r[0]).strip().lower() for r in ws.con.execute(sql).fetchall() if r[0])


def _position(ws: Workspace) -> tuple[dict[str, Any], dict[str, str]]:
    rows = ws.con.execute(
        "SELECT attributes, attribute_types FROM competitors WHERE is_self "
        "ORDER BY snapshot_date DESC NULLS LAST LIMIT 1"
    ).fetchall()
    if not rows:
        return {}, {}
    attrs = json.loads(rows[0][0]) if rows[0][0] else {}
    types = json.loads(rows[0][1]) if rows[0][1] else {}
    return dict(attrs), {str(k): str(v) for k, v in types.items() if v is not None}


def member_profile(ws: Workspace, key: GroupKey) -> MemberProfile:
    """Read one member's profile from its workspace (counts, names and sets only)."""
    biz = _business(ws)
    name = str(biz.get("name") or ws.path.parent.name or ws.path.stem)
    customers, revenue = ws.con.execute(
        "SELECT count(DISTINCT customer_id), coalesce(sum(net_revenue_base), 0) "
        "FROM order_revenue WHERE NOT is_refund"
    ).fetchall()[0]
    tokens = int(
        ws.con.execute(
            "SELECT count(*) FROM group_tokens WHERE group_id = ?", [key.group_id]
        ).fetchall()[0][0]
    )
    cats = _strings(
        ws,
        "SELECT category FROM order_lines UNION SELECT category FROM products",
    )
    position, types = _position(ws)
    return MemberProfile(
        name=name,
        path=ws.path,
        region=str(biz["region"]) if biz.get("region") else None,
        categories=cats,
        suppliers=frozenset(
            str(r[0]).strip()
            for r in ws.con.execute("SELECT DISTINCT name FROM suppliers").fetchall()
            if r[0] and str(r[0]).strip()
        ),
        customers=int(customers),
        revenue_per_customer=float(revenue) / customers if customers else float("nan"),
        currency=str(biz.get("currency") or "EUR"),
        tokens=tokens,
        position=position,
        position_types=types,
    )


def overlap_counts(
    workspaces: list[Workspace], key: GroupKey
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Customers in common per pair of members (``n x n``; the diagonal: own tokens).

    The tokens are read into one in-memory database, counted with one join and dropped;
    only the counts leave this function.
    """
    n = len(workspaces)
    tables = [
        ws.con.sql(
            f"SELECT {i} AS m, token FROM group_tokens WHERE group_id = $g",
            params={"g": key.group_id},
        ).to_arrow_table()
        for i, ws in enumerate(workspaces)
    ]
    con = duckdb.connect()
    try:
        con.register("_lf_tokens", pa.concat_tables(tables))
        rows = con.execute(
            "SELECT a.m, b.m, count(*) FROM _lf_tokens a JOIN _lf_tokens b USING (token) "
            "GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    out = np.zeros((n, n), dtype=np.int64)
    if rows:
        idx = np.array(rows, dtype=np.int64)
        out[idx[:, 0], idx[:, 1]] = idx[:, 2]
    return out


def position_distances(members: list[MemberProfile]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Gower distance between members' own competitor rows (NaN where unknown)."""
    # Imported here: landscape loads scikit-learn, which the CLI does not load at start.
    n = len(members)
    have = [i for i, m in enumerate(members) if m.position]
    out = np.full((n, n), np.nan)
    if len(have) < 2:
        return out
    dist = gower_distances(
        [members[i].position for i in have], [members[i].position_types for i in have]
    )
    out[np.ix_(have, have)] = dist
    return out


def gower_distances(
    positions: list[dict[str, Any]], types: list[dict[str, str]]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Gower distance between own competitor rows (attributes and their types; at least 2)."""
    from levelfield.landscape import gower_matrix, profiles_from_frame

    merged: dict[str, str] = {}
    for t in types:
        merged.update(t)
    frame = pd.DataFrame([{"name": f"#{i}", **p} for i, p in enumerate(positions)])
    merged = {k: v for k, v in merged.items() if k in frame.columns and k != "name"}
    profiles = profiles_from_frame(frame, merged, min_firms=2)
    dist, _ = gower_matrix(profiles.attributes)
    return np.asarray(dist, dtype=np.float64)


def _incidence(
    sets: list[frozenset[str]],
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], list[str]]:
    vocab = sorted(set().union(*sets)) if sets else []
    index = {v: j for j, v in enumerate(vocab)}
    mat = np.zeros((len(sets), len(vocab)))
    rows = [i for i, s in enumerate(sets) for _ in s]
    cols = [index[v] for s in sets for v in s]
    mat[rows, cols] = 1.0
    return mat, vocab


def _jaccard(mat: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    inter = mat @ mat.T
    size = mat.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    return np.asarray(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0))


def _pairs(
    members: list[MemberProfile],
    overlap: np.ndarray[Any, np.dtype[np.int64]],
    dist: np.ndarray[Any, np.dtype[np.float64]],
) -> pd.DataFrame:
    """One row per ordered pair (member, partner), with every measure and the score."""
    n = len(members)
    cat_mat, _ = _incidence([m.categories for m in members])
    # Suppliers match by name regardless of case; the first spelling seen is shown.
    shown: dict[str, str] = {}
    for m in members:
        for s in sorted(m.suppliers):
            shown.setdefault(s.casefold(), s)
    sup_mat, keys = _incidence([frozenset(s.casefold() for s in m.suppliers) for m in members])
    vocab = [shown[k] for k in keys]
    similarity = _jaccard(cat_mat)
    shared_sup = sup_mat @ sup_mat.T
    own = np.diag(overlap).astype(float)
    share = np.divide(overlap, own[:, None], out=np.zeros((n, n)), where=own[:, None] > 0)
    region = np.array([m.region or "" for m in members], dtype=object)
    same_region = (region[:, None] == region[None, :]) & (region[:, None] != "")
    adjacent = (dist >= RIVAL_DISTANCE) & (dist <= FAR_DISTANCE)
    rival = (dist < RIVAL_DISTANCE) & (similarity >= RIVAL_PRODUCT_SIMILARITY)
    score = (
        share * (1.0 - similarity)
        + 0.10 * adjacent
        + 0.05 * np.minimum(shared_sup, 2)
        + 0.05 * same_region
    )
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    names = [m.name for m in members]
    sup_names = np.array(vocab, dtype=object)
    return pd.DataFrame(
        {
            "member": [names[a] for a in i],
            "partner": [names[b] for b in j],
            "i": i,
            "j": j,
            "shared_customers": overlap[i, j],
            "customers_with_token": own[i].astype(np.int64),
            "partner_customers_with_token": own[j].astype(np.int64),
            "overlap_share": share[i, j],
            "product_similarity": similarity[i, j],
            "position_distance": dist[i, j],
            "adjacent": adjacent[i, j],
            "shared_suppliers": [
                sorted(sup_names[(sup_mat[a] * sup_mat[b]) > 0].tolist())
                for a, b in zip(i, j, strict=True)
            ],
            "same_region": same_region[i, j],
            "rival": rival[i, j],
            "score": np.where(rival[i, j], np.nan, score[i, j]),
        }
    )


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NumPy scalars as Python numbers, NaN and inf as None."""

    def plain(v: Any) -> Any:
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return int(v) if isinstance(v, (int, np.integer)) else json_float(v)
        return v

    return [{str(k): plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _list(words: list[str] | frozenset[str], limit: int = 3) -> str:
    w = sorted(words)
    return ", ".join(w[:limit]) + (f" and {len(w) - limit} more" if len(w) > limit else "")


def _reasons(row: Any, me: MemberProfile, other: MemberProfile) -> str:
    parts = []
    if row.shared_customers > 0 and row.customers_with_token > 0:
        parts.append(
            f"{row.overlap_share:.0%} of your customers also buy from {other.name} "
            f"({row.shared_customers:,} of {row.customers_with_token:,})"
        )
    theirs = other.categories - me.categories
    mine = me.categories - other.categories
    if theirs:
        parts.append(
            f"{other.name} sells what you don't: {_list(theirs)} vs {_list(mine or me.categories)}"
        )
    if row.shared_suppliers:
        parts.append(
            f"you share supplier{'s' if len(row.shared_suppliers) > 1 else ''} "
            f"{_list(row.shared_suppliers)}"
        )
    if row.adjacent:
        parts.append(
            f"your positions are close but not the same (distance {row.position_distance:.2f})"
        )
    if row.same_region:
        parts.append(f"same region ({me.region})")
    return "; ".join(parts)


def _suggestion(row: Any, me: MemberProfile, other: MemberProfile) -> tuple[str, float]:
    """A bundle / co-marketing suggestion sized from the overlap, and the yearly sales of
    the partner's other customers if each bought like the member's average customer."""
    reach = max(int(row.partner_customers_with_token) - int(row.shared_customers), 0)
    reach_revenue = reach * me.revenue_per_customer
    if not np.isfinite(reach_revenue):
        reach_revenue = 0.0
    lo, hi = (reach_revenue * u for u in UPTAKE)
    theirs = _list(other.categories - me.categories, 2) or _list(other.categories, 2)
    mine = _list(me.categories - other.categories, 2) or _list(me.categories, 2)
    text = (
        f"Offer a joint '{mine} + {theirs}' bundle to the {int(row.shared_customers):,} "
        f"customers you already share, and swap a mailing: {other.name} has {reach:,} "
        f"customers who do not buy from you yet; if {UPTAKE[0]:.0%}-{UPTAKE[1]:.0%} of them "
        f"became customers like your average one ({money(me.revenue_per_customer, me.currency)} "
        f"a year), that is {money(lo, me.currency)} to {money(hi, me.currency)} a year in sales"
    )
    return text, reach_revenue


def _activities(row: Any, me: MemberProfile) -> str:
    """What two rivals can do together without competing less."""
    acts = []
    if row.shared_suppliers:
        acts.append(f"joint purchasing (you both buy from {_list(row.shared_suppliers)})")
    if row.same_region:
        acts.append(f"shared logistics or deliveries in the {me.region}")
    acts.append("advocacy (platform fees, local rules) through your association")
    return (
        f"Cooperate only where you do not compete: {'; '.join(acts)}. Do not bundle, and "
        "do not share customer lists or prices."
    )


def _coopetition(row: Any, me: MemberProfile, other: MemberProfile) -> str:
    return (
        f"{other.name} is a rival: nearly the same position (distance "
        f"{row.position_distance:.2f}) and the same products "
        f"({_list(me.categories & other.categories)}). {_activities(row, me)}"
    )


@dataclass(frozen=True)
class PartnersResult:
    """Ranked partners and rivals of every member of a group.

    ``pairs`` has one row per ordered pair (member, partner) with the measures, ``score``
    (NaN for rivals), ``kind`` (``complement``, ``rival`` or ``weak``), ``reasons``,
    ``suggestion`` and its yearly sales range ``low``/``high`` (member's currency).
    """

    members: tuple[MemberProfile, ...]
    pairs: pd.DataFrame
    group_id: str
    top: int
    notes: tuple[str, ...] = ()

    def top_partners(self, member: str) -> pd.DataFrame:
        """The ``top`` complementary partners of ``member``, best first."""
        sub = self.pairs.loc[
            (self.pairs["member"] == member) & (self.pairs["kind"] == "complement")
        ]
        return sub.sort_values(["score", "partner"], ascending=[False, True]).head(self.top)

    def rivals(self, member: str) -> pd.DataFrame:
        """Members flagged as ``member``'s rivals (co-opetition candidates)."""
        return self.pairs.loc[(self.pairs["member"] == member) & (self.pairs["kind"] == "rival")]

    def to_frame(self) -> pd.DataFrame:
        return self.pairs.drop(columns=["i", "j"]).copy()

    def summary(self) -> dict[str, Any]:
        return {
            "members": len(self.members),
            "group_id": self.group_id,
            "complementary_pairs": int((self.pairs["kind"] == "complement").sum() // 1),
            "rival_pairs": int((self.pairs["kind"] == "rival").sum() // 2),
            "notes": list(self.notes),
        }

    def member_summary(self, member: str) -> dict[str, Any]:
        """What is stored in ``member``'s workspace: its partners and rivals, counts only."""
        cols = ["partner", "shared_customers", "customers_with_token", "overlap_share",
                "position_distance", "shared_suppliers", "same_region", "score", "reasons",
                "suggestion", "reach_revenue", "low", "high"]  # fmt: skip

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return plain_records(frame[cols])

        return {
            "member": member,
            "group_id": self.group_id,
            "group_size": len(self.members),
            "partners": rows(self.top_partners(member)),
            "rivals": rows(self.rivals(member)),
            "privacy": PRIVACY_SHORT,
        }


PRIVACY_SHORT = (
    "Customers in common are counted from keyed hashes of e-mails under the group's key; "
    "only counts leave each workspace. Whoever holds the group key can test a guessed "
    "e-mail, and in a small group the counts themselves say a lot about a partner's customers."
)


def _classify(pairs: pd.DataFrame) -> pd.Series:
    """``rival``, ``complement`` (customers in common, products not all the same) or ``weak``."""
    complement = (
        ~pairs["rival"]
        & (pairs["overlap_share"] >= MIN_OVERLAP)
        & (pairs["shared_customers"] >= MIN_SHARED)
        & (pairs["product_similarity"] < 1.0)
    )
    return pd.Series(
        np.where(pairs["rival"], "rival", np.where(complement, "complement", "weak")),
        index=pairs.index,
    )


def match_partners(workspaces: list[Path], key: GroupKey, *, top: int = 3) -> PartnersResult:
    """Rank complementary partners and flag rivals across the members' workspaces.

    Parameters
    ----------
    workspaces
        The members' workspace files (at least 2), each with group tokens derived under
        ``key`` (``levelfield cooperate tokens``).
    key
        The group key (only its public id is used here: it selects the tokens).
    top
        Partners listed per member.
    """
    if len(workspaces) < 2:
        raise InsufficientDataError("partner matching needs at least 2 members' workspaces")
    opened: list[Workspace] = []
    try:
        for p in workspaces:
            try:
                opened.append(open_workspace(p, create=False))
            except LevelfieldError as exc:
                raise type(exc)(f"{p}: {exc}") from None
        members = [member_profile(ws, key) for ws in opened]
        overlap = overlap_counts(opened, key)
    finally:
        for ws in opened:
            ws.close()
    names = [m.name for m in members]
    if len(set(names)) < len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(
            f"two workspaces are named {dup[0]!r} in their business table; give each member "
            "its own name ('levelfield import business')"
        )
    notes = [
        f"{m.name} has no group tokens for this key (run 'levelfield cooperate tokens'); its "
        "customers in common count as 0"
        for m in members
        if m.tokens == 0
    ]
    notes += [
        f"{m.name} has no own row in its competitor table; its position is unknown"
        for m in members
        if not m.position
    ]
    pairs = _pairs(members, overlap, position_distances(members))
    pairs["kind"] = _classify(pairs)
    # One sentence per pair of members (a few hundred), not per customer.
    rows = [SimpleNamespace(**{str(k): v for k, v in r.items()}) for r in pairs.to_dict("records")]
    texts = [
        _coopetition(r, members[r.i], members[r.j])
        if r.rival
        else _reasons(r, members[r.i], members[r.j])
        for r in rows
    ]
    sugg = [
        _suggestion(r, members[r.i], members[r.j]) if r.kind == "complement" else ("", 0.0)
        for r in rows
    ]
    pairs["reasons"] = texts
    pairs["activities"] = [_activities(r, members[r.i]) if r.rival else "" for r in rows]
    pairs["suggestion"] = [s[0] for s in sugg]
    pairs["reach_revenue"] = [s[1] for s in sugg]
    pairs["low"] = pairs["reach_revenue"] * UPTAKE[0]
    pairs["high"] = pairs["reach_revenue"] * UPTAKE[1]
    return PartnersResult(tuple(members), pairs, key.group_id, top, tuple(notes))
