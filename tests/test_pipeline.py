from __future__ import annotations

import datetime as dt
import types
from dataclasses import dataclass
from typing import Any

import pytest

from levelfield import pipeline
from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.findings import Finding
from levelfield.workspace import Workspace


@dataclass(frozen=True)
class _Result:
    n: int

    def findings(self) -> list[Finding]:
        return [Finding("customers.repeat_rate", 0.4, "share", "40 % buy again")]


def _serve(monkeypatch: pytest.MonkeyPatch, modules: dict[str, types.ModuleType]) -> None:
    """Let the pipeline load ``modules`` in place of those analyses (the rest stay real)."""
    real = pipeline.analysis_module

    def analysis_module(name: str) -> Any:
        return modules[name] if name in modules else real(name)

    monkeypatch.setattr(pipeline, "analysis_module", analysis_module)


@pytest.fixture
def fake_customers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def analyze(ws: Workspace, *, progress: object = None) -> _Result:
        calls.append(1)
        used = ws.settings.used_by("customers")
        ws.record_run("customers", {}, {"n": 1}, dt.datetime(2024, 1, 1), settings=used)
        return _Result(1)

    mod = types.ModuleType("levelfield.customers")
    mod.analyze = analyze  # type: ignore[attr-defined]
    _serve(monkeypatch, {"customers": mod})
    return calls


def test_unknown_analysis_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="choose one of customers"):
        pipeline.analysis_module("astrology")


def test_run_analysis_stores_findings_and_collect_reuses_them(
    ws: Workspace, fake_customers: list[int]
) -> None:
    pipeline.run_analysis(ws, "customers")
    assert ws.latest_findings("customers") == _Result(1).findings()
    assert len(fake_customers) == 1
    found, _ = pipeline.collect_findings(ws, rerun_missing=False)
    assert found["customers"][0].metric == "customers.repeat_rate"
    assert len(fake_customers) == 1  # current: not re-run


