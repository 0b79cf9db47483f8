"""The whole pipeline: analyze_profiles, analyze(ws), the result contract and figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn.metrics import adjusted_rand_score

import levelfield.landscape as landscape
from levelfield import Workspace
from levelfield.errors import ConfigError, DataError, DataQualityWarning, InsufficientDataError
from levelfield.findings import Finding
from levelfield.landscape import analyze, analyze_profiles, figures, profiles_from_frame

METRICS_IN_DOCSTRING = (
    "landscape.distinctiveness",
    "landscape.distinctiveness_percentile",
    "landscape.nearest_rival_distance",
    "landscape.self_group_share",
    "landscape.shi",
    "landscape.sdi",
    "landscape.effective_strategies",
    "landscape.group_count",
    "landscape.white_space_count",
    "landscape.cliche_share",
    "landscape.map_stress",
)


def test_methods_and_references_cite_the_sources() -> None:
    refs = " ".join(landscape.REFERENCES)
    for cite in (
        "Gower, J. C. (1971)",
        "Rao, C. R. (1982)",
        "Kruskal, J. B. (1964)",
        "Rousseeuw, P. J. (1987)",
        "DiMaggio, P. J., & Powell, W. W. (1983)",
    ):
        assert cite in refs
    assert "Rao" in landscape.METHODS and "mimetic isomorphism" in landscape.METHODS
    for metric in METRICS_IN_DOCSTRING:
        assert metric in (landscape.__doc__ or "")


def test_planted_groups_recovered_end_to_end(market: tuple) -> None:
    df, types, groups = market
    result = analyze_profiles(profiles_from_frame(df, types))
    assert adjusted_rand_score(groups, result.firms["group"]) >= 0.9
    assert result.n_groups == 4
    assert result.silhouette > 0.25
    assert 0 <= result.stress < 0.35
    # firms are closer within planted groups than across
    D = result.distance
    same = groups[:, None] == groups[None, :]
    off = ~np.eye(len(groups), dtype=bool)
    assert D[same & off].mean() < D[~same].mean() - 0.2


def test_distinctiveness_ordering_on_planted_data() -> None:
    # a crowded cluster of near-copies and one firm with its own strategy
    rng = np.random.default_rng(0)
    n = 15
    df = pd.DataFrame(
        {
            "name": [f"Copy {i}" for i in range(n)] + ["Maverick"],
            "self": ["no"] * n + ["yes"],
            "price": np.append(rng.normal(10, 0.3, n), 25.0).round(2),
            "tier": ["mid"] * n + ["premium"],
            "style": ["classic"] * n + ["experimental"],
            "delivery": ["yes"] * n + ["no"],
            "market_share": np.full(n + 1, 1 / (n + 1)),
        }
    )
    result = analyze_profiles(profiles_from_frame(df, {"tier": "ordinal(budget<mid<premium)"}))
    f = result.firms
    assert f.loc[f["distinctiveness"].idxmax(), "name"] == "Maverick"
    assert f.loc[f["name"] == "Maverick", "percentile"].item() == 100.0
    assert result.summary()["distinctiveness_percentile"] == 100.0


def test_result_contract(market: tuple) -> None:
    df, types, _ = market
    result = analyze_profiles(profiles_from_frame(df, types))
    s = result.summary()
    json.dumps(s, allow_nan=False)
    assert s["firms"] == 24 and s["business"] == "Firm 0000"
    assert 0 < s["shi"] <= 10_000 and s["sdi"] == pytest.approx(1 - s["shi"] / 10_000)
    assert s["effective_strategies"] == pytest.approx(10_000 / s["shi"])
    frame = result.to_frame()
    assert list(frame.columns[:4]) == ["name", "self", "share", "distinctiveness"]
    assert frame["share"].sum() == pytest.approx(1.0)
    tables = result.tables()
    assert {"landscape_firms", "landscape_white_space", "landscape_cliches"} <= set(tables)
    assert all(isinstance(t, pd.DataFrame) for t in tables.values())
    lines = result.headline()
    assert any("Strategic homogeneity index" in line for line in lines)
    assert any("Distinctiveness of Firm 0000" in line for line in lines)
    found = result.findings()
    assert all(isinstance(f, Finding) and f.metric.startswith("landscape.") for f in found)
    metrics = {f.metric for f in found}
    assert set(METRICS_IN_DOCSTRING) <= metrics
    by = {f.metric: f for f in found}
    assert by["landscape.shi"].value == pytest.approx(result.shi)
    assert by["landscape.white_space_count"].value == len(result.white_space)
    # attribution shares of the similarity add up to one
    assert result.attribution["share_of_similarity"].sum() == pytest.approx(1.0)
    assert set(result.attribution["kind"]) <= {"attribute", "word"}


def test_figures_are_plotly_figures(market: tuple) -> None:
    df, types, _ = market
    result = analyze_profiles(profiles_from_frame(df, types))
    figs = figures(result)
    assert list(figs)[:4] == [
        "Market map",
        "Distinctiveness",
        "Strategic homogeneity",
        "Strategic groups",
    ]
    assert all(isinstance(f, go.Figure) for f in figs.values())
    names = [t.name for t in figs["Market map"].data]
    assert "Firm 0000 (you)" in names
    assert sum(n.startswith("group ") for n in names if n) == result.n_groups
    figs["Market map"].to_json()


def test_trend_over_snapshots_detects_homogenization() -> None:
    rng = np.random.default_rng(4)
    rows = []
    styles = ["rustic", "modern", "classic", "vegan", "luxury", "kids"]
    for year, spread in ((2022, 1.0), (2023, 0.6), (2024, 0.2)):
        for i in range(8):
            diverse = rng.random() < spread
            rows.append(
                {
                    "name": f"F{i}",
                    "self": "yes" if i == 0 else "no",
                    "snapshot_date": f"{year}-06-01",
                    "price": round(10 + (rng.normal(0, 5) if diverse else 0), 2),
                    "style": styles[i % 6] if diverse else "modern",
                    "delivery": "yes" if (not diverse or rng.random() < 0.5) else "no",
                    "market_share": 0.125,
                }
            )
    result = analyze_profiles(profiles_from_frame(pd.DataFrame(rows)))
    assert len(result.trend) == 3
    assert result.shi_trend_per_year is not None and result.shi_trend_per_year > 0
    assert result.n_firms == 8  # the latest snapshot of each firm
    assert any(f.metric == "landscape.shi_trend" for f in result.findings())
    assert isinstance(figures(result)["Strategic homogeneity"].data[0], go.Scatter)


def test_equal_shares_warning_and_share_proxy(market: tuple) -> None:
    df, types, _ = market
    df = df.drop(columns="market_share").assign(reviews=np.arange(len(df)) + 1.0)
    p = profiles_from_frame(df, {**types, "reviews": "numeric"})
    with pytest.warns(DataQualityWarning, match="equal share"):
        equal = analyze_profiles(p)
    assert not equal.shares_given
    proxy = analyze_profiles(p, share_column="reviews")
    assert proxy.shares_given
    np.testing.assert_allclose(proxy.firms["share"], (np.arange(24) + 1) / 300)
    with pytest.raises(ConfigError, match="share_column"):
        analyze_profiles(p, share_column="numeric_00x")


def test_bad_parameters_are_config_errors(market: tuple) -> None:
    df, types, _ = market
    p = profiles_from_frame(df, types)
    with pytest.raises(ConfigError):
        analyze_profiles(p, alpha=2.0)
    with pytest.raises(ConfigError):
        analyze_profiles(p, weights={"colour": 1.0})
    with pytest.raises(ConfigError):
        analyze_profiles(p, attribute_weights={"nope": 1.0})
    with pytest.raises(ConfigError):
        analyze_profiles(df)  # type: ignore[arg-type]


def test_attributes_only_and_text_only_markets() -> None:
    df = pd.DataFrame(
        {
            "name": list("ABCDE"),
            "price": [1.0, 2.0, 3.0, 8.0, 9.0],
            "style": ["a", "a", "a", "b", "b"],
        }
    )
    with pytest.warns(DataQualityWarning, match="equal share"):
        r = analyze_profiles(profiles_from_frame(df))
    assert r.text_method == "none" and r.text_distance is None and r.cliches.empty
    texts = pd.DataFrame(
        {
            "name": list("ABCD"),
            "description": [
                "sourdough rye spelt loaves",
                "rye sourdough and spelt",
                "wedding cakes fondant",
                "fondant wedding cakes tiered",
            ],
        }
    )
    with pytest.warns(DataQualityWarning, match="equal share"):
        r = analyze_profiles(profiles_from_frame(texts))
    assert r.attribute_distance is None
    assert r.firms["group"].tolist()[:2] == [r.firms["group"][1]] * 2


# -- workspace ----------------------------------------------------------------------------


def _insert(ws: Workspace, df: pd.DataFrame, types: dict[str, str]) -> None:
    fixed = {"name", "self", "description", "market_share"}
    for i, rec in enumerate(df.to_dict("records")):
        attrs = {k: v for k, v in rec.items() if k not in fixed}
        ws.con.execute(
            "INSERT INTO competitors (competitor_id, name, is_self, attributes, attribute_types, "
            "description, market_share, import_id) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            [
                f"c{i}",
                rec["name"],
                rec["self"] == "yes",
                json.dumps(attrs),
                json.dumps(types),
                rec["description"],
                float(rec["market_share"]),
            ],
        )


def test_analyze_reads_the_workspace_and_records_the_run(ws: Workspace, market: tuple) -> None:
    df, types, groups = market
    _insert(ws, df, types)
    result = analyze(ws, k=4)
    assert result.k == 4 and result.n_firms == 24
    planted = dict(zip(df["name"], groups, strict=True))
    truth = [planted[n] for n in result.firms["name"]]
    assert adjusted_rand_score(truth, result.firms["group"]) >= 0.9
    run = ws.latest_run("landscape")
    assert run is not None
    assert run["params"]["k"] == 4 and run["params"]["max_groups"] == 8  # every value used
    assert run["params"]["settings"]["landscape.k"] == 4  # the override, against the settings
    assert run["summary"]["shi"] == pytest.approx(result.shi)


def test_analyze_on_empty_workspace_says_what_to_import(ws: Workspace) -> None:
    with pytest.raises(InsufficientDataError, match="levelfield template competitors"):
        analyze(ws)


def test_analyze_rejects_unknown_and_bad_parameters(ws: Workspace) -> None:
    with pytest.raises(TypeError, match="colour"):
        analyze(ws, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"setting landscape\.k: '0' is not allowed"):
        analyze(ws, k=0)


def test_conflicting_type_rows_across_imports(ws: Workspace, market: tuple) -> None:
    df, types, _ = market
    _insert(ws, df, types)
    ws.con.execute(
        "UPDATE competitors SET attribute_types = ? WHERE competitor_id = 'c3'",
        [json.dumps({**types, "numeric_00": "category"})],
    )
    with pytest.raises(DataError, match="different types"):
        analyze(ws)
