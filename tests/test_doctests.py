"""The ``Examples`` sections of the public helpers run as doctests in ``make test``."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "levelfield._estimator",
    "levelfield.findings",
    "levelfield.exposure._alternatives",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no Examples to run"
    assert result.failed == 0
