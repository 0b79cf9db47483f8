"""The buying group's evidence pack: one HTML file a treasurer can hand to the members.

No script and a ``default-src 'none'`` policy: it opens offline and prints. It names the
two input files with their SHA-256 (members can check the numbers came from the files
they agreed on), the pooled items, the three splits side by side, the core check of each
and the notes, with what each split means.
"""

from __future__ import annotations

import datetime as dt
import html
import math

from levelfield.cooperation._buying import BuyingGroupResult
from levelfield.cooperation._sentences import (
    RULES,
    core_sentences,
    item_sentences,
    recommendation,
)

__all__ = ["PACK_CSP", "render_buying_pack"]

PACK_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}"
    "td.n{text-align:right}.muted{color:#555}"
)


def _money(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:,.2f}"


def _members_table(result: BuyingGroupResult) -> str:
    se = result.shapley_se
    rows = []
    for i, r in enumerate(result.members.to_dict("records")):
        shap = _money(float(r["shapley"])) + (f" ± {se[i]:,.2f}" if se is not None else "")
        cells = [
            html.escape(str(r["member"])),
            f"{float(r['volume_share']):.0%}",
            _money(float(r["today"])),
            _money(float(r["proportional"])),
            shap,
            _money(float(r["nucleolus"])),
        ]
        rows.append(
            "<tr><td>" + cells[0] + "</td>" + "".join(f'<td class="n">{c}</td>' for c in cells[1:])
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Member", "Share of volume", "Pays today", "By volume", "Shapley", "Nucleolus")
    )
    return (
        f'<table id="pack-members"><thead><tr>{head}</tr></thead><tbody>'
        + "</tr>".join(rows)
        + "</tr></tbody></table>"
    )


def render_buying_pack(
    result: BuyingGroupResult, inputs: list[tuple[str, str]], title: str = "Buying group"
) -> str:
    """The pack as one HTML page; ``inputs`` are (file name, SHA-256) of the two files."""

    def para(lines: list[str]) -> str:
        return "".join(f"<p>{html.escape(line)}</p>" for line in lines)

    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    files = "".join(
        f"<li>{html.escape(name)}: SHA-256 <code>{html.escape(sha)}</code></li>"
        for name, sha in inputs
    )
    rules = "".join(
        f"<li><strong>{html.escape(k)}</strong>: {html.escape(v)}</li>" for k, v in RULES.items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{PACK_CSP}">'
        f"<title>{html.escape(title)}: evidence pack</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}: evidence pack</h1>"
        f'<p class="muted">Made by levelfield on {when} from these files (amounts per year, in '
        f"the files' currency):</p><ul>{files}</ul>"
        f"<h2>What pooling buys</h2>{para(item_sentences(result))}"
        f"<p><strong>Total saving for the group: {_money(result.total_saving)} a year."
        "</strong></p>"
        f"<h2>Each member's saving under three ways to split it</h2>{_members_table(result)}"
        f"<p>Shapley value: {html.escape(result.shapley_method)}.</p><ul>{rules}</ul>"
        f'<h2>Is the split fair to every subgroup? (the core)</h2><div id="pack-core">'
        f"{para(core_sentences(result))}</div>"
        f"<p><strong>{html.escape(recommendation(result))}</strong></p>"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>"
    )
