"""Render :class:`ReportData` as one self-contained HTML file (Jinja2 + inlined Plotly)."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from levelfield.findings import AnalysisResult, ProgressCallback, no_progress
from levelfield.report._data import ReportData, build_report_data
from levelfield.report._output import check_output_file
from levelfield.report._peers import peer_section, read_peer_release
from levelfield.workspace import Workspace

__all__ = [
    "TEMPLATE_DIR",
    "asset_text",
    "make_environment",
    "plotly_js",
    "render_report",
    "report_csp",
    "script_json",
    "write_report",
]

#: Folder of the report's templates and the CSS/JS shared with the web app.
TEMPLATE_DIR = Path(str(resources.files("levelfield.report") / "templates"))

_SEVERITY_LABEL = {
    "critical": "Act now",
    "warning": "Needs attention",
    "watch": "Watch",
    "good": "Strength",
    "info": "Note",
}


def script_json(text: str) -> Markup:
    """JSON text safe inside ``<script type="application/json">`` (no ``</script>``)."""
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _tojson_script(value: object) -> Markup:
    return script_json(json.dumps(value))


@functools.cache
def plotly_js() -> str:
    """Plotly's JavaScript bundle from the installed ``plotly`` package (no network)."""
    from plotly.offline import get_plotlyjs

    js: str = get_plotlyjs()
    # Never let the bundle close the <script> element it is inlined in.
    return js.replace("</script", "<\\/script")


@functools.cache
def _charts_js() -> str:
    return asset_text("charts.js").replace("</script", "<\\/script")


def _script_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@functools.cache
def report_csp() -> str:
    """The report's Content-Security-Policy: only its own two inline scripts may run.

    Scripts are allowed by their SHA-256 hashes (CSP level 2), so a script injected
    into the report (by a bug, or by editing the file) does not run; forms cannot
    submit anywhere (``form-action 'none'``), nothing is fetched (``connect-src
    'none'``) and nothing loads from elsewhere. ``navigate-to`` is not used: no
    browser implements it (it left the CSP 3 draft), so links stay possible, but
    nothing that could follow them runs. Plotly needs inline styles.
    """
    scripts = " ".join(_script_hash(t) for t in (plotly_js(), _charts_js()))
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; "
        "base-uri 'none'; object-src 'none'"
    )


@functools.cache
def asset_text(name: str) -> str:
    """A CSS/JS asset shared by the report and the web app (``report.css``, ``charts.js``)."""
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def make_environment(*extra_dirs: Path) -> jinja2.Environment:
    """A Jinja2 environment with the report templates (after any ``extra_dirs``)."""
    loader = jinja2.FileSystemLoader([str(d) for d in extra_dirs] + [str(TEMPLATE_DIR)])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "j2", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["script_json"] = script_json
    env.filters["tojson_script"] = _tojson_script
    env.globals["severity_label"] = _SEVERITY_LABEL
    return env


@functools.cache
def _environment() -> jinja2.Environment:
    return make_environment()


def render_report(data: ReportData) -> str:
    """The report's HTML text: inline CSS and JavaScript, no external requests."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        css=Markup(asset_text("report.css")),
        charts_js=Markup(_charts_js()),
        plotly_js=Markup(plotly_js()),
        csp=report_csp(),
    )


def write_report(
    ws: Workspace,
    output: str | Path,
    *,
    progress: ProgressCallback = no_progress,
    results: Mapping[str, AnalysisResult] | None = None,
    peers: str | Path | None = None,
) -> Path:
    """Write the one-file HTML report for ``ws`` and return its path.

    Runs every analysis not given in ``results`` (analysis name -> result) and the
    advice playbook; analyses that cannot run yet appear as "not yet analysed" with the
    reason. The file has inline CSS, Plotly's JavaScript from the installed package and
    no external requests, so it opens offline and on a phone.

    Parameters
    ----------
    ws
        The workspace to report on.
    output
        HTML file to write (its folder is created when missing).
    progress
        ``progress(step, fraction)`` callback.
    results
        Results already computed, by analysis name (``"customers"``, ...).
    peers
        A peer release (``peer_benchmarks.parquet`` of ``levelfield fleet run``): adds the
        "Among your peers" section (:func:`levelfield.report.peer_positions`), placed by
        the business profile's ``sector``, ``region`` and ``size_band``.

    Raises
    ------
    ConfigError
        ``output`` is an existing folder.
    """
    out = Path(output)
    check_output_file(out)  # before the analyses, which may take minutes
    release = read_peer_release(peers) if peers is not None else None
    data, raw = build_report_data(ws, progress=progress, results=results)
    if release is not None:
        own = [f for name, r in raw.items() if name != "advice" for f in r.findings()]
        profile = {k: ws.get_business(k) for k in ("sector", "region", "size_band")}
        data = dataclasses.replace(
            data, sections=(*data.sections, peer_section(release, profile, own))
        )
    html = render_report(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
