"""Write the analyses' result tables to CSV files and one XLSX workbook."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd

from levelfield.advice import AdvicePlan
from levelfield.errors import ConfigError, InsufficientDataError
from levelfield.findings import AnalysisResult, ProgressCallback, no_progress
from levelfield.report._cells import safe_frame, write_safe_xlsx
from levelfield.report._data import run_advice, run_analyses
from levelfield.report._output import check_output_dir
from levelfield.workspace import Workspace

__all__ = ["export_tables", "result_tables"]

ExportFormat = Literal["csv", "xlsx", "both"]
_XLSX_NAME = "levelfield-tables.xlsx"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe_name(text: str) -> str:
    return _SAFE.sub("_", text).strip("._") or "table"


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy Excel can hold: timezone-naive datetimes, plain object columns."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_convert("UTC").dt.tz_localize(None)
    if isinstance(out.index, pd.MultiIndex) or out.index.name is not None:
        out = out.reset_index()
    return out


def result_tables(results: Mapping[str, AnalysisResult | AdvicePlan]) -> dict[str, pd.DataFrame]:
    """Every table of every result, keyed ``"<analysis>_<table>"``."""
    return {
        _safe_name(f"{name}_{tname}"): frame
        for name, result in results.items()
        for tname, frame in result.tables().items()
    }


def _sheet_names(keys: list[str]) -> dict[str, str]:
    """Unique Excel sheet names (at most 31 characters, no ``[]:*?/\\``)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for key in keys:
        base = re.sub(r"[\[\]:*?/\\]", "_", key)[:31]
        name, i = base, 2
        while name.lower() in used:
            suffix = f"~{i}"
            name = base[: 31 - len(suffix)] + suffix
            i += 1
        used.add(name.lower())
        names[key] = name
    return names


def export_tables(
    ws: Workspace,
    output_dir: str | Path,
    *,
    fmt: ExportFormat | str = "both",
    progress: ProgressCallback = no_progress,
    results: Mapping[str, AnalysisResult] | None = None,
) -> list[Path]:
    """Write every result table of the analyses (and the advice plan) to ``output_dir``.

    Each table becomes ``<analysis>_<table>.csv`` (UTF-8, comma separated) and/or a sheet
    of ``levelfield-tables.xlsx``. Analyses that cannot run yet are skipped. Text that a
    spreadsheet would run as a formula is neutralised (see :func:`safe_cell`).

    Parameters
    ----------
    ws
        The workspace.
    output_dir
        Folder to write into (created when missing).
    fmt
        ``"csv"``, ``"xlsx"`` or ``"both"``.
    results
        Results already computed, by analysis name.

    Returns
    -------
    list of Path
        The files written, CSV files first.

    Raises
    ------
    ConfigError
        ``fmt`` is not one of the three, or ``output_dir`` is a file.
    InsufficientDataError
        No analysis could run, so there is no table to write; the message gives each
        analysis's reason.
    """
    if fmt not in ("csv", "xlsx", "both"):
        raise ConfigError(f"export format must be csv, xlsx or both, not {fmt!r}")
    out = Path(output_dir)
    check_output_dir(out)  # before the analyses, which may take minutes

    def step(text: str, fraction: float) -> None:
        progress(text, 0.8 * fraction)

    outcomes = run_analyses(ws, progress=step, results=results)
    analysed = {n: oc.result for n, oc in outcomes.items() if oc.result is not None}
    skipped = {n: oc.reason for n, oc in outcomes.items() if oc.result is None}
    plan, _reason = run_advice(ws, {n: r.findings() for n, r in analysed.items()}, skipped)
    done: dict[str, AnalysisResult | AdvicePlan] = dict(analysed)
    if plan is not None:
        done["advice"] = plan
    tables = result_tables(done)
    if not tables:
        reasons = "; ".join(f"{n}: {oc.reason}" for n, oc in outcomes.items())
        raise InsufficientDataError(f"no result table to export yet ({reasons})")

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if fmt in ("csv", "both"):
        for key, frame in tables.items():
            path = out / f"{key}.csv"
            safe_frame(_excel_ready(frame)).to_csv(path, index=False)
            written.append(path)
    progress("writing workbook", 0.9)
    if fmt in ("xlsx", "both"):
        path = out / _XLSX_NAME
        sheets = _sheet_names(list(tables))
        write_safe_xlsx(path, {sheets[key]: _excel_ready(frame) for key, frame in tables.items()})
        written.append(path)
    progress("done", 1.0)
    return written
