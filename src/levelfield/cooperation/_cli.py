"""The ``levelfield cooperate`` command group."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from levelfield.cooperation._buying import BuyingGroupResult, buying_group
from levelfield.cooperation._demo import write_demo_group
from levelfield.cooperation._inputs import read_price_breaks, read_purchases
from levelfield.cooperation._partners import PRIVACY_SHORT, PartnersResult
from levelfield.cooperation._sentences import (
    RULES,
    Row,
    core_sentences,
    item_sentences,
    money,
    recommendation,
)
from levelfield.errors import ConfigError

__all__ = ["register_cli", "render_buying_group", "render_fleet_partners", "render_partners"]

_Command = Callable[..., None]

console = Console()


def _member_table(result: BuyingGroupResult) -> Table:
    table = Table(title="Each member's saving per year, under three ways to split it")
    for col in ("member", "share of volume", "pays today", "proportional", "Shapley", "nucleolus"):
        table.add_column(col, justify="left" if col == "member" else "right")
    se = result.shapley_se
    for i, row in enumerate(result.members.to_dict("records")):
        r = Row(row)
        shap = money(r.shapley)
        if se is not None:
            shap += f" ± {se[i]:,.2f}"
        table.add_row(
            str(r.member),
            f"{r.volume_share:.0%}",
            money(r.today),
            money(r.proportional),
            shap,
            money(r.nucleolus),
        )
    return table


def render_buying_group(result: BuyingGroupResult, console: Console) -> None:
    """Print the buying-group result as an owner would take it to a meeting."""
    for line in item_sentences(result):
        console.print(line, highlight=False)
    console.print(
        f"\n[bold]Total saving for the group: {money(result.total_saving)} a year.[/]",
        highlight=False,
    )
    console.print(_member_table(result))
    console.print(f"Shapley value: {result.shapley_method}.", highlight=False)
    for rule, text in RULES.items():
        console.print(f"  {rule}: {text}", highlight=False)
    for line in core_sentences(result):
        console.print(line, highlight=False)
    console.print(f"[bold]{recommendation(result)}[/]", highlight=False)
    for note in result.notes:
        console.print(f"Note: {note}.", highlight=False)


def render_partners(result: PartnersResult, console: Console) -> None:
    """Print each member's top partners and rivals, with the reasons in words."""
    for m in result.members:
        console.print(f"\n[bold]{m.name}[/]", highlight=False)
        top = result.top_partners(m.name)
        if top.empty:
            console.print("  No complementary partner in this group.", highlight=False)
        for rank, r in enumerate(top.itertuples(), start=1):
            console.print(f"  {rank}. {r.partner}: {r.reasons}.", highlight=False)
            console.print(f"     Suggestion: {r.suggestion}.", highlight=False)
        for r in result.rivals(m.name).itertuples():
            console.print(f"  Co-opetition: {r.reasons}", highlight=False)
    for note in result.notes:
        console.print(f"Note: {note}.", highlight=False)
    console.print(f"\nPrivacy: {PRIVACY_SHORT}", highlight=False)


def _print_advice(paths: list[Path], console: Console) -> None:
    """The playbook's cooperation rules, fired from the results just stored."""
    from levelfield.advice import advise
    from levelfield.pipeline import group_findings
    from levelfield.workspace import open_workspace

    for path in paths:
        with open_workspace(path, create=False) as ws:
            plan = advise(ws, findings=group_findings(ws))
            name = ws.con.execute("SELECT value FROM business WHERE key = 'name'").fetchall()
        who = str(name[0][0]).strip('"') if name else path.parent.name
        console.print(f"\n[bold]Advice for {who}[/]", highlight=False)
        if not plan.actions:
            console.print("  No cooperation rule fires.", highlight=False)
        for a in plan.actions:
            console.print(f"  {a.rank}. {a.title}", highlight=False)
            console.print(f"     Why: {a.finding}", highlight=False)
            console.print(
                f"     Worth: {plan.currency} {a.impact.low:,.0f} to {a.impact.high:,.0f} a "
                f"year ({a.impact.basis})",
                highlight=False,
            )
            console.print(f"     Do: {a.do}", highlight=False)


_PRIVACY_HELP = (
    "Privacy: customers in common are counted from group tokens, keyed hashes of e-mails "
    "under the GROUP key (never a workspace's own key), derived by each member with "
    "'levelfield cooperate tokens'; only counts are printed and stored. Limits: whoever "
    "runs this command reads every member's tokens (not e-mails); whoever also holds the "
    "group key can test a guessed e-mail against them; in a small group, or for a pair "
    "whose customers mostly overlap, the counts alone say a lot about a partner's "
    "customers. Rotate the key when a member leaves."
)

WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", help="Workspace file (DuckDB).", envvar="LEVELFIELD_WORKSPACE"
    ),
]
GroupKeyOpt = Annotated[
    Path, typer.Option("--group-key", help="The group key file ('cooperate group-key').")
]


