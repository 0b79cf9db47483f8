"""The workspace: a DuckDB file holding the canonical tables, ledgers and run history."""

from levelfield.workspace._schema import DATA_TABLES, MONEY, SCHEMA_VERSION
from levelfield.workspace._workspace import DEFAULT_WORKSPACE, Workspace, open_workspace, to_json

__all__ = [
    "DATA_TABLES",
    "DEFAULT_WORKSPACE",
    "MONEY",
    "SCHEMA_VERSION",
    "Workspace",
    "open_workspace",
    "to_json",
]
