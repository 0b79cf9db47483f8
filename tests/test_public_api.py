"""The public surface of every package, checked once (replaces one copy per package).

For levelfield and each of its subpackages: ``__all__`` has no duplicates, every name in it
resolves, and every public name the package defines (not a submodule) is in ``__all__``.
Also: library code raises levelfield's errors, never a bare ``ValueError``/``KeyError``
/``RuntimeError`` (which the CLI would report as a bug instead of a message).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import levelfield

SUBPACKAGES = (m.name for m in pkgutil.iter_modules(levelfield.__path__, "levelfield.") if m.ispkg)
PACKAGES = ["levelfield", *sorted(SUBPACKAGES)]
SRC = Path(levelfield.__file__).parent


def _own(value: object) -> bool:
    """False for names imported from outside levelfield (``Any``, ``Mapping``, ...)."""
    if not callable(value):  # constants (tuples, paths, strings) belong to the package
        return True
    home = getattr(value, "__module__", None)
    return not isinstance(home, str) or home.startswith("levelfield")


@pytest.mark.parametrize("name", PACKAGES)
def test_all_matches_the_public_names(name: str) -> None:
    mod = importlib.import_module(name)
    exported = list(mod.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    for item in exported:
        assert hasattr(mod, item), f"{name}.__all__ lists {item!r}, which is not defined"
    public = {
        k
        for k, v in vars(mod).items()
        if not k.startswith("_") and not isinstance(v, types.ModuleType) and _own(v)
    } - {"annotations"}
    assert public == {e for e in exported if not e.startswith("__")}, (
        f"{name}: public names not in __all__ or vice versa"
    )


def test_every_package_is_checked() -> None:
    for must in ("customers", "pricing", "exposure", "landscape", "scenarios", "ingest"):
        assert f"levelfield.{must}" in PACKAGES


BARE = {"ValueError", "KeyError", "RuntimeError"}


def _bare_raises(path: Path, root: Path = SRC) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BARE:
                found.append(f"{path.relative_to(root)}:{node.lineno} raises {exc.id}")
    return found


def test_library_raises_levelfield_errors_not_bare_builtins() -> None:
    found = [hit for p in sorted(SRC.rglob("*.py")) for hit in _bare_raises(p)]
    assert found == []


def test_the_bare_raise_scan_finds_one(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f(x):\n    if x:\n        raise ValueError('no')\n    raise KeyError\n")
    assert sorted(h.split(" ", 1)[1] for h in _bare_raises(src, tmp_path)) == [
        "raises KeyError",
        "raises ValueError",
    ]


def test_no_package_loads_typer_on_import() -> None:
    """Command modules (``_cli.py``) are imported by ``levelfield.cli`` only.

    (Rich is not checked here: scikit-learn itself imports it; import-linter checks that no
    levelfield module outside the CLI does.)
    """
    import subprocess
    import sys

    names = [n for n in PACKAGES if n != "levelfield.fleet"]  # fleet needs pyspark
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "print('typer' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