def register_cli(app: Any, *, friendly_errors: Any, progress_bar: Any = None) -> None:
    """Add the ``cooperate`` command group to the Typer ``app``."""
    errors = cast(Callable[[_Command], _Command], friendly_errors)
    group = typer.Typer(
        help="What several businesses can do together: buying groups with fair shares, "
        "partners and co-opetition, an association's evidence pack.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="cooperate")
    _buying_commands(group, errors)
    _token_commands(group, errors)
    _partner_commands(group, errors)
    _pack_commands(group, errors)


def _buying_commands(group: typer.Typer, errors: Callable[[_Command], _Command]) -> None:
    @group.command("buying-group")
    @errors
    def buying_group_cmd(
        price_breaks: Annotated[
            Path,
            typer.Option(help="Suppliers' price breaks CSV ('levelfield template price_breaks')."),
        ],
        purchases: Annotated[
            Path | None,
            typer.Option(
                help="Members' purchases CSV ('levelfield template purchases'); leave it out "
                "to read the purchases from the members' workspaces (--workspaces)."
            ),
        ] = None,
        permutations: Annotated[
            int, typer.Option(help="Random orders for the sampled Shapley value (>20 members).")
        ] = 2000,
        seed: Annotated[int, typer.Option(help="Seed of the sampling.")] = 0,
        workspaces: Annotated[
            list[Path] | None,
            typer.Option(
                help="Members' workspaces: a folder (every *.duckdb below it) or files; "
                "repeat the option for several. Without --purchases, each member's "
                "purchases are read from its workspace: units sold in the last 12 months x "
                "products.unit_cost (in the base currency at each order date's rate) per "
                "supplier and sku, product name or category as the price breaks name them, "
                "else the supplier's "
                "annual_spend for a one-item supplier. Each member's share is stored in "
                "the workspace whose business name matches (for advise, report, web)."
            ),
        ] = None,
        advise: Annotated[
            bool, typer.Option("--advise", help="Print the cooperation advice per member.")
        ] = False,
    ) -> None:
        """Pool members' purchases against price breaks and split the saving fairly."""
        from levelfield.cooperation._members import resolve_workspaces, workspace_purchases
        from levelfield.cooperation._store import record_buying_group, workspace_names

        if purchases is None and not workspaces:
            raise ConfigError(
                "give --purchases FILE, or --workspaces DIR_OR_FILE to read the members' "
                "purchases from their workspaces"
            )
        breaks = read_price_breaks(price_breaks)
        inputs = {"price_breaks": price_breaks.name}
        notes: tuple[str, ...] = ()
        if purchases is not None:
            bought = read_purchases(purchases)
            inputs["purchases"] = purchases.name
        else:
            derived = workspace_purchases(list(workspaces or []), breaks)
            bought, notes = derived.purchases, derived.notes
            inputs["purchases"] = f"{len(derived.workspaces)} workspaces"
            _print_derived(derived.sources, derived.currency)
        result = buying_group(bought, breaks, permutations=permutations, seed=seed)
        result = dataclasses.replace(result, notes=notes + result.notes)
        render_buying_group(result, console)
        if not workspaces:
            if advise:
                raise ConfigError("--advise needs --workspaces (advice is per member)")
            return
        names = workspace_names(resolve_workspaces(list(workspaces)))
        stored = record_buying_group(result, names, inputs)
        missing = [str(m) for m in result.members["member"] if m not in stored]
        console.print(
            f"Stored each member's share in {len(stored)} workspace(s)"
            + (f"; no workspace for {', '.join(missing)}." if missing else "."),
            highlight=False,
        )
        if advise:
            _print_advice([names[m] for m in stored], console)


def _print_derived(sources: Any, currency: str) -> None:
    """Where the purchases read from the workspaces came from, in one line per source."""
    counts = sources.groupby("source").size()
    parts = [f"{n} from {src}" for src, n in counts.items()]
    console.print(
        f"Purchases read from {sources['member'].nunique()} members' workspaces, in "
        f"{currency}: {len(sources)} member x item row(s) ({', '.join(parts)}).",
        highlight=False,
    )


def _token_commands(group: typer.Typer, errors: Callable[[_Command], _Command]) -> None:
    """``cooperate group-key`` and ``cooperate tokens``: the group's shared secret and the
    keyed customer tokens each member derives from its own exports."""

    @group.command("group-key")
    @errors
    def group_key_cmd(
        file: Annotated[Path, typer.Argument(help="Where to write the new group key.")],
    ) -> None:
        """Create a group key: share it privately with the members (never a workspace key)."""
        from levelfield.cooperation._tokens import new_group_key, write_group_key

        key = new_group_key()
        write_group_key(file, key)
        console.print(
            f"Wrote group key {key.group_id} to {file} (owner-only). Give it to each member "
            "privately; each runs 'levelfield cooperate tokens'.",
            highlight=False,
        )

    @group.command("tokens", help="Derive group tokens from your order exports. " + _PRIVACY_HELP)
    @errors
    def tokens_cmd(
        exports: Annotated[list[Path], typer.Argument(help="Order export files with e-mails.")],
        group_key: GroupKeyOpt,
        workspace: WorkspaceOpt = Path("levelfield.duckdb"),
        email_column: Annotated[
            str | None, typer.Option(help="The e-mail column, when not recognised.")
        ] = None,
    ) -> None:
        from levelfield.cooperation._tokens import derive_tokens, read_group_key
        from levelfield.workspace import open_workspace

        key = read_group_key(group_key)
        with open_workspace(workspace, create=False) as ws:
            done = derive_tokens(ws, key, list(exports), email_col=email_column)
        console.print(
            f"Read {done.rows:,} rows (column {done.column!r}): {done.emails:,} distinct "
            f"e-mails hashed under group key {done.group_id}; the workspace holds "
            f"{done.tokens:,} tokens for this group. No e-mail was stored.",
            highlight=False,
        )


def _partner_commands(group: typer.Typer, errors: Callable[[_Command], _Command]) -> None:
    """``cooperate partners``: partners and rivals over workspaces or a fleet dataset."""

    @group.command(
        "partners",
        help="Rank complementary partners and flag rivals across a folder of members' "
        "workspaces, or across a fleet Parquet dataset (--fleet). " + _PRIVACY_HELP,
    )
    @errors
    def partners_cmd(
        directory: Annotated[
            Path | None, typer.Argument(help="Folder of the members' workspaces.")
        ] = None,
        group_key: Annotated[
            Path | None,
            typer.Option(
                "--group-key",
                help="The group key file ('cooperate group-key'); required for workspaces, "
                "with --fleet it picks the group whose tokens to use.",
            ),
        ] = None,
        fleet: Annotated[
            Path | None,
            typer.Option(
                help="A fleet Parquet dataset ('levelfield demo --fleet N DIR'): "
                "businesses.parquet (business_id, sector, region), suppliers/, optional "
                "products/ (business_id, category), competitors/ (own row, is_self) and "
                "group_tokens/ (business_id, group_id, token). Its orders carry customer "
                "ids pseudonymised per business: without group_tokens the customers in "
                "common are not computed, and the output says so."
            ),
        ] = None,
        output: Annotated[
            Path | None,
            typer.Option(
                "--output", "-o", help="With --fleet: write every kept pair (.csv or .parquet)."
            ),
        ] = None,
        top: Annotated[int, typer.Option(help="Partners listed per member.")] = 3,
        advise: Annotated[
            bool, typer.Option("--advise", help="Print the cooperation advice per member.")
        ] = False,
    ) -> None:
        from levelfield.cooperation._tokens import read_group_key

        if top < 1:
            raise ConfigError(f"--top must be 1 or more, not {top}")
        if fleet is not None:
            if directory is not None or advise:
                raise ConfigError("--fleet takes no workspace folder and no --advise")
            gid = read_group_key(group_key).group_id if group_key is not None else None
            _fleet_partners_cmd(fleet, top, gid, output)
            return
        if directory is None or group_key is None:
            raise ConfigError(
                "give the folder of the members' workspaces and --group-key FILE, or --fleet DIR"
            )
        _workspace_partners_cmd(directory, group_key, top, advise)


def _workspace_partners_cmd(directory: Path, group_key: Path, top: int, advise: bool) -> None:
    """Partner matching over a folder of workspaces: printed, and stored in each workspace."""
    from levelfield.cooperation._partners import find_workspaces, match_partners
    from levelfield.cooperation._store import record_partners
    from levelfield.cooperation._tokens import read_group_key

    paths = find_workspaces(directory)
    result = match_partners(paths, read_group_key(group_key), top=top)
    record_partners(result, {"members": len(paths), "top": top, "group_id": result.group_id})
    render_partners(result, console)
    if advise:
        _print_advice(paths, console)


def _fleet_partners_cmd(fleet: Path, top: int, group_id: str | None, output: Path | None) -> None:
    """Fleet partner matching: the best pairs and the rivals printed, all pairs to a file."""
    from levelfield.cooperation._fleet_partners import fleet_partners

    result = fleet_partners(fleet, top=top, group_id=group_id)
    render_fleet_partners(result, console)
    if output is None:
        return
    frame = result.pairs.assign(shared_suppliers=result.pairs["shared_suppliers"].str.join("; "))
    tmp = output.with_name(f".{output.name}.tmp")
    if output.suffix.lower() == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    tmp.replace(output)
    console.print(f"Wrote {len(frame):,} pair(s) to {output}.", highlight=False)


def render_fleet_partners(result: Any, console: Console, show: int = 10) -> None:
    """The fleet's best complementary pairs and its rival pairs, with reasons in words."""
    pairs = result.pairs
    comp = pairs.loc[pairs["kind"] == "complement"].sort_values(
        ["score", "member_id", "partner_id"], ascending=[False, True, True]
    )
    known = f"counted from group {result.group_id}'s tokens."
    console.print(
        f"{result.businesses:,} businesses; up to {result.top} partners kept for each "
        f"({len(comp):,} rows); customers in common "
        + (known if result.overlap_known else "unknown."),
        highlight=False,
    )
    console.print(f"\n[bold]The {min(show, len(comp))} best partner pairs[/]", highlight=False)
    for r in comp.head(show).itertuples():
        console.print(
            f"  {r.member} + {r.partner} (score {r.score:.2f}): {r.reasons}.", highlight=False
        )
        console.print(f"     Suggestion: {r.suggestion}.", highlight=False)
    rivals = pairs.loc[(pairs["kind"] == "rival") & (pairs["member_id"] < pairs["partner_id"])]
    for r in rivals.head(show).itertuples():
        console.print(f"  Co-opetition, {r.member}: {r.reasons}", highlight=False)
    for note in result.notes:
        console.print(f"Note: {note}.", highlight=False)
    console.print(f"\nPrivacy: {PRIVACY_SHORT}", highlight=False)


def _pack_commands(group: typer.Typer, errors: Callable[[_Command], _Command]) -> None:
    @group.command("evidence-pack")
    @errors
    def evidence_pack_cmd(
        directory: Annotated[Path, typer.Argument(help="Folder of the members' workspaces.")],
        output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")],
        title: Annotated[str, typer.Option(help="Title of the pack.")] = "Evidence pack",
        k: Annotated[
            int | None,
            typer.Option(
                help="Fewest members behind any published figure (default 10 when more than "
                "5 firms contribute, else 3; below 10 is refused then)."
            ),
        ] = None,
    ) -> None:
        """One HTML file an association can publish: fee burden per platform, the share
        of members depending on one platform, compliance cost per employee against large
        firms; k-anonymous aggregates only, with what was suppressed named. The private
        ledger of which member was in which group (.evidence_ledger.parquet in DIR) keeps
        the next pack from being compared with this one to single out a member."""
        import pandas as pd

        from levelfield.cooperation._evidence import evidence_pack, render_evidence_html
        from levelfield.cooperation._partners import find_workspaces

        ledger_file = directory / ".evidence_ledger.parquet"
        ledger = pd.read_parquet(ledger_file) if ledger_file.is_file() else None
        pack = evidence_pack(find_workspaces(directory), k=k, ledger=ledger)
        page = render_evidence_html(pack, title)
        for path, write in (
            (output, lambda p: p.write_text(page, encoding="utf-8")),
            (ledger_file, lambda p: pack.ledger.to_parquet(p, index=False)),
        ):
            tmp = path.with_name(f".{path.name}.tmp")
            write(tmp)
            tmp.replace(path)
        s = pack.summary()
        console.print(
            f"Wrote {output}: {s['members']} members, k = {s['k']}; {s['published']} "
            f"aggregate(s) published, {s['suppressed']} suppressed (named in the pack). "
            f"Private ledger: {ledger_file} (keep it; never publish it).",
            highlight=False,
        )

    @group.command("demo")
    @errors
    def demo_cmd(
        directory: Annotated[Path, typer.Argument(help="Folder to write the demo group in.")],
        group: Annotated[
            int | None,
            typer.Option(
                "--group",
                help="Build N (6-12) member workspaces through ingest too, with planted "
                "complementary pairs and one pair of rivals.",
            ),
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed of the demo group.")] = 0,
    ) -> None:
        """Write a demo buying group (purchases.csv, price_breaks.csv), or a whole group."""
        if group is None:
            p, b = write_demo_group(directory)
            console.print(
                f"Wrote {p} and {b}. Try: levelfield cooperate buying-group "
                f"--purchases {p} --price-breaks {b}",
                highlight=False,
            )
            return
        from levelfield.cooperation._group import build_demo_group

        demo = build_demo_group(directory, n=group, seed=seed)
        d = demo.directory
        console.print(
            f"Wrote a demo group of {len(demo.members)} businesses to {d} (one workspace "
            f"each, built through ingest; group key {demo.group_key.name}). Try:\n"
            f"  levelfield cooperate partners {d} --group-key {demo.group_key}\n"
            f"  levelfield cooperate buying-group --purchases {demo.purchases} "
            f"--price-breaks {demo.price_breaks} --workspaces {d}\n"
            f"  levelfield cooperate evidence-pack {d} -o {d / 'evidence.html'}",
            highlight=False,
        )
