"""Load, validate and evaluate the declarative playbook (``playbook.toml``)."""

from __future__ import annotations

import math
import operator
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from levelfield.advice._unlocks import DATA_KINDS
from levelfield.errors import ConfigError
from levelfield.findings import Finding

__all__ = ["Condition", "Rule", "evaluate_rule", "load_playbook", "render"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}
_EFFORT_RANGE = (1, 5)


@dataclass(frozen=True)
class Condition:
    """``metric`` (or its context ``field``) compared with ``value`` by ``op``."""

    metric: str
    op: str
    value: float
    alias: str
    field: str | None = None

    def holds(self, finding: Finding) -> bool:
        raw = finding.value if self.field is None else finding.context.get(self.field)
        if not isinstance(raw, int | float) or isinstance(raw, bool) or math.isnan(raw):
            return False
        return _OPS[self.op](float(raw), self.value)


@dataclass(frozen=True)
class Rule:
    """One playbook rule: when its conditions hold, it proposes an action."""

    id: str
    kind: Literal["action", "insight"]
    title: str
    strategy: str
    seed: str
    source: str
    conditions: tuple[Condition, ...]
    match: Literal["all", "any"]
    do: str
    impact: Mapping[str, Any]
    effort: int
    horizon_weeks: int
    kpi: str
    name: str | None = None
    explain: str | None = None
    pilot: Mapping[str, Any] | None = None
    metrics: tuple[str, ...] = field(default=())
    success_probability: float = 1.0
    replaces: tuple[str, ...] = field(default=())
    needs: tuple[str, ...] = field(default=())

    @property
    def about(self) -> str:
        """What the advice is about, without numbers (its title, else its strategy)."""
        return self.strategy if "{" in self.title else self.title


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"playbook {where}: {message}")


def _condition(raw: Mapping[str, Any], where: str, default_alias: str) -> Condition:
    for key in ("metric", "op", "value"):
        if key not in raw:
            raise _fail(where, f"a condition lacks {key!r} (has {sorted(raw)})")
    if raw["op"] not in _OPS:
        raise _fail(where, f"operator {raw['op']!r} unknown; use one of {', '.join(_OPS)}")
    metric = str(raw["metric"])
    if "." not in metric:
        raise _fail(where, f"metric {metric!r} must be '<analysis>.<name>'")
    value = raw["value"]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _fail(where, f"threshold of {metric} must be a number, not {value!r}")
    return Condition(
        metric=metric,
        op=str(raw["op"]),
        value=float(value),
        alias=str(raw.get("as", default_alias)),
        field=str(raw["field"]) if "field" in raw else None,
    )


def _rule(raw: Mapping[str, Any], index: int, origin: str) -> Rule:
    rid = str(raw.get("id", f"#{index + 1}"))
    where = f"{origin} rule {rid!r}"
    required = (
        *("id", "kind", "title", "strategy", "seed", "source", "do", "impact"),
        *("effort", "horizon_weeks", "kpi"),
    )
    missing = [k for k in required if k not in raw]
    if missing:
        raise _fail(where, f"missing {', '.join(missing)}")
    if raw["kind"] not in ("action", "insight"):
        raise _fail(where, f"kind must be 'action' or 'insight', not {raw['kind']!r}")
    if ("when" in raw) == ("when_any" in raw):
        raise _fail(where, "give exactly one of 'when' (all must hold) or 'when_any'")
    raw_conds = raw.get("when", raw.get("when_any"))
    if not isinstance(raw_conds, list) or not raw_conds:
        raise _fail(where, "'when'/'when_any' must be a non-empty list of conditions")
    conds = tuple(_condition(c, where, f"c{i}") for i, c in enumerate(raw_conds))
    effort = raw["effort"]
    if not isinstance(effort, int) or not _EFFORT_RANGE[0] <= effort <= _EFFORT_RANGE[1]:
        raise _fail(where, f"effort must be a whole number 1..5, not {effort!r}")
    impact = raw["impact"]
    if not isinstance(impact, dict) or "estimator" not in impact:
        raise _fail(where, "impact must be a table with an 'estimator'")
    if raw["kind"] == "insight" and ("name" not in raw or "explain" not in raw):
        raise _fail(where, "an insight needs a 'name' and an 'explain' text")
    p_success = raw.get("success_probability", 1.0)
    if not isinstance(p_success, int | float) or not 0 < p_success <= 1:
        raise _fail(where, f"success_probability must be in (0, 1], not {p_success!r}")
    replaces = raw.get("replaces", [])
    if not isinstance(replaces, list) or not all(isinstance(r, str) for r in replaces):
        raise _fail(where, "'replaces' must be a list of rule ids")
    needs = raw.get("needs", [])
    if not isinstance(needs, list) or not all(n in DATA_KINDS for n in needs):
        raise _fail(where, f"'needs' must be a list of {', '.join(DATA_KINDS)}, not {needs!r}")
    rule = Rule(
        id=rid,
        kind=raw["kind"],
        title=str(raw["title"]),
        strategy=str(raw["strategy"]),
        seed=str(raw["seed"]),
        source=str(raw["source"]),
        conditions=conds,
        match="all" if "when" in raw else "any",
        do=str(raw["do"]),
        impact=dict(impact),
        effort=int(effort),
        horizon_weeks=int(raw["horizon_weeks"]),
        kpi=str(raw["kpi"]),
        name=str(raw["name"]) if "name" in raw else None,
        explain=str(raw["explain"]) if "explain" in raw else None,
        pilot=dict(raw["pilot"]) if "pilot" in raw else None,
        metrics=tuple(dict.fromkeys(c.metric for c in conds)),
        success_probability=float(p_success),
        replaces=tuple(replaces),
        needs=tuple(needs),
    )
    aliases = {c.alias for c in conds}
    for text in (rule.title, rule.do, rule.kpi, rule.explain or ""):
        for _, name, _, _ in string.Formatter().parse(text):
            if name is None:
                continue
            root = name.split(".", 1)[0].split("[", 1)[0]
            if root not in aliases and root != "facts":
                raise _fail(where, f"text refers to {{{name}}} but no condition is named {root!r}")
    return rule


