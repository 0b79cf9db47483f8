"""Python warnings as one plain sentence, for people rather than programmers.

Python prints a warning as ``/path/_analyze.py:508: ConvergenceWarning: message`` with
the source line below it. The CLI, the report and the web app show the message alone,
as one sentence: ``Warning: the BG/NBD fit did not converge; ...``. This module sits
at the bottom of the layers (standard library only) so every interface can use it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["collect_plain_warnings", "plain_warning", "plain_warnings"]

_LOCATION = re.compile(r"^\s*(?:[\w./\\:-]+\.py):\d+:\s*")
_CLASS = re.compile(r"^\s*(?:[A-Z]\w*\.)*[A-Z]\w*(?:Warning|Error)\s*:\s*")


def plain_warning(message: Warning | str, category: type[Warning] | None = None) -> str:
    """One plain sentence for a warning: no file, line number, class name or newlines.

    Parameters
    ----------
    message
        The warning (instance or text, as ``warnings.showwarning`` receives it).
    category
        Its class; a ``DeprecationWarning`` is said to concern the software, not the data.

    Returns
    -------
    str
        ``"Warning: <sentence>."``
    """
    text = str(message)
    text = _LOCATION.sub("", text)
    text = _CLASS.sub("", text)
    text = " ".join(text.split())
    if not text:
        text = "a calculation reported a problem without saying which"
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    if category is not None and issubclass(category, DeprecationWarning | FutureWarning):
        return f"Warning (software, not your data): {text}"
    return f"Warning: {text}"


@contextmanager
def plain_warnings(echo: Callable[[str], None]) -> Iterator[None]:
    """Within the block, show each warning once as :func:`plain_warning` via ``echo``."""
    seen: set[str] = set()

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        sentence = plain_warning(message, category)
        if sentence not in seen:
            seen.add(sentence)
            echo(sentence)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@contextmanager
def collect_plain_warnings() -> Iterator[list[str]]:
    """Collect the warnings raised in the block as plain sentences (for pages and
    reports): ``with collect_plain_warnings() as notes: ...``; ``notes`` is filled when
    the block ends, each sentence once, in order."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield notes
    for w in caught:
        sentence = plain_warning(w.message, w.category)
        if sentence not in notes:
            notes.append(sentence)
