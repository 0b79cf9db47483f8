"""Landscape on 558 real US craft breweries (issue 15), and the size-conditioned test.

The competitor CSV is built from ``breweries.csv`` and ``beers.csv`` as a user would:
one row per brewery with its state, number of beers, set of styles, mean ABV and IBU and
set of can sizes, and a ``#type`` row.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from levelfield import open_workspace
from levelfield.ingest import import_file
from levelfield.landscape import analyze
from levelfield.landscape._analysis import GROUP_SILHOUETTE_MIN, groups_are_clear
from levelfield.landscape._whitespace import BinaryFeatures, underserved_combinations

BEERS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "craft-beers"


ALL = ("state", "beers", "styles", "abv", "ibu", "can_sizes")
TYPES = {
    "state": "category",
    "beers": "numeric",
    "styles": "set",
    "abv": "numeric",
    "ibu": "numeric",
    "can_sizes": "set",
}


def brewery_csv(path: Path, columns: tuple[str, ...] = ALL) -> Path:
    """The competitor CSV a brewery owner would build from the two files."""
    breweries = pd.read_csv(BEERS / "breweries.csv", index_col=0)
    beers = pd.read_csv(BEERS / "beers.csv", index_col=0)
    breweries["name"] = breweries["name"].str.strip()
    g = beers.groupby("brewery_id")
    agg = pd.DataFrame(
        {
            "beers": g.size(),
            "styles": g["style"].agg(lambda s: ";".join(sorted(set(s.dropna())))),
            "abv": g["abv"].mean().round(4),
            "ibu": g["ibu"].mean().round(1),
            "can_sizes": g["ounces"].agg(lambda s: ";".join(sorted({f"{x:g}oz" for x in s}))),
        }
    )
    firms = breweries.join(agg, on="id")
    dup = firms["name"].duplicated(keep=False)
    firms.loc[dup, "name"] = firms.loc[dup, "name"] + " (" + firms.loc[dup, "city"] + ")"
    firms["state"] = firms["state"].str.strip()
    rows = pd.DataFrame(
        {
            "name": firms["name"],
            "self": ["yes"] + ["no"] * (len(firms) - 1),
            "source": "craft-beers dataset",
            **{c: firms[c] for c in columns},
        }
    )
    types = ["#type", "-", "-", *(TYPES[c] for c in columns)]
    out = pd.concat([pd.DataFrame([types], columns=rows.columns), rows])
    out.to_csv(path, index=False)
    return path


def _run(tmp_path: Path, columns: tuple[str, ...]) -> object:
    ws = open_workspace(tmp_path / "beer.duckdb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_file(ws, "competitors", brewery_csv(tmp_path / "b.csv", columns))
        result = analyze(ws)
    ws.close()
    return result


@pytest.mark.slow
@pytest.mark.parametrize("columns", [ALL, ("beers", "styles", "abv", "ibu")])
def test_breweries_have_no_clear_groups_and_white_space_is_not_arithmetic(
    tmp_path: Path, columns: tuple[str, ...]
) -> None:
    r = _run(tmp_path, columns)
    assert r.n_firms >= 550  # type: ignore[attr-defined]
    assert not r.groups_clear  # type: ignore[attr-defined]
    assert r.n_groups == 1 and (r.firms["group"] == 1).all()  # type: ignore[attr-defined]
    lines = r.headline()  # type: ignore[attr-defined]
    assert not any(line.startswith("Strategic group") for line in lines)
    assert any(line.startswith("No clear strategic groups") for line in lines)
    found = {f.metric: f for f in r.findings()}  # type: ignore[attr-defined]
    assert found["landscape.group_count"].value == 1.0
    assert found["landscape.group_count"].context["clear"] == 0.0
    assert "landscape.self_group_share" not in found
    sil = r.silhouette  # type: ignore[attr-defined]
    if sil >= GROUP_SILHOUETTE_MIN:
        assert "outliers" in found["landscape.group_count"].text
    else:
        assert "Kaufman & Rousseeuw" in found["landscape.group_count"].text
    # White space: the number of beers counts the portfolio and is left out; the tests
    # are conditioned on portfolio size and say so.
    ws_text = " ".join(r.white_space["hypothesis"])  # type: ignore[attr-defined]
    assert "beers" not in ws_text.replace("beers (", "")
    assert not any("low beers" in h or "high beers" in h for h in r.white_space["hypothesis"])  # type: ignore[attr-defined]
    assert any("portfolio-size strata" in n and "beers" in n for n in r.notes)  # type: ignore[attr-defined]
    combos = r.white_space[r.white_space["kind"] == "combination"]  # type: ignore[attr-defined]
    assert combos["evidence"].str.contains("same portfolio size").all()


@pytest.mark.slow
def test_breweries_by_packaging_form_groups_of_real_size(tmp_path: Path) -> None:
    """With can sizes and without the style list, packaging splits the market: groups are
    reported, each with at least 5% of the firms and a silhouette of 0.25 or more."""
    r = _run(tmp_path, ("beers", "abv", "ibu", "can_sizes"))
    assert r.groups_clear and r.n_groups >= 2  # type: ignore[attr-defined]
    assert r.silhouette >= GROUP_SILHOUETTE_MIN  # type: ignore[attr-defined]
    sizes = r.firms["group"].value_counts()  # type: ignore[attr-defined]
    assert (sizes >= 0.05 * r.n_firms).sum() >= 2  # type: ignore[attr-defined]
    assert any(line.startswith("Strategic group") for line in r.headline())  # type: ignore[attr-defined]


def test_groups_are_clear_rule() -> None:
    two = np.repeat([0, 1], [10, 10]).astype(np.intp)
    assert groups_are_clear(two, 0.6) == (True, "")
    assert not groups_are_clear(two, 0.10)[0]
    outlier = np.repeat([0, 1], [19, 1]).astype(np.intp)
    ok, reason = groups_are_clear(outlier, 0.6)
    assert not ok and "1 firm(s)" in reason
    assert not groups_are_clear(two, math.nan)[0]


def _features(cols: dict[str, np.ndarray]) -> BinaryFeatures:
    present = np.column_stack(list(cols.values())).astype(bool)
    return BinaryFeatures(
        present, np.ones_like(present), tuple(cols), tuple(k.split(":")[0] for k in cols)
    )


def test_size_conditioning_removes_arithmetic_and_keeps_real_gaps() -> None:
    """P is common among small firms, Q among large ones: few firms combine them, but
    only because of size. R and S exclude each other within every size stratum."""
    rng = np.random.default_rng(0)
    n = 400
    strata = np.repeat([0, 1], n // 2).astype(np.intp)
    p = rng.random(n) < np.where(strata == 0, 0.8, 0.2)
    q = rng.random(n) < np.where(strata == 0, 0.2, 0.8)
    r_ = rng.random(n) < 0.5
    s_ = ~r_ & (rng.random(n) < 0.9)
    feats = _features({"p:x": p, "q:x": q, "r:x": r_, "s:x": s_})
    plain = underserved_combinations(feats)
    pairs = set(zip(plain["feature_a"], plain["feature_b"], strict=True))
    assert ("p:x", "q:x") in pairs  # the arithmetic artefact, unconditioned
    cond = underserved_combinations(feats, strata=strata)
    cpairs = set(zip(cond["feature_a"], cond["feature_b"], strict=True))
    assert ("p:x", "q:x") not in cpairs
    assert ("r:x", "s:x") in cpairs
    # An excluded attribute is never tested.
    assert underserved_combinations(feats, strata=strata, exclude=("r", "s")).empty


def test_mantel_haenszel_matches_statsmodels() -> None:
    """One-sided CMH p (continuity-corrected) is half statsmodels' two-sided p."""
    rng = np.random.default_rng(5)
    n = 300
    strata = rng.integers(0, 3, n).astype(np.intp)
    a = rng.random(n) < 0.5
    b = (rng.random(n) < 0.5) & ~(a & (rng.random(n) < 0.6))
    feats = _features({"a:x": a, "b:x": b})
    out = underserved_combinations(feats, strata=strata, alpha=1.0)
    assert len(out) == 1
    tables = [
        np.array(
            [
                [np.sum(a & b & (strata == s)), np.sum(a & ~b & (strata == s))],
                [np.sum(~a & b & (strata == s)), np.sum(~a & ~b & (strata == s))],
            ]
        )
        for s in range(3)
    ]
    ref = StratifiedTable(tables).test_null_odds(correction=True)
    assert out["p_value"].iloc[0] == pytest.approx(ref.pvalue / 2, rel=1e-9)
    expected = sum(t[0].sum() * t[:, 0].sum() / t.sum() for t in tables)
    assert out["expected"].iloc[0] == pytest.approx(expected)