def load_playbook(path: str | Path | None = None) -> list[Rule]:
    """Read and validate a playbook; the shipped one when ``path`` is ``None``.

    Raises
    ------
    ConfigError
        The file is not valid TOML or a rule is malformed (the message names the rule).
    """
    if path is None:
        text = resources.files("levelfield.advice").joinpath("playbook.toml").read_text("utf-8")
        origin = "playbook.toml"
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read playbook {p}: {exc}") from exc
        origin = str(p)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"playbook {origin} is not valid TOML: {exc}") from exc
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError(f"playbook {origin} has no [[rule]] entries")
    rules = [_rule(r, i, origin) for i, r in enumerate(raw_rules)]
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"playbook {origin}: duplicate rule ids {', '.join(dupes)}")
    unknown = sorted({r for rule in rules for r in rule.replaces} - set(ids))
    if unknown:
        raise ConfigError(f"playbook {origin}: 'replaces' names unknown rules {', '.join(unknown)}")
    return rules


def _extremity(cond: Condition, finding: Finding) -> float:
    raw = finding.value if cond.field is None else finding.context.get(cond.field, 0.0)
    return abs(float(raw) - cond.value)


def evaluate_rule(
    rule: Rule, findings: Mapping[str, Sequence[Finding]]
) -> dict[str, Finding] | None:
    """The findings that make ``rule`` fire, keyed by alias; ``None`` when it does not.

    When several findings share a metric (e.g. one per channel), the one furthest past
    the threshold is quoted. Conditions with the same alias must hold for one finding.
    """
    bound: dict[str, Finding] = {}
    if rule.match == "any":
        best: tuple[float, Condition, Finding] | None = None
        for cond in rule.conditions:
            for f in findings.get(cond.metric, ()):
                if cond.holds(f):
                    score = _extremity(cond, f) / max(abs(cond.value), 1e-9)
                    if best is None or score > best[0]:
                        best = (score, cond, f)
        if best is None:
            return None
        return {best[1].alias: best[2]}
    for cond in rule.conditions:
        if cond.alias in bound:
            if bound[cond.alias].metric != cond.metric or not cond.holds(bound[cond.alias]):
                # Try another finding of the same metric that satisfies every condition so far.
                others = [
                    f
                    for f in findings.get(cond.metric, ())
                    if all(
                        c.holds(f)
                        for c in rule.conditions
                        if c.alias == cond.alias and c.metric == f.metric
                    )
                ]
                if not others:
                    return None
                bound[cond.alias] = max(others, key=lambda f: _extremity(cond, f))
            continue
        matches = [f for f in findings.get(cond.metric, ()) if cond.holds(f)]
        if not matches:
            return None
        bound[cond.alias] = max(matches, key=lambda f: _extremity(cond, f))
    return bound


def _namespace(finding: Finding) -> SimpleNamespace:
    return SimpleNamespace(
        **{str(k): v for k, v in finding.context.items()},
        value=finding.value,
        text=finding.text,
        unit=finding.unit,
        metric=finding.metric,
    )


def render(text: str, bound: Mapping[str, Finding], facts: object, rule_id: str) -> str:
    """Fill a rule text with the numbers of the findings that fired it."""
    names: dict[str, Any] = {alias: _namespace(f) for alias, f in bound.items()}
    names["facts"] = facts
    try:
        return text.format(**names)
    except (AttributeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise ConfigError(
            f"playbook rule {rule_id!r}: cannot fill {text!r}: {exc!r}; the finding behind "
            "it lacks that number — fix the rule's text or the analysis' finding context"
        ) from exc
