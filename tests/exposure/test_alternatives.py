"""One reading of ``suppliers.alternatives`` for exposure and scenarios (issue 17 item 4)."""

from __future__ import annotations

import duckdb
import pytest

from levelfield.exposure import NO_ALTERNATIVE_WORDS, _metrics, alternatives_count_sql
from levelfield.scenarios import _model


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (None, None),
        ("  ", None),
        ("n/a", 0),  # exposure read this as 0 and scenarios as "has alternatives"
        ("FALSE", 0),  # exposure read this as one alternative, scenarios as none
        ("none", 0),
        ("0", 0),
        ("-2", 0),
        ("2", 2),
        ("Yes", 1),
        ("Acme; Brix | Cole,", 3),
    ],
)
def test_alternatives_count(text: str | None, count: int | None) -> None:
    got = duckdb.sql(
        f"SELECT {alternatives_count_sql('a')} FROM (SELECT ?::VARCHAR AS a)", params=[text]
    ).fetchall()[0][0]
    assert got == count


def test_every_no_word_is_zero() -> None:
    for word in NO_ALTERNATIVE_WORDS:
        sql = f"SELECT {alternatives_count_sql('a')} FROM (SELECT ?::VARCHAR AS a)"
        assert duckdb.sql(sql, params=[f" {word.upper()} "]).fetchall()[0][0] == 0


def test_exposure_and_scenarios_use_the_same_reading() -> None:
    assert _metrics.alternatives_count_sql is alternatives_count_sql
    assert _model.alternatives_count_sql is alternatives_count_sql