def test_collect_reruns_when_data_changed_and_reports_skips(
    ws: Workspace, fake_customers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.run_analysis(ws, "customers")
    ws.con.execute(
        "INSERT INTO imports VALUES (9, 'orders', 'new.csv', 'z', 'generic', 1, 1, 0, now(), now(), 'ok', NULL)"
    )

    def refuse(ws: Workspace, *, progress: object = None) -> None:
        raise InsufficientDataError("no competitors imported")

    served = {"customers": pipeline.analysis_module("customers")}
    for name in ("landscape", "exposure", "pricing", "scenarios", "financing"):
        mod = types.ModuleType(f"levelfield.{name}")
        mod.analyze = refuse  # type: ignore[attr-defined]
        served[name] = mod
    _serve(monkeypatch, served)
    found, skipped = pipeline.collect_findings(ws)
    assert len(fake_customers) == 2  # fingerprint changed: re-run
    # The real subscriptions analysis runs and says what to import.
    assert set(skipped) == {
        "subscriptions",
        "landscape",
        "exposure",
        "pricing",
        "scenarios",
        "financing",
    }
    assert "levelfield import subscriptions" in skipped["subscriptions"]
    assert "no competitors" in skipped["landscape"]
    assert "customers" in found


def _refuse_all_but(monkeypatch: pytest.MonkeyPatch, keep: dict[str, Any]) -> None:
    def refuse(ws: Workspace, *, progress: object = None) -> None:
        raise InsufficientDataError("not in this test")

    served: dict[str, Any] = dict(keep)
    for name in pipeline.ANALYSES:
        if name not in served:
            mod = types.ModuleType(f"levelfield.{name}")
            mod.analyze = refuse  # type: ignore[attr-defined]
            served[name] = mod
    _serve(monkeypatch, served)


def test_collect_reruns_when_the_levelfield_version_changed(
    ws: Workspace, fake_customers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.run_analysis(ws, "customers")
    _refuse_all_but(monkeypatch, {"customers": pipeline.analysis_module("customers")})
    pipeline.collect_findings(ws)
    assert len(fake_customers) == 1  # same version, data, settings: served from the store
    ws.con.execute("UPDATE runs SET version = '0.0.1' WHERE analysis = 'customers'")
    _, skipped = pipeline.collect_findings(ws, rerun_missing=False)
    assert "out of date" in skipped["customers"]
    pipeline.collect_findings(ws)
    assert len(fake_customers) == 2


def test_collect_reruns_after_a_run_with_other_settings(
    ws: Workspace, fake_customers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.run_analysis(ws, "customers")
    # e.g. levelfield.customers.analyze(ws, model="pareto") called directly: no findings stored
    ws.record_run("customers", {"model": "pareto"}, {"n": 1}, dt.datetime(2024, 1, 2))
    _refuse_all_but(monkeypatch, {"customers": pipeline.analysis_module("customers")})
    found, _ = pipeline.collect_findings(ws)
    assert len(fake_customers) == 2
    assert ws.findings_run_id("customers") == ws.latest_run("customers")["run_id"]  # type: ignore[index]
    assert "customers" in found


def test_scenarios_rerun_when_an_upstream_run_is_newer(
    ws: Workspace, fake_customers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario_calls: list[int] = []

    def analyze(ws: Workspace, *, progress: object = None) -> _Result:
        scenario_calls.append(1)
        used = ws.settings.used_by("scenarios")
        ws.record_run("scenarios", {}, {"n": 1}, dt.datetime(2024, 1, 1), settings=used)
        return _Result(1)

    scen = types.ModuleType("levelfield.scenarios")
    scen.analyze = analyze  # type: ignore[attr-defined]
    customers = pipeline.analysis_module("customers")
    _refuse_all_but(monkeypatch, {"customers": customers, "scenarios": scen})
    assert pipeline.UPSTREAM["scenarios"] == ("customers", "pricing")
    pipeline.run_analysis(ws, "customers")
    pipeline.run_analysis(ws, "scenarios")
    pipeline.collect_findings(ws)
    assert (len(fake_customers), len(scenario_calls)) == (1, 1)  # all current
    pipeline.run_analysis(ws, "customers")  # customers re-run after scenarios read it
    pipeline.collect_findings(ws)
    assert (len(fake_customers), len(scenario_calls)) == (2, 2)
    # pricing is upstream too: a pricing run newer than scenarios' makes it stale
    ws.record_run("pricing", {}, {}, dt.datetime(2024, 1, 3))
    assert not pipeline._is_current(ws, "scenarios")
    assert pipeline._is_current(ws, "customers")


def test_a_changed_setting_reruns_the_analysis_and_its_dependents(
    ws: Workspace, fake_customers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario_calls: list[int] = []

    def analyze(ws: Workspace, *, progress: object = None) -> _Result:
        scenario_calls.append(1)
        used = ws.settings.used_by("scenarios")
        ws.record_run("scenarios", {}, {"n": 1}, dt.datetime(2024, 1, 1), settings=used)
        return _Result(1)

    scen = types.ModuleType("levelfield.scenarios")
    scen.analyze = analyze  # type: ignore[attr-defined]
    _refuse_all_but(
        monkeypatch, {"customers": pipeline.analysis_module("customers"), "scenarios": scen}
    )
    pipeline.collect_findings(ws)
    assert (len(fake_customers), len(scenario_calls)) == (1, 1)
    ws.settings.set("scenarios.n_trials", "5000", by="test")  # scenarios' own setting
    pipeline.collect_findings(ws)
    assert (len(fake_customers), len(scenario_calls)) == (1, 2)
    ws.settings.set("customers.horizon_months", "24", by="test")  # upstream's setting
    assert not pipeline._is_current(ws, "customers")
    assert not pipeline._is_current(ws, "scenarios")
    _, skipped = pipeline.collect_findings(ws, rerun_missing=False)
    assert "settings" in skipped["customers"]
    pipeline.collect_findings(ws)
    assert (len(fake_customers), len(scenario_calls)) == (2, 3)
    ws.settings.set("landscape.k", "7", by="test")  # neither depends on landscape
    pipeline.collect_findings(ws)
    assert (len(fake_customers), len(scenario_calls)) == (2, 3)
    ws.settings.reset("customers.horizon_months", by="test")
    pipeline.collect_findings(ws)
    assert (len(fake_customers), len(scenario_calls)) == (3, 4)
