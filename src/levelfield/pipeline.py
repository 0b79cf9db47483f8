"""Run analyses and keep their findings: the one place that knows the list of analyses.

``report``, ``web``, ``cli`` and ``advice`` call analyses through :func:`run_analysis`,
so every run is recorded in ``runs`` (by the analysis) and its findings in ``findings``
(here), and later readers need not re-run anything.
"""

from __future__ import annotations

from typing import Any

from levelfield._version import __version__
from levelfield.errors import ConfigError, LevelfieldError
from levelfield.findings import (
    AnalysisModule,
    AnalysisResult,
    Finding,
    ProgressCallback,
    no_progress,
)
from levelfield.workspace import Workspace

__all__ = [
    "ANALYSES",
    "COOPERATION_BUYING",
    "COOPERATION_PARTNERS",
    "GROUP_ANALYSES",
    "UPSTREAM",
    "analysis_module",
    "collect_findings",
    "group_findings",
    "run_analysis",
]

#: Analyses in the order ``analyze all`` runs them (scenarios reads earlier runs).
ANALYSES = (
    "customers",
    "subscriptions",
    "landscape",
    "exposure",
    "pricing",
    "scenarios",
    "financing",
)

#: Analyses of a group of businesses (``levelfield cooperate ...``) that store their
#: findings in each member's workspace. One workspace cannot re-run them (they need the
#: other members), so their latest stored findings are read as they are.
COOPERATION_BUYING = "cooperation_buying"
COOPERATION_PARTNERS = "cooperation_partners"
GROUP_ANALYSES = (COOPERATION_BUYING, COOPERATION_PARTNERS)

#: Analyses whose result reads the latest run of others: scenarios takes customers' monthly
#: retention and pricing's elasticities from their newest runs; exposure's scorecard notes
#: whether customers has been measured.
UPSTREAM: dict[str, tuple[str, ...]] = {
    "exposure": ("customers",),
    "scenarios": ("customers", "pricing"),
}


def analysis_module(name: str) -> AnalysisModule[Any]:
    """The package of analysis ``name`` (``levelfield.customers``, ...).

    Imported on first use (the CLI starts without SciPy and scikit-learn); mypy checks
    each package against :class:`~levelfield.findings.AnalysisModule`.
    """
    if name == "customers":
        from levelfield import customers

        return customers
    if name == "subscriptions":
        from levelfield.customers import subscriptions

        return subscriptions
    if name == "landscape":
        from levelfield import landscape

        return landscape
    if name == "exposure":
        from levelfield import exposure

        return exposure
    if name == "pricing":
        from levelfield import pricing

        return pricing
    if name == "scenarios":
        from levelfield import scenarios

        return scenarios
    if name == "financing":
        from levelfield import financing

        return financing
    raise ConfigError(f"unknown analysis {name!r}; choose one of {', '.join(ANALYSES)} or all")


def run_analysis(
    ws: Workspace, name: str, progress: ProgressCallback = no_progress
) -> AnalysisResult:
    """Run analysis ``name`` on ``ws``, store its findings and return its result."""
    result: AnalysisResult = analysis_module(name).analyze(ws, progress=progress)
    run = ws.latest_run(name)
    if run is not None:
        ws.record_findings(int(run["run_id"]), name, list(result.findings()))
    return result


def collect_findings(
    ws: Workspace,
    *,
    rerun_missing: bool = True,
    progress: ProgressCallback = no_progress,
) -> tuple[dict[str, list[Finding]], dict[str, str]]:
    """Latest findings of every analysis, running those that have none stored.

    Returns
    -------
    findings
        Analysis name -> its findings.
    skipped
        Analysis name -> why it could not run (e.g. no competitor profiles imported).
    """
    found: dict[str, list[Finding]] = {}
    skipped: dict[str, str] = {}
    for i, name in enumerate(ANALYSES):
        progress(f"reading {name}", i / len(ANALYSES))
        stored = ws.latest_findings(name)
        if stored is not None and _is_current(ws, name):
            found[name] = stored
            continue
        if not rerun_missing:
            skipped[name] = (
                "not yet analysed"
                if stored is None
                else "findings out of date (data, version, settings or upstream runs changed)"
            )
            continue
        try:
            found[name] = list(run_analysis(ws, name).findings())
        except LevelfieldError as exc:
            skipped[name] = f"{type(exc).__name__}: {exc}"
    found.update(group_findings(ws))
    progress("findings collected", 1.0)
    return found, skipped


def group_findings(ws: Workspace) -> dict[str, list[Finding]]:
    """The latest stored findings of each group analysis (:data:`GROUP_ANALYSES`)."""
    out: dict[str, list[Finding]] = {}
    for name in GROUP_ANALYSES:
        stored = ws.latest_findings(name)
        if stored:
            out[name] = stored
    return out


def _is_current(ws: Workspace, name: str) -> bool:
    """Whether the stored findings of ``name`` are what a run now would find.

    The cache key has four parts: (1) the settings: the run that stored the findings is the
    newest run of ``name`` and recorded the same values of every setting ``name`` depends
    on as the workspace holds now (:func:`levelfield.workspace.settings_of`; a changed
    setting, or a direct ``pricing.analyze(ws, max_step=...)`` override, makes them
    stale); (2) the data fingerprint (import ledger); (3) the levelfield version that made
    the run; (4) the upstream runs it read (:data:`UPSTREAM`): an upstream run newer than
    this one means it read an older one, so a setting of customers or pricing re-runs
    scenarios too.
    """
    run = ws.latest_run(name)
    if run is None or ws.findings_run_id(name) != int(run["run_id"]):
        return False
    if run["data_fingerprint"] != ws.fingerprint() or run["version"] != __version__:
        return False
    if run["params"].get("settings") != ws.settings.used_by(name):
        return False
    for upstream in UPSTREAM.get(name, ()):
        up = ws.latest_run(upstream)
        if up is not None and int(up["run_id"]) > int(run["run_id"]):
            return False
    return True
