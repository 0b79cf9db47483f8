"""Partner and co-opetition matching over a fleet Parquet dataset (``levelfield demo --fleet``).

The same measures and score as :mod:`levelfield.cooperation._partners`, computed as pair
matrices in blocks of businesses (sparse incidence products, no loop over pairs); only the
``top`` partners of each business and the rival pairs are turned into sentences.

What the fleet holds, and what it can tell:

- ``businesses.parquet`` (required): ``business_id``, ``sector``, ``region`` (optional
  ``name``). The sector is a business's product category.
- ``products/*.parquet`` (optional): ``business_id``, ``category``: more categories.
- ``suppliers/*.parquet`` (optional): ``business_id``, ``name``: shared suppliers by name.
- ``competitors/*.parquet`` (optional): ``business_id``, ``is_self``, ``attributes`` and
  ``attribute_types`` (JSON, as the workspace's competitor table): the landscape
  position of the business's own row; rivals need it.
- ``group_tokens/*.parquet`` (optional): ``business_id``, ``group_id``, ``token``: group
  tokens each member derived under the group's key (``levelfield cooperate tokens``).
  The fleet's ``orders`` carry customer ids pseudonymised per business, so the same
  person cannot be recognised across businesses from them: without group tokens the
  customers in common are not computed (said in the notes) and pairs are ranked on
  products, suppliers, region and position only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from levelfield.cooperation._partners import (
    FAR_DISTANCE,
    MIN_OVERLAP,
    MIN_SHARED,
    RIVAL_DISTANCE,
    RIVAL_PRODUCT_SIMILARITY,
    UPTAKE,
    MemberProfile,
    _activities,
    _coopetition,
    _reasons,
    _suggestion,
    gower_distances,
)
from levelfield.errors import ConfigError, DataError, InsufficientDataError

__all__ = ["FleetPartners", "fleet_partners"]

_BLOCK = 512  # businesses per block of the pair matrices (512 x n floats each)
Float = NDArray[np.float64]
Int = NDArray[np.int64]


@dataclass(frozen=True)
class FleetPartners:
    """Top partners per business and the rival pairs of a fleet.

    ``pairs``: one row per (member, partner) kept: ``kind`` ``complement`` (a top partner)
    or ``rival``, the measures (``shared_customers``/``overlap_share`` NaN when the
    customers in common are unknown), ``score``, ``reasons`` and ``suggestion``.
    ``overlap_known`` says whether group tokens were there.
    """

    pairs: pd.DataFrame
    businesses: int
    overlap_known: bool
    group_id: str | None
    top: int
    notes: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        kinds = self.pairs["kind"].value_counts()
        return {
            "businesses": self.businesses,
            "overlap_known": self.overlap_known,
            "group_id": self.group_id,
            "partner_rows": int(kinds.get("complement", 0)),
            "rival_pairs": int(kinds.get("rival", 0)) // 2,
            "notes": list(self.notes),
        }


def _glob(directory: Path, name: str) -> str | None:
    folder = directory / name
    if folder.is_dir() and any(folder.rglob("*.parquet")):
        return str(folder / "**" / "*.parquet")
    return None


def _read_businesses(con: duckdb.DuckDBPyConnection, directory: Path) -> pd.DataFrame:
    path = directory / "businesses.parquet"
    if not path.is_file():
        raise DataError(
            f"{path} is missing: a fleet for partner matching needs the businesses table "
            "(business_id, sector, region); write one with 'levelfield demo --fleet N DIR'"
        )
    biz = con.execute("SELECT * FROM read_parquet(?)", [str(path)]).df()
    missing = [c for c in ("business_id", "sector", "region") if c not in biz.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    if biz["business_id"].duplicated().any():
        dup = biz.loc[biz["business_id"].duplicated(), "business_id"].iloc[0]
        raise DataError(f"{path}: business_id {dup!r} appears twice; keep one row per business")
    if len(biz) < 2:
        raise InsufficientDataError(f"{path}: partner matching needs at least 2 businesses")
    if "name" not in biz.columns:
        biz["name"] = biz["business_id"]
    return biz.reset_index(drop=True)


def _incidence(ids: pd.Index, frame: pd.DataFrame, col: str) -> tuple[sparse.csr_matrix, Any]:
    """Business x value 0/1 matrix (values case-folded) and the first spelling per value."""
    f = frame.loc[frame[col].notna(), ["business_id", col]].copy()
    f["key"] = f[col].astype(str).str.strip()
    f = f.loc[f["key"] != ""]
    f["fold"] = f["key"].str.casefold()
    codes, vocab = pd.factorize(f["fold"], sort=True)
    rows = ids.get_indexer(pd.Index(f["business_id"]))
    ok = rows >= 0
    mat = sparse.csr_matrix(
        (np.ones(int(ok.sum())), (rows[ok], codes[ok])), shape=(len(ids), len(vocab))
    )
    mat.data[:] = 1.0  # duplicates summed by the constructor count once
    shown = f.drop_duplicates("fold").set_index("fold")["key"].reindex(vocab).to_numpy(object)
    return mat, shown


def _overlap(
    con: duckdb.DuckDBPyConnection, pattern: str, ids: pd.Index, group_id: str | None
) -> tuple[sparse.csr_matrix, str]:
    """Customers in common per pair (sparse; the diagonal: own tokens), counted in DuckDB."""
    groups = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT group_id FROM read_parquet(?, union_by_name = true)", [pattern]
        ).fetchall()
    ]
    if group_id is None:
        if len(groups) != 1:
            raise ConfigError(
                f"group_tokens holds {len(groups)} groups ({', '.join(sorted(groups)[:5])}); "
                "say which with --group-key"
            )
        group_id = groups[0]
    elif group_id not in groups:
        raise DataError(f"group_tokens holds no tokens for group {group_id}")
    rows = con.execute(
        """WITH t AS (SELECT DISTINCT business_id, token FROM read_parquet(?, union_by_name = true)
                      WHERE group_id = ?)
           SELECT a.business_id, b.business_id, count(*) FROM t a JOIN t b USING (token)
           GROUP BY ALL""",
        [pattern, group_id],
    ).df()
    i = ids.get_indexer(pd.Index(rows.iloc[:, 0]))
    j = ids.get_indexer(pd.Index(rows.iloc[:, 1]))
    ok = (i >= 0) & (j >= 0)
    counts = rows.iloc[:, 2].to_numpy(dtype=float)[ok]
    n = len(ids)
    return sparse.csr_matrix((counts, (i[ok], j[ok])), shape=(n, n)), group_id


def _positions(con: duckdb.DuckDBPyConnection, pattern: str, ids: pd.Index) -> tuple[Int, Float]:
    """Index into the distance matrix per business (-1: no own row) and the Gower matrix."""
    comp = con.execute("SELECT * FROM read_parquet(?, union_by_name = true)", [pattern]).df()
    missing = [c for c in ("business_id", "is_self", "attributes") if c not in comp.columns]
    if missing:
        raise DataError(
            f"{pattern}: missing column(s) {', '.join(missing)}; the competitors dataset has "
            "the workspace's competitor columns plus business_id"
        )
    comp = comp.loc[comp["is_self"].fillna(False).astype(bool)]
    if "snapshot_date" in comp.columns:
        comp = comp.sort_values("snapshot_date", kind="stable", na_position="first")
    if "attribute_types" not in comp.columns:
        comp = comp.assign(attribute_types=None)
    comp = comp.drop_duplicates("business_id", keep="last").sort_values("business_id")
    cols = ["business_id", "attributes", "attribute_types"]
    rows = list(comp[cols].itertuples(index=False, name=None))
    idx = np.full(len(ids), -1, dtype=np.int64)
    have = [r for r in rows if r[0] in ids and r[1]]
    if len(have) < 2:
        return idx, np.zeros((0, 0))
    idx[ids.get_indexer(pd.Index([r[0] for r in have]))] = np.arange(len(have))
    dist = gower_distances(
        [dict(json.loads(r[1])) for r in have],
        [{str(k): str(v) for k, v in json.loads(r[2] or "{}").items()} for r in have],
    )
    return idx, dist


def _sides(con: duckdb.DuckDBPyConnection, directory: Path, ids: pd.Index) -> pd.DataFrame:
    """Customers and sales per customer per business, from the orders (counts only)."""
    pattern = _glob(directory, "orders")
    out = pd.DataFrame(
        {"customers": 0, "revenue_per_customer": np.nan, "currency": "EUR"}, index=ids
    )
    if pattern is None:
        return out
    agg = con.execute(
        """SELECT business_id, count(DISTINCT customer_id) AS customers,
                  CASE WHEN count(DISTINCT currency) = 1
                       THEN sum(gross - discount - refunded) / count(DISTINCT customer_id)
                  END AS revenue_per_customer, mode(currency) AS currency
           FROM read_parquet(?, union_by_name = true)
           WHERE status NOT IN ('failed', 'voided', 'cancelled', 'pending') GROUP BY 1""",
        [pattern],
    ).df()
    agg = agg.set_index("business_id").reindex(ids)
    out.update(agg)
    return out


def _shared_ids(con: duckdb.DuckDBPyConnection, directory: Path) -> int:
    pattern = _glob(directory, "orders")
    if pattern is None:
        return 0
    return int(
        con.execute(
            """SELECT count(*) FROM (SELECT customer_id FROM read_parquet(?, union_by_name = true)
               WHERE customer_id IS NOT NULL GROUP BY 1 HAVING count(DISTINCT business_id) > 1)""",
            [pattern],
        ).fetchall()[0][0]
    )


@dataclass(frozen=True)
class _Mats:
    """The fleet's matrices: categories, suppliers (sparse), overlap, regions, positions."""

    cats: sparse.csr_matrix
    sups: sparse.csr_matrix
    overlap: sparse.csr_matrix | None
    region: Int
    pos_idx: Int
    dist: Float

    @property
    def n(self) -> int:
        return int(self.cats.shape[0])


