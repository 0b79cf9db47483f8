"""Reading and checking the buying-group inputs: members' purchases and suppliers' price breaks.

Both are small CSV files (one row per member × supplier × item, one row per tier); errors
name the file, the row (as a spreadsheet shows it: the header is row 1) and the column.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from levelfield.errors import DataError, InsufficientDataError, ParseError, SchemaError

__all__ = [
    "PRICE_BREAK_COLUMNS",
    "PURCHASE_COLUMNS",
    "TEMPLATES",
    "check_price_breaks",
    "check_purchases",
    "read_price_breaks",
    "read_purchases",
    "template_csv",
]

PURCHASE_COLUMNS = ("member", "supplier", "item", "annual_volume", "unit_price")
PRICE_BREAK_COLUMNS = ("supplier", "item", "min_volume", "unit_price")

_PURCHASE_EXAMPLE: list[tuple[str, ...]] = [
    ("Bean There Cafe", "Nordic Roast Supply", "espresso beans 1 kg", "600", "21.50"),
    ("Corner Bakery", "Nordic Roast Supply", "espresso beans 1 kg", "250", "22.90"),
    ("Corner Bakery", "PackRight", "paper cups 12 oz (1000)", "40", "68.00"),
]
_BREAK_EXAMPLE: list[tuple[str, ...]] = [
    ("Nordic Roast Supply", "espresso beans 1 kg", "0", "22.90"),
    ("Nordic Roast Supply", "espresso beans 1 kg", "500", "20.40"),
    ("Nordic Roast Supply", "espresso beans 1 kg", "1000", "18.90"),
    ("PackRight", "paper cups 12 oz (1000)", "0", "68.00"),
    ("PackRight", "paper cups 12 oz (1000)", "100", "59.00"),
]
TEMPLATES: dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]] = {
    "purchases": (PURCHASE_COLUMNS, _PURCHASE_EXAMPLE),
    "price_breaks": (PRICE_BREAK_COLUMNS, _BREAK_EXAMPLE),
}


def template_csv(kind: str) -> str:
    """CSV template (header and example rows) for ``purchases`` or ``price_breaks``."""
    header, rows = TEMPLATES[kind]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig"
        )
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; save it as 'CSV UTF-8' and retry") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    return frame


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    if "item" not in frame.columns and "category" in frame.columns:
        frame = frame.rename(columns={"category": "item"})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{name}: missing column(s) {', '.join(missing)}; the header must have "
            f"{', '.join(columns)} (see 'levelfield template')"
        )
    if frame.empty:
        raise InsufficientDataError(f"{name}: no rows below the header")
    out = frame.loc[:, list(columns)].copy()
    for col in columns:
        out[col] = out[col].astype(str).str.strip()
    return out


def _numbers(frame: pd.DataFrame, col: str, name: str, *, positive: bool) -> np.ndarray:
    raw = frame[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0 if positive else values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "a positive number" if positive else "a number of 0 or more"
        raise ParseError(
            f'{name} row {i + 2}, column "{col}": {raw.iloc[i]!r} is not {what} '
            f"({int(bad.sum())} such row(s)); use digits with a decimal point, no currency sign"
        )
    return values


def _blank_names(frame: pd.DataFrame, cols: tuple[str, ...], name: str) -> None:
    for col in cols:
        blank = (frame[col] == "").to_numpy()
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise DataError(f'{name} row {i + 2}, column "{col}": empty; fill in a name')


def check_purchases(frame: pd.DataFrame, name: str = "purchases") -> pd.DataFrame:
    """Validated purchases, one row per member × supplier × item (duplicates summed).

    Returns columns ``member, supplier, item, annual_volume, spend`` where ``spend`` is
    ``annual_volume × unit_price`` (currency per year).
    """
    frame = _require(frame, PURCHASE_COLUMNS, name)
    _blank_names(frame, ("member", "supplier", "item"), name)
    volume = _numbers(frame, "annual_volume", name, positive=False)
    price = _numbers(frame, "unit_price", name, positive=True)
    frame = frame.assign(annual_volume=volume, spend=volume * price).drop(columns="unit_price")
    out = frame.groupby(["member", "supplier", "item"], as_index=False, sort=True).sum()
    if out["member"].nunique() < 2:
        raise InsufficientDataError(
            f"{name}: a buying group needs purchases of at least 2 members; "
            f"found {out['member'].nunique()}"
        )
    return out


def check_price_breaks(frame: pd.DataFrame, name: str = "price_breaks") -> pd.DataFrame:
    """Validated price breaks, sorted by supplier, item and ``min_volume``.

    A tier applies to the whole volume once ``min_volume`` is reached (all-units
    discount); prices may not rise with volume.
    """
    frame = _require(frame, PRICE_BREAK_COLUMNS, name)
    _blank_names(frame, ("supplier", "item"), name)
    frame = frame.assign(
        min_volume=_numbers(frame, "min_volume", name, positive=False),
        unit_price=_numbers(frame, "unit_price", name, positive=True),
        row=np.arange(len(frame)) + 2,
    ).sort_values(["supplier", "item", "min_volume"], kind="stable")
    key = ["supplier", "item"]
    dup = frame.duplicated([*key, "min_volume"], keep="first").to_numpy()
    if dup.any():
        r = frame.iloc[int(np.flatnonzero(dup)[0])]
        raise DataError(
            f'{name} row {r["row"]}, column "min_volume": a second tier at {r["min_volume"]:g} '
            f"for {r['supplier']} / {r['item']}; keep one price per tier"
        )
    rises = (frame.groupby(key, sort=False)["unit_price"].diff() > 0).to_numpy()
    if rises.any():
        r = frame.iloc[int(np.flatnonzero(rises)[0])]
        raise DataError(
            f'{name} row {r["row"]}, column "unit_price": {r["unit_price"]:g} is higher than '
            f"the price of a smaller tier for {r['supplier']} / {r['item']}; "
            "prices must not rise with volume"
        )
    return frame.reset_index(drop=True)


def read_purchases(path: Path) -> pd.DataFrame:
    """Read a purchases CSV; errors name the file, row and column.

    Returns the rows as read (text), checked by :func:`check_purchases`.
    """
    frame = _read_csv(Path(path))
    check_purchases(frame, Path(path).name)
    return frame


def read_price_breaks(path: Path) -> pd.DataFrame:
    """Read a price-breaks CSV; errors name the file, row and column.

    Returns the rows as read (text), checked by :func:`check_price_breaks`.
    """
    frame = _read_csv(Path(path))
    check_price_breaks(frame, Path(path).name)
    return frame
