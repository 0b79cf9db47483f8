"""Functions a reader can hold (issue #17): none over 80 lines of code without a reason.

The docstring does not count (long parameter documentation is welcome); a longer function
says why in its docstring, with a sentence starting "Long because", "Long by design" or
"Longer than" (FastAPI router factories whose routes are closures, a generated SQL
statement kept whole). Everything else is split into named stages that can be tested alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import levelfield

SRC = Path(levelfield.__file__).parent
LIMIT = 80
REASON = re.compile(r"(^|[.:] |\n\s*)Long(er)? ")


def _too_long(path: Path, root: Path = SRC) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assert node.end_lineno is not None
        length = node.end_lineno - node.lineno + 1
        doc = ast.get_docstring(node) or ""
        if doc:
            first = node.body[0]
            assert first.end_lineno is not None
            length -= first.end_lineno - first.lineno + 1
        if length > LIMIT and not REASON.search(doc):
            found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_80_lines_without_a_reason() -> None:
    found = [hit for p in sorted(SRC.rglob("*.py")) for hit in _too_long(p)]
    assert found == []


def test_the_length_scan_counts_code_not_docstrings(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT - 1))  # + the def line: 80
    doc = '    """Doc.\n\n' + "    more\n" * 30 + '    """\n'
    src = tmp_path / "m.py"
    src.write_text(
        f"def fits():\n{doc}{body}"
        f"def over():\n{body}    return 1\n"
        f'def excused():\n    """Long because it is a test."""\n{body}    return 1\n'
    )
    assert [h.split(" ")[1] for h in _too_long(src, tmp_path)] == ["over"]
