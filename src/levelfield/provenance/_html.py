"""The one-file HTML page a customer opens: the record, its proofs, and a verifier.

The page embeds the export JSON and checks it itself with WebCrypto (Ed25519 and
SHA-256): no network, no CDN (a Content-Security-Policy forbids any request). The QR
code (made locally with ``segno``) points at where the owner publishes the page, with
the signing key's fingerprint in the URL fragment so that the page opened from the QR
code checks the key printed on the package, not just the key inside the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import segno

__all__ = ["qr_target", "render_export_html", "write_export_html"]


def qr_target(export: Mapping[str, Any]) -> str | None:
    """The URL the QR code encodes: the publication URL plus ``#key=<fingerprint>``."""
    url = export.get("url")
    if not url:
        return None
    return f"{str(url).split('#', 1)[0]}#key={export['tree_head']['key']}"


def render_export_html(export: Mapping[str, Any]) -> str:
    """The self-verifying HTML page for an export (see :func:`build_export`)."""
    template_text = resources.files("levelfield.provenance").joinpath("export.html").read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    target = qr_target(export)
    qr_svg = segno.make(target, error="m").svg_inline(scale=3) if target else None
    # "<" escaped so that no string in the record can close the <script> element.
    export_json = json.dumps(export, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")
    return env.from_string(template_text).render(
        lot=export.get("lot"),
        business=export.get("business"),
        qr_svg=qr_svg,
        qr_url=target,
        export_json=export_json,
    )


def write_export_html(export: Mapping[str, Any], path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (HTML) and the same export as ``path`` with ``.json``; atomically."""
    html_path = Path(path)
    json_path = html_path.with_suffix(".json")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    for target, text in (
        (json_path, json.dumps(export, ensure_ascii=False, indent=1, sort_keys=True) + "\n"),
        (html_path, render_export_html(export)),
    ):
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    return html_path, json_path
