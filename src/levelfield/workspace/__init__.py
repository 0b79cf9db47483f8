"""The workspace: a DuckDB file holding the canonical tables, ledgers and run history."""

from levelfield.workspace._files import LOCK_TIMEOUT_ENV
from levelfield.workspace._files import is_writable as workspace_is_writable
from levelfield.workspace._fx import (
    COST_RATE_RULE,
    RATE_RULE,
    FxStatement,
    cost_statement,
    ecb_history,
    fx_statement,
    iso_currencies,
    latest_rates,
    pair_volatility,
    reference_currencies,
    sync_reference_rates,
)
from levelfield.workspace._group_tokens import GroupKey, group_token_sql, group_tokens
from levelfield.workspace._keys import KEY_DIR_ENV, KeyBackup, default_key_dir
from levelfield.workspace._keys import parse_backup as parse_key_backup
from levelfield.workspace._rivals import WHOLESALE_CHANNELS, RivalPrices, rival_prices
from levelfield.workspace._schema import DATA_TABLES, MONEY, SCHEMA_VERSION
from levelfield.workspace._settings import (
    SETTINGS,
    UNSET,
    Setting,
    SettingsStore,
    SettingValue,
    Unset,
    settings_of,
)
from levelfield.workspace._workspace import DEFAULT_WORKSPACE, Workspace, open_workspace, to_json

__all__ = [
    "COST_RATE_RULE",
    "DATA_TABLES",
    "DEFAULT_WORKSPACE",
    "KEY_DIR_ENV",
    "LOCK_TIMEOUT_ENV",
    "MONEY",
    "RATE_RULE",
    "SCHEMA_VERSION",
    "SETTINGS",
    "UNSET",
    "WHOLESALE_CHANNELS",
    "FxStatement",
    "GroupKey",
    "KeyBackup",
    "RivalPrices",
    "Setting",
    "SettingValue",
    "SettingsStore",
    "Unset",
    "Workspace",
    "cost_statement",
    "default_key_dir",
    "ecb_history",
    "fx_statement",
    "group_token_sql",
    "group_tokens",
    "iso_currencies",
    "latest_rates",
    "open_workspace",
    "pair_volatility",
    "parse_key_backup",
    "reference_currencies",
    "rival_prices",
    "settings_of",
    "sync_reference_rates",
    "to_json",
    "workspace_is_writable",
]