def _block(m: _Mats, rows: Int) -> dict[str, Any]:
    """Every pair measure of businesses ``rows`` against all (``b x n`` arrays)."""
    b, n = rows.size, m.n
    size = np.asarray(m.cats.sum(axis=1)).ravel()
    inter = (m.cats[rows] @ m.cats.T).toarray()
    union = size[rows, None] + size[None, :] - inter
    sim = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    shared = (m.sups[rows] @ m.sups.T).toarray()
    if m.overlap is not None:
        ov = m.overlap[rows].toarray()
        own = m.overlap.diagonal()
        share = np.divide(ov, own[rows, None], out=np.zeros_like(ov), where=own[rows, None] > 0)
    else:
        ov = share = np.zeros((b, n))
    reg = m.region[rows, None]
    same_region = (reg == m.region[None, :]) & (reg >= 0)
    dist = np.full((b, n), np.nan)
    pr, have_c = m.pos_idx[rows], m.pos_idx >= 0
    have_r = pr >= 0
    if have_r.any() and have_c.any():
        dist[np.ix_(have_r, have_c)] = m.dist[np.ix_(pr[have_r], m.pos_idx[have_c])]
    adjacent = (dist >= RIVAL_DISTANCE) & (dist <= FAR_DISTANCE)
    rival = (dist < RIVAL_DISTANCE) & (sim >= RIVAL_PRODUCT_SIMILARITY)
    score = (
        share * (1.0 - sim) + 0.10 * adjacent + 0.05 * np.minimum(shared, 2) + 0.05 * same_region
    )
    diag = (np.arange(b), rows)
    rival[diag] = False
    ok = ~rival & (sim < 1.0)
    ok &= (share >= MIN_OVERLAP) & (ov >= MIN_SHARED) if m.overlap is not None else score > 0
    ok[diag] = False
    return {
        "sim": sim, "shared": shared, "ov": ov, "share": share, "same_region": same_region,
        "dist": dist, "adjacent": adjacent, "rival": rival, "score": score, "ok": ok,
    }  # fmt: skip


