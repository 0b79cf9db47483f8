"""The ``Examples`` sections of levelfield's docstrings run as doctests in ``make test``.

Every module whose source holds an example (``>>>``) is collected, so a new example
runs without being listed here; ``REQUIRED`` names the public kernels that must keep
one (a reader's first contact with each package's numerical core).
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import levelfield

SRC = Path(levelfield.__file__).parent


def _modules_with_examples() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            rel = path.relative_to(SRC.parent).with_suffix("")
            out.append(".".join(p for p in rel.parts if p != "__init__"))
    return out


MODULES = _modules_with_examples()

#: (module, public name) pairs whose docstrings must carry an ``Examples`` section.
REQUIRED = [
    ("levelfield.findings", "money"),
    ("levelfield.financing._apr", "apr"),
    ("levelfield.exposure._kernels", "hhi"),
    ("levelfield.exposure._kernels", "top_share"),
    ("levelfield.cooperation._shapley", "shapley_exact"),
    ("levelfield.cooperation._core", "core_check"),
    ("levelfield.provenance._jcs", "canonicalize"),
    ("levelfield.provenance._merkle", "MerkleTree"),
    ("levelfield.pricing._experiments", "two_proportion_ztest"),
    ("levelfield.landscape._kernels", "strategic_homogeneity"),
    ("levelfield.customers._summary", "summarize_transactions"),
    ("levelfield.customers._value", "net_promoter_score"),
]


def test_every_required_kernel_has_examples() -> None:
    missing = [
        f"{mod}.{name}"
        for mod, name in REQUIRED
        if "Examples\n" not in (getattr(importlib.import_module(mod), name).__doc__ or "")
    ]
    assert not missing, f"no Examples section in: {', '.join(missing)}"
    assert {mod for mod, _ in REQUIRED} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0, f"{name} has no Examples to run"
    assert result.failed == 0
