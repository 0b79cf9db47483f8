"""The one reading of ``suppliers.alternatives`` (a free-text column in exports).

Exposure owns the supplier concept; scenarios uses this through exposure's public API.
"""

from __future__ import annotations

__all__ = ["NO_ALTERNATIVE_WORDS", "alternatives_count_sql"]

#: Words that mean "no known alternative supplier" (case and blanks ignored).
NO_ALTERNATIVE_WORDS = ("none", "no", "-", "n/a", "na", "false", "nein", "aucun")


def alternatives_count_sql(column: str) -> str:
    """DuckDB expression: number of known alternative suppliers in text column ``column``.

    Empty or NULL is unknown (NULL); a word of :data:`NO_ALTERNATIVE_WORDS` is 0; a whole
    number is that number (negative read as 0); ``yes``/``true`` is 1 (at least one);
    anything else is a list of names separated by ``;``, ``,`` or ``|`` and counts its
    non-empty items.

    Examples
    --------
    >>> import duckdb
    >>> vals = ["", "n/a", "FALSE", "3", "yes", "Acme; Brix, Cole", None]
    >>> rel = duckdb.sql(
    ...     "SELECT " + alternatives_count_sql("a") + " AS n FROM "
    ...     "(SELECT unnest(?::VARCHAR[]) AS a, generate_subscripts(?::VARCHAR[], 1) AS i) "
    ...     "ORDER BY i", params=[vals, vals])
    >>> [r[0] for r in rel.fetchall()]
    [None, 0, 0, 3, 1, 3, None]
    """
    c = f"lower(trim({column}))"
    words = ", ".join(f"'{w}'" for w in NO_ALTERNATIVE_WORDS)
    return (
        f"(CASE WHEN {column} IS NULL OR {c} = '' THEN NULL "
        f"WHEN {c} IN ({words}) THEN 0 "
        f"WHEN {c} IN ('yes', 'true', 'y') THEN 1 "
        f"WHEN TRY_CAST({c} AS INTEGER) IS NOT NULL THEN greatest(TRY_CAST({c} AS INTEGER), 0) "
        f"ELSE CAST(len(list_filter(string_split_regex({column}, '[;,|]'), "
        f"lambda x: trim(x) <> '')) AS INTEGER) END)"
    )
