"""The settings registry and store: types, ranges, sources, ledger, and every analysis
keyword being a setting."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levelfield import pipeline
from levelfield.errors import ConfigError
from levelfield.workspace import SETTINGS, UNSET, Workspace, settings_of

# Keywords that are Python objects; the settings give them another way (scenario_file).
_PYTHON_ONLY = {
    ("scenarios", "scenarios"),
    ("scenarios", "strategies"),
    ("scenarios", "drivers"),
    ("scenarios", "correlations"),
    ("pricing", "guardrails"),
    ("pricing", "personalize_by"),
}


@pytest.mark.parametrize("analysis", pipeline.ANALYSES)
def test_every_analyze_keyword_is_a_setting_read_from_the_workspace(analysis: str) -> None:
    sig = inspect.signature(pipeline.analysis_module(analysis).analyze)
    kinds = {p.kind for p in sig.parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds  # no **params
    names = {s.name for s in settings_of(analysis)}
    for p in list(sig.parameters.values())[1:]:
        if p.name == "progress" or (analysis, p.name) in _PYTHON_ONLY:
            continue
        assert p.name in names, f"{analysis}.analyze keyword {p.name} has no setting"
        assert p.default is UNSET, f"{analysis}.analyze({p.name}=) must default to the setting"


@pytest.mark.parametrize("key", list(SETTINGS))
def test_each_default_passes_its_own_check_and_is_documented(key: str) -> None:
    s = SETTINGS[key]
    if s.kind != "path":
        assert s.check(s.default) == s.default
    assert s.doc.endswith(".") and s.analyses and s.allowed
    if s.default is not None:  # what the CLI and the web page show parses back
        assert s.parse(s.to_text(s.default)) == s.default


def test_values_parse_like_an_owner_types_them() -> None:
    assert SETTINGS["pricing.max_step"].parse("5%") == pytest.approx(0.05)
    assert SETTINGS["pricing.max_step"].parse(" 0.2 ") == pytest.approx(0.2)
    assert SETTINGS["pricing.shrink"].parse("no") is False
    assert SETTINGS["customers.margin"].parse("auto") is None
    assert SETTINGS["customers.holdout"].parse("2025-06-30") == "2025-06-30"
    assert SETTINGS["customers.holdout"].parse("auto") == "auto"
    assert SETTINGS["customers.holdout"].parse("none") is None
    assert SETTINGS["pricing.price_endings"].parse(".99, whole") == [".99", "whole"]
    assert SETTINGS["pricing.price_endings"].parse("") == []
    assert SETTINGS["pricing.exclude_channels"].parse("") == []  # none excluded, not auto
    assert SETTINGS["pricing.exclude_channels"].parse("auto") is None
    assert SETTINGS["pricing.floor"].parse("A-1=12.5, B=3") == {"A-1": 12.5, "B": 3.0}
    assert SETTINGS["pricing.floor"].parse('{"A": 2}') == {"A": 2.0}
    assert SETTINGS["business.currency"].parse("eur") == "EUR"
    assert SETTINGS["scenarios.n_trials"].parse("10,000") == 10_000


@pytest.mark.parametrize(
    ("key", "text", "allowed"),
    [
        ("pricing.max_step", "1.5", "0 < x <= 1"),
        ("pricing.max_step", "ten", "0 < x <= 1"),
        ("pricing.max_step", "auto", "0 < x <= 1"),
        ("customers.model", "gamma", "auto, bgnbd, pareto_nbd"),
        ("customers.horizon_months", "6.5", "whole number"),
        ("customers.horizon_months", "0", "1 <= x <= 120"),
        ("pricing.price_endings", ".98", ".99, .95, .90, .49, whole"),
        ("pricing.floor", "A=-1", "NAME=NUMBER"),
        ("pricing.floor", "A", "NAME=NUMBER"),
        ("landscape.weights", "colour=1", "attributes, text"),
        ("business.currency", "euro", "three-letter"),
        ("customers.observation_end", "31/12/2025", "YYYY-MM-DD"),
        ("pricing.shrink", "maybe", "yes or no"),
    ],
)
def test_a_bad_value_names_the_key_and_what_is_allowed(key: str, text: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as err:
        SETTINGS[key].parse(text)
    assert f"setting {key}:" in str(err.value) and allowed in str(err.value)
    assert repr(text.strip()) in str(err.value) or text.strip() == ""


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_share_setting_accepts_exactly_its_range(x: float) -> None:
    s = SETTINGS["pricing.max_step"]
    inside = 0.0 < x <= 1.0
    if inside:
        assert s.check(x) == x
    else:
        with pytest.raises(ConfigError, match="pricing.max_step"):
            s.check(x)


def test_scenario_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no file at"):
        SETTINGS["scenarios.scenario_file"].parse(str(tmp_path / "missing.toml"))
    f = tmp_path / "mine.toml"
    f.write_text("[drivers]\n")
    assert SETTINGS["scenarios.scenario_file"].parse(str(f)) == str(f.resolve())


def _business(ws: Workspace, **values: object) -> None:
    ws.con.executemany(
        "INSERT INTO business VALUES (?, ?, 1)", [[k, json.dumps(v)] for k, v in values.items()]
    )


def test_sources_default_profile_user_and_reset(ws: Workspace) -> None:
    cols = [r[0] for r in ws.con.execute("DESCRIBE business").fetchall()]
    assert cols[:2] == ["key", "value"]
    st_ = ws.settings
    assert {v.source for v in st_.values()} == {"default"}
    _business(ws, **{"pricing.max_step": 0.07, "customers.model": "nonsense"})
    by_key = {v.setting.key: v for v in st_.values()}
    assert (by_key["pricing.max_step"].value, by_key["pricing.max_step"].source) == (
        0.07,
        "business profile",
    )
    # a profile value outside the range is not used, and says why
    bad = by_key["customers.model"]
    assert bad.source == "default" and bad.value == "auto" and "nonsense" in (bad.problem or "")
    v = st_.set("pricing.max_step", "3%", by="cli:ann")
    assert (v.value, v.source, v.set_by) == (pytest.approx(0.03), "user", "cli:ann")
    v = st_.reset("pricing.max_step", by="web:bob")
    assert (v.value, v.source) == (0.07, "business profile")
    ledger = st_.ledger()
    assert [(c["key"], c["old"], c["new"], c["by"]) for c in ledger] == [
        ("pricing.max_step", "0.03", "(reset)", "web:bob"),
        ("pricing.max_step", "0.07", "0.03", "cli:ann"),
    ]


def test_a_refused_value_changes_nothing(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="pricing.max_step"):
        ws.settings.set("pricing.max_step", "2", by="t")
    with pytest.raises(ConfigError, match="did you mean pricing.max_step"):
        ws.settings.set("pricing.max_stp", "0.1", by="t")
    assert ws.settings.ledger() == []
    assert ws.con.execute("SELECT count(*) FROM settings").fetchall()[0][0] == 0


def test_currency_setting_is_the_base_currency_over_the_profile(ws: Workspace) -> None:
    _business(ws, currency="USD")
    assert ws.currency() == "USD"
    assert ws.settings.get("business.currency") == "USD"  # the profile's, shown as such
    ws.settings.set("business.currency", "gbp", by="t")
    assert ws.currency() == "GBP"
    ws.settings.reset("business.currency", by="t")
    assert ws.currency() == "USD"


def test_resolve_applies_overrides_and_records_them(ws: Workspace) -> None:
    ws.settings.set("pricing.max_step", "0.05", by="t")
    kw, used = ws.settings.resolve("pricing", {"max_step": UNSET, "min_margin": 0.2})
    assert kw == {"max_step": 0.05, "min_margin": 0.2}
    assert used["pricing.max_step"] == 0.05 and used["pricing.min_margin"] == 0.2
    assert used != ws.settings.used_by("pricing")  # an override run is not the settings' run
    with pytest.raises(ConfigError, match="pricing.min_margin"):
        ws.settings.resolve("pricing", {"min_margin": 1.5})


def test_settings_survive_reopening(tmp_path: Path) -> None:
    from levelfield.workspace import open_workspace

    with open_workspace(tmp_path / "w.duckdb") as w:
        w.settings.set("scenarios.horizon", "36", by="t")
    with open_workspace(tmp_path / "w.duckdb") as w:
        assert w.settings.get("scenarios.horizon") == 36
