"""The ``levelfield cooperate`` command group."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from levelfield.cooperation._buying import BuyingGroupResult, buying_group
from levelfield.cooperation._demo import write_demo_group
from levelfield.cooperation._inputs import read_price_breaks, read_purchases

__all__ = ["register_cli", "render_buying_group"]

_Command = Callable[..., None]

console = Console()

_RULES = {
    "proportional": "each item's saving split by share of its volume",
    "shapley": "each member's average added saving over every order of joining",
    "nucleolus": "the split that leaves the least-satisfied subgroup as well off as possible",
}


class _Row:
    """Attribute access to one record (values typed ``Any``, as pandas gives them)."""

    def __init__(self, record: dict[Any, Any]) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


def _money(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:,.2f}"


def _item_sentences(result: BuyingGroupResult) -> list[str]:
    lines = []
    for row in result.items.to_dict("records"):
        r = _Row(row)
        what = f"{r.item} ({r.supplier})"
        if r.saving <= 0.005:
            lines.append(
                f"{what}: together {r.pooled_volume:,.0f} a year; no price break beats what "
                "you pay now"
                + (
                    f" (the next starts at {r.next_tier_min_volume:,.0f})."
                    if math.isfinite(r.next_tier_min_volume)
                    else "."
                )
            )
            continue
        line = (
            f"Together you reach tier {r.tier} for {what}: {r.pooled_volume:,.0f} a year at "
            f"{_money(r.tier_unit_price)} each, saving {_money(r.saving)} a year."
        )
        if math.isfinite(r.next_tier_min_volume):
            line += (
                f" {r.next_tier_min_volume - r.pooled_volume:,.0f} more would reach the next tier."
            )
        lines.append(line)
    return lines


def _member_table(result: BuyingGroupResult) -> Table:
    table = Table(title="Each member's saving per year, under three ways to split it")
    for col in ("member", "share of volume", "pays today", "proportional", "Shapley", "nucleolus"):
        table.add_column(col, justify="left" if col == "member" else "right")
    se = result.shapley_se
    for i, row in enumerate(result.members.to_dict("records")):
        r = _Row(row)
        shap = _money(r.shapley)
        if se is not None:
            shap += f" ± {se[i]:,.2f}"
        table.add_row(
            str(r.member),
            f"{r.volume_share:.0%}",
            _money(r.today),
            _money(r.proportional),
            shap,
            _money(r.nucleolus),
        )
    return table


def _core_sentences(result: BuyingGroupResult) -> list[str]:
    names = result.members["member"].tolist()
    lines = []
    for rule, check in result.core.items():
        label = rule.capitalize() if rule != "shapley" else "Shapley"
        if check is None:
            continue
        if check.in_core:
            lines.append(
                f"{label} split: fair in the strong sense; no subgroup would do better alone."
            )
        else:
            who = ", ".join(names[i] for i in check.blocking)
            lines.append(
                f"{label} split: {who} would save {_money(check.max_gain)} more a year by "
                "buying together without the others; they have a reason to leave."
            )
    if result.core["shapley"] is None:
        lines.append(
            "The core was not checked: with more than 20 members there are too many subgroups."
        )
    elif result.core["nucleolus"] is None and not result.core["shapley"].in_core:
        lines.append("The nucleolus is computed for up to 14 members; this group is larger.")
    if result.core_nonempty is False:
        lines.append(
            "No split satisfies every subgroup (the core is empty): some subgroup will always "
            "do better alone; the nucleolus keeps that temptation as small as possible."
        )
    return lines


def _recommendation(result: BuyingGroupResult) -> str:
    shap, nucl = result.core["shapley"], result.core["nucleolus"]
    if shap is not None and shap.in_core:
        return (
            "Suggested split: Shapley (it rewards what each member adds, and no subgroup "
            "gains by leaving)."
        )
    if nucl is not None:
        return "Suggested split: nucleolus (the Shapley split gives a subgroup a reason to leave)."
    return "Suggested split: Shapley; check large subgroups by hand before you sign."


def render_buying_group(result: BuyingGroupResult, console: Console) -> None:
    """Print the buying-group result as an owner would take it to a meeting."""
    for line in _item_sentences(result):
        console.print(line, highlight=False)
    console.print(
        f"\n[bold]Total saving for the group: {_money(result.total_saving)} a year.[/]",
        highlight=False,
    )
    console.print(_member_table(result))
    console.print(f"Shapley value: {result.shapley_method}.", highlight=False)
    for rule, text in _RULES.items():
        console.print(f"  {rule}: {text}", highlight=False)
    for line in _core_sentences(result):
        console.print(line, highlight=False)
    console.print(f"[bold]{_recommendation(result)}[/]", highlight=False)
    for note in result.notes:
        console.print(f"Note: {note}.", highlight=False)


def register_cli(app: Any, *, friendly_errors: Any, progress_bar: Any = None) -> None:
    """Add the ``cooperate`` command group to the Typer ``app``."""
    errors = cast(Callable[[_Command], _Command], friendly_errors)
    group = typer.Typer(
        help="What several businesses can do together: buying groups with fair shares.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="cooperate")

    @group.command("buying-group")
    @errors
    def buying_group_cmd(
        purchases: Annotated[
            Path,
            typer.Option(help="Members' purchases CSV ('levelfield template purchases')."),
        ],
        price_breaks: Annotated[
            Path,
            typer.Option(help="Suppliers' price breaks CSV ('levelfield template price_breaks')."),
        ],
        permutations: Annotated[
            int, typer.Option(help="Random orders for the sampled Shapley value (>20 members).")
        ] = 2000,
        seed: Annotated[int, typer.Option(help="Seed of the sampling.")] = 0,
    ) -> None:
        """Pool members' purchases against price breaks and split the saving fairly."""
        result = buying_group(
            read_purchases(purchases),
            read_price_breaks(price_breaks),
            permutations=permutations,
            seed=seed,
        )
        render_buying_group(result, console)

    @group.command("demo")
    @errors
    def demo_cmd(
        directory: Annotated[Path, typer.Argument(help="Folder to write the two CSV files in.")],
    ) -> None:
        """Write a demo group's purchases.csv and price_breaks.csv (planted price breaks)."""
        p, b = write_demo_group(directory)
        console.print(
            f"Wrote {p} and {b}. Try: levelfield cooperate buying-group "
            f"--purchases {p} --price-breaks {b}",
            highlight=False,
        )
