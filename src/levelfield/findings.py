"""Shared result vocabulary: findings and progress reporting.

A :class:`Finding` is one measured fact with its number, produced by an analysis and
read by :mod:`levelfield.advice`, the report and the web app. Findings carry a stable
``metric`` id (``"exposure.platform_share_max"``) so that playbook rules can refer to
them without importing the analysis that made them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    from levelfield.workspace import Workspace

__all__ = [
    "AnalysisModule",
    "AnalysisResult",
    "Finding",
    "ProgressCallback",
    "json_float",
    "money",
    "no_progress",
]

#: ``progress(step, fraction)``: a short description of the current step and the
#: fraction of the whole work done so far (0–1).
ProgressCallback = Callable[[str, float], None]


def no_progress(step: str, fraction: float) -> None:
    """Progress callback that does nothing."""


Severity = Literal["info", "good", "watch", "warning", "critical"]


@dataclass(frozen=True)
class Finding:
    """One measured fact, stated in plain language with the number behind it.

    Parameters
    ----------
    metric
        Stable dotted id, ``"<analysis>.<name>"``, e.g. ``"customers.top20_value_share"``.
    value
        The number (a share is 0–1, money in the business currency).
    unit
        ``"share"``, ``"currency"``, ``"count"``, ``"ratio"``, ``"index"``, ``"days"``, ...
    text
        One plain-language sentence that states the number, for an owner.
    severity
        How much attention it deserves.
    context
        Extra numbers that qualify the finding (e.g. the channel name, a reference).
    """

    metric: str
    value: float
    unit: str
    text: str
    severity: Severity = "info"
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def analysis(self) -> str:
        return self.metric.split(".", 1)[0]


class AnalysisResult(Protocol):
    """What every analysis result offers (``docs/contracts.md``), checked by mypy."""

    def summary(self) -> dict[str, Any]:
        """JSON-able headline numbers (recorded with the run)."""
        ...

    def tables(self) -> Mapping[str, pd.DataFrame]:
        """Every result table, for ``levelfield export`` and the report."""
        ...

    def headline(self) -> list[str]:
        """Plain-language lines, each with its number."""
        ...

    def findings(self) -> list[Finding]:
        """The measured facts advice reads."""
        ...


R = TypeVar("R", bound=AnalysisResult)


class AnalysisModule(Protocol[R]):
    """An analysis package (``levelfield.customers``, ...) as the pipeline and report use it."""

    METHODS: str
    REFERENCES: list[str]

    def analyze(self, ws: Workspace, *, progress: ProgressCallback = ...) -> R:
        """Read the workspace, compute, record the run and return the result."""
        ...

    def figures(self, result: R) -> Mapping[str, Any]:
        """The charts (Plotly figures) in display order, keyed by title."""
        ...


def money(x: float, currency: str) -> str:
    """An amount in findings text: whole units, sign first, ``n/a`` when not a number.

    Examples
    --------
    >>> money(-1234.5, "EUR"), money(980, "USD"), money(float("nan"), "EUR")
    ('-EUR 1,234', 'USD 980', 'n/a')
    """
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    sign = "-" if round(x) < 0 else ""
    return f"{sign}{currency} {abs(x):,.0f}"


def json_float(x: Any) -> float | None:
    """A number for a run summary or finding context: ``None`` when it is not a finite number.

    Examples
    --------
    >>> json_float(2), json_float(float("inf")), json_float(None), json_float("n/a")
    (2.0, None, None, None)
    """
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
