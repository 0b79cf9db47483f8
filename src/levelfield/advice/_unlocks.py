"""Which imports would unlock which advice: the data each playbook rule needs.

A rule names the data it needs in ``needs`` (``playbook.toml``); when the workspace
lacks them, the rule cannot fire, and the plan says which import would let the playbook
check it instead of staying silent about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from levelfield.workspace import Workspace

__all__ = ["DATA_KINDS", "DataKind", "Unlock", "data_present", "unlocks"]


@dataclass(frozen=True)
class DataKind:
    """Data a rule may need: what it is, how to check it is there, how to add it."""

    label: str
    present_sql: str
    how: str


#: Data the playbook's rules can need, in the order the plan lists what is missing.
DATA_KINDS: dict[str, DataKind] = {
    "products": DataKind(
        "product unit costs",
        "SELECT count(*) FROM products WHERE unit_cost IS NOT NULL",
        "levelfield template products, then levelfield import products FILE",
    ),
    "costs": DataKind(
        "monthly costs (rent, wages, other fixed costs)",
        "SELECT count(*) FROM costs",
        "levelfield template costs, then levelfield import costs FILE",
    ),
    "suppliers": DataKind(
        "suppliers with their countries",
        "SELECT count(*) FROM suppliers",
        "levelfield template suppliers, then levelfield import suppliers FILE",
    ),
    "competitors": DataKind(
        "competitor profiles",
        "SELECT count(*) FROM competitors",
        "levelfield template competitors, then levelfield import competitors FILE",
    ),
    "surveys": DataKind(
        "customer survey answers (Net Promoter Score)",
        "SELECT count(*) FROM surveys",
        "levelfield template surveys, then levelfield import surveys FILE",
    ),
    "automation": DataKind(
        "the automation questionnaire (hours per task)",
        "SELECT count(*) FROM automation",
        "levelfield template automation, then levelfield import automation FILE",
    ),
    "credit_offers": DataKind(
        "the credit offers you are weighing (loans, cash advances, lines of credit)",
        "SELECT count(*) FROM credit_offers",
        "levelfield template credit_offers, then levelfield import credit_offers FILE",
    ),
    "business": DataKind(
        "the business profile (employees, sector, country)",
        "SELECT count(*) FROM business WHERE key = 'employees'",
        "levelfield template business, then levelfield import business FILE",
    ),
}


@dataclass(frozen=True)
class Unlock:
    """Data this workspace lacks and the playbook advice it would make possible."""

    data: str
    how: str
    advice: tuple[str, ...]

    def sentence(self) -> str:
        what = self.data[:1].upper() + self.data[1:]
        return f"{what} ({self.how}) would unlock: {'; '.join(self.advice)}."


def data_present(ws: Workspace) -> dict[str, bool]:
    """Whether the workspace holds each kind of :data:`DATA_KINDS`."""
    return {
        kind: int(ws.con.execute(d.present_sql).fetchall()[0][0]) > 0
        for kind, d in DATA_KINDS.items()
    }


def unlocks(
    silent: Sequence[tuple[str, Sequence[str]]], present: dict[str, bool]
) -> tuple[Unlock, ...]:
    """Group the silent rules by the missing data they need.

    Parameters
    ----------
    silent
        ``(what the advice is about, data kinds it needs)`` for each rule that did not
        fire, in playbook order.
    present
        :func:`data_present` of the workspace.
    """
    out = []
    for kind, d in DATA_KINDS.items():
        if present.get(kind, False):
            continue
        advice = tuple(dict.fromkeys(what for what, needs in silent if kind in needs))
        if advice:
            out.append(Unlock(d.label, d.how, advice))
    return tuple(out)