def _pick(m: _Mats, top: int) -> pd.DataFrame:
    """The top complementary partners of every business and every rival pair (block-wise)."""
    parts = []
    k = min(top, m.n - 1)
    for start in range(0, m.n, _BLOCK):
        rows = np.arange(start, min(m.n, start + _BLOCK))
        blk = _block(m, rows)
        masked = np.where(blk["ok"], blk["score"], -np.inf)
        cand = np.argpartition(-masked, k - 1, axis=1)[:, :k]
        r_top = np.repeat(np.arange(rows.size), k)
        c_top = cand.ravel()
        keep = np.isfinite(masked[r_top, c_top])
        r_riv, c_riv = np.nonzero(blk["rival"])
        r = np.concatenate([r_top[keep], r_riv])
        c = np.concatenate([c_top[keep], c_riv])
        kind = np.repeat(["complement", "rival"], [int(keep.sum()), r_riv.size])
        parts.append(
            pd.DataFrame(
                {
                    "i": rows[r],
                    "j": c,
                    "kind": kind,
                    "shared_customers": blk["ov"][r, c],
                    "overlap_share": blk["share"][r, c],
                    "product_similarity": blk["sim"][r, c],
                    "shared_supplier_count": blk["shared"][r, c].astype(np.int64),
                    "position_distance": blk["dist"][r, c],
                    "adjacent": blk["adjacent"][r, c],
                    "same_region": blk["same_region"][r, c],
                    "score": np.where(kind == "rival", np.nan, blk["score"][r, c]),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _profiles(
    biz: pd.DataFrame, m: _Mats, vocab: dict[str, Any], side: pd.DataFrame, directory: Path
) -> list[MemberProfile]:
    """A profile per business (names and sets from its matrix rows; counts only)."""
    own = m.overlap.diagonal() if m.overlap is not None else np.zeros(m.n)
    cats, sups = m.cats.tolil().rows, m.sups.tolil().rows
    return [
        MemberProfile(
            name=str(name),
            path=directory,
            region=None if pd.isna(region) else str(region),
            categories=frozenset(vocab["cats"][cats[i]].tolist()),
            suppliers=frozenset(vocab["sups"][sups[i]].tolist()),
            customers=int(side["customers"].iloc[i]),
            revenue_per_customer=float(side["revenue_per_customer"].iloc[i]),
            currency=str(side["currency"].iloc[i]),
            tokens=int(own[i]),
        )
        for i, (name, region) in enumerate(zip(biz["name"], biz["region"], strict=True))
    ]


def _texts(pairs: pd.DataFrame, members: list[MemberProfile], m: _Mats, vocab: Any) -> None:
    """Reasons, shared suppliers and suggestions for the kept pairs (top-k and rivals only)."""
    rows = [SimpleNamespace(**{str(k): v for k, v in r.items()}) for r in pairs.to_dict("records")]
    sups = m.sups.tolil().rows
    known = m.overlap is not None
    own = m.overlap.diagonal() if m.overlap is not None else np.zeros(m.n)
    reasons, suggestions, activities, shared_names = [], [], [], []
    for r in rows:
        r.shared_suppliers = sorted(vocab[sorted(set(sups[r.i]) & set(sups[r.j]))].tolist())
        r.shared_customers = int(r.shared_customers) if known else 0
        r.customers_with_token = int(own[r.i])
        r.partner_customers_with_token = int(own[r.j])
        me, other = members[r.i], members[r.j]
        shared_names.append(r.shared_suppliers)
        if r.kind == "rival":
            reasons.append(_coopetition(r, me, other))
            activities.append(_activities(r, me))
            suggestions.append(("", 0.0))
            continue
        reasons.append(_reasons(r, me, other))
        activities.append("")
        suggestions.append(
            _suggestion(r, me, other)
            if known
            else (
                f"Customers in common with {other.name} are unknown (no group tokens in the "
                "fleet); test a joint offer with a swapped mailing before sizing it",
                0.0,
            )
        )
    pairs["shared_suppliers"] = shared_names
    pairs["reasons"] = reasons
    pairs["activities"] = activities
    pairs["suggestion"] = [s[0] for s in suggestions]
    pairs["reach_revenue"] = [s[1] for s in suggestions]
    pairs["low"] = pairs["reach_revenue"] * UPTAKE[0]
    pairs["high"] = pairs["reach_revenue"] * UPTAKE[1]


def _fleet_notes(
    known: bool, shared_ids: int, positions: int, has_suppliers: bool, n: int
) -> list[str]:
    notes = []
    if not known:
        notes.append(
            "customers in common are not computed: the fleet's orders carry customer ids "
            "pseudonymised per business, so the same person cannot be recognised across "
            "businesses from them. To count them without sharing customer lists, each member "
            "derives group tokens under a group key ('levelfield cooperate tokens') and the "
            "association adds them as group_tokens/*.parquet (business_id, group_id, token); "
            "until then partners are ranked on products, suppliers, region and position only"
        )
    if shared_ids:
        notes.append(
            f"{shared_ids:,} customer id(s) appear under more than one business; they are not "
            "counted as customers in common (an id is a pseudonym per business, the same id "
            "need not be the same person)"
        )
    if positions < 2:
        notes.append(
            "no landscape positions in the fleet (competitors/*.parquet with business_id and "
            "the business's own row, is_self); rivals cannot be told apart from businesses "
            "of the same sector, so none is flagged"
        )
    elif positions < n:
        notes.append(f"{n - positions:,} business(es) have no own competitor row; position unknown")
    if not has_suppliers:
        notes.append("no suppliers in the fleet (suppliers/*.parquet); shared suppliers unknown")
    return notes


def fleet_partners(directory: Path, *, top: int = 3, group_id: str | None = None) -> FleetPartners:
    """Rank complementary partners and flag rivals across a fleet Parquet dataset.

    Parameters
    ----------
    directory
        The fleet folder (``businesses.parquet``, ``orders/``, optional ``suppliers/``,
        ``products/``, ``competitors/``, ``group_tokens/``; see the module notes).
    top
        Partners kept per business.
    group_id
        The group whose tokens to use (needed when ``group_tokens`` holds several).
    """
    if top < 1:
        raise ConfigError(f"top must be 1 or more, not {top}")
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such folder; give the fleet's folder")
    con = duckdb.connect()
    try:
        biz = _read_businesses(con, directory)
        ids = pd.Index(biz["business_id"].astype(str))
        biz["business_id"] = ids
        cat_frame = biz[["business_id", "sector"]].rename(columns={"sector": "category"})
        if (p := _glob(directory, "products")) is not None:
            extra = con.execute(
                "SELECT business_id, category FROM read_parquet(?, union_by_name = true)", [p]
            ).df()
            cat_frame = pd.concat([cat_frame, extra], ignore_index=True)
        cats, cat_vocab = _incidence(ids, cat_frame, "category")
        sup_pattern = _glob(directory, "suppliers")
        sup_frame = (
            con.execute(
                "SELECT business_id, name FROM read_parquet(?, union_by_name = true)", [sup_pattern]
            ).df()
            if sup_pattern
            else pd.DataFrame({"business_id": [], "name": []})
        )
        sups, sup_vocab = _incidence(ids, sup_frame, "name")
        tok = _glob(directory, "group_tokens")
        overlap, gid = _overlap(con, tok, ids, group_id) if tok else (None, None)
        comp = _glob(directory, "competitors")
        pos_idx, dist = _positions(con, comp, ids) if comp else (np.full(len(ids), -1), np.zeros(0))
        side = _sides(con, directory, ids)
        shared_ids = _shared_ids(con, directory)
    finally:
        con.close()
    region = pd.factorize(biz["region"].astype("string").str.strip().str.casefold())[0]
    mats = _Mats(cats, sups, overlap, region.astype(np.int64), pos_idx.astype(np.int64), dist)
    pairs = _pick(mats, top)
    members = _profiles(biz, mats, {"cats": cat_vocab, "sups": sup_vocab}, side, directory)
    _texts(pairs, members, mats, sup_vocab)
    names = biz["name"].astype(str).to_numpy(object)
    pairs.insert(0, "member", names[pairs["i"].to_numpy()])
    pairs.insert(1, "partner", names[pairs["j"].to_numpy()])
    pairs.insert(2, "member_id", ids.to_numpy()[pairs["i"].to_numpy()])
    pairs.insert(3, "partner_id", ids.to_numpy()[pairs["j"].to_numpy()])
    if overlap is None:
        pairs[["shared_customers", "overlap_share"]] = np.nan
    pairs = pairs.sort_values(
        ["member_id", "kind", "score", "partner_id"],
        ascending=[True, True, False, True],
        ignore_index=True,
    )
    notes = _fleet_notes(
        overlap is not None,
        shared_ids,
        int((pos_idx >= 0).sum()),
        sup_pattern is not None,
        len(ids),
    )
    return FleetPartners(pairs.drop(columns=["i", "j"]), len(ids), overlap is not None, gid, top,
                         tuple(notes))  # fmt: skip
