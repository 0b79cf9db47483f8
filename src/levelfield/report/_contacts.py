"""Lists to act on: the customers of a segment with their e-mails, never stored in clear.

The workspace knows customers only by keyed pseudonyms. :func:`contact_list` re-reads the
owner's own export files (:func:`levelfield.ingest.read_contacts`), finds each customer's
pseudonym, joins the customer model's outputs (segment, P(alive) with its interval,
expected value with its interval, the expected next purchase date) and lays the rows out
for the tool the owner imports them into:

``csv``
    every column, lower-case names.
``klaviyo``
    ``Email`` first (Klaviyo wants Email, Email Address or Phone Number as the first
    column), ``First Name``, ``Last Name`` (Klaviyo's own properties), then custom
    properties named ``levelfield ...``; dates ``YYYY-MM-DD``, numbers without symbols.
``mailchimp``
    ``Email Address`` (the one required column), ``First Name``, ``Last Name``, ``Tags``
    (``levelfield-<segment>``) and text fields; dates ``YYYY-MM-DD``.
``shopify``
    Shopify's customer CSV columns ``First Name``, ``Last Name``, ``Email`` (required
    column, may be blank), ``Phone``, ``Tags`` and ``Note``; Shopify ignores other columns,
    so the model outputs go into the note.

Klaviyo and Mailchimp rows need an e-mail: customers whose exports carry none (Etsy) are
left out of those layouts and counted. :func:`write_contacts` writes the file atomically
with owner-only permissions (0600); text a spreadsheet would run as a formula is
neutralised (:func:`~levelfield.report.safe_frame`).

References
----------
Klaviyo, "How to create and add subscribers to a new list" (CSV formatting requirements),
https://help.klaviyo.com/hc/en-us/articles/115005078967
Mailchimp, "Format Guidelines for Your Import File",
https://mailchimp.com/help/format-guidelines-for-your-import-file/
Shopify Help Center, "Using CSV files to import and export customers" (customer CSV
columns; Email required, may be blank).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levelfield.customers import RFM_SEGMENTS, CustomersResult
from levelfield.errors import ConfigError, DataError, InsufficientDataError
from levelfield.ingest import read_contacts
from levelfield.pipeline import run_analysis
from levelfield.report._cells import safe_frame
from levelfield.workspace import Workspace

__all__ = [
    "CONTACT_FORMATS",
    "CONTACT_SEGMENTS",
    "PERSONAL_DATA_WARNING",
    "ContactList",
    "ContactSource",
    "contact_list",
    "write_contacts",
]

#: Import layouts ``--format`` accepts.
CONTACT_FORMATS: tuple[str, ...] = ("csv", "klaviyo", "mailchimp", "shopify")


def _slug(name: str) -> str:
    return name.replace("'", "").replace(" ", "-")


#: ``--segment`` values: each RFM segment by its slug (``at-risk``, ``cant-lose``, ...),
#: ``win-back`` (lapsed customers worth a message: can't lose, at risk, about to sleep,
#: hibernating) and ``all``.
CONTACT_SEGMENTS: dict[str, tuple[str, ...]] = {
    **{_slug(name): (name,) for name, _ in RFM_SEGMENTS},
    "win-back": ("can't lose", "at risk", "about to sleep", "hibernating"),
    "all": tuple(name for name, _ in RFM_SEGMENTS),
}

PERSONAL_DATA_WARNING = (
    "This file holds personal data (e-mail addresses and names) of your customers. Keep it "
    "private, import it into your e-mail tool, then delete it; levelfield keeps no copy."
)


@dataclass(frozen=True)
class ContactSource:
    """One of the owner's export files and the options it was imported with."""

    path: Path
    profile: str | None = None
    mapping: Mapping[str, str] | Sequence[str] | None = None
    sheet: str | None = None
    dayfirst: bool | None = None
    date_format: str | None = None
    decimal_comma: bool | None = None
    currency: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class ContactList:
    """A segment's customers, laid out for one import tool (held in memory only).

    Attributes
    ----------
    frame
        The rows in the layout of ``fmt`` (clear e-mails and names).
    matched
        Customers of the workspace found in the files (any segment).
    in_segment
        Of those, customers in the chosen segments.
    without_email
        Customers of the segment left out because the files give no e-mail (Klaviyo,
        Mailchimp) or neither e-mail nor name (Shopify, csv keeps them).
    notes
        Plain sentences for the owner (what the model cannot tell, who was left out).
    """

    frame: pd.DataFrame
    fmt: str
    segments: tuple[str, ...]
    matched: int
    in_segment: int
    without_email: int
    files: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def to_csv(self) -> bytes:
        """The CSV bytes (UTF-8, comma separated, formulas neutralised)."""
        text: str = safe_frame(self.frame).to_csv(index=False, lineterminator="\r\n")
        return text.encode("utf-8")


def _check(segments: Iterable[str], fmt: str) -> tuple[str, ...]:
    if fmt not in CONTACT_FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(CONTACT_FORMATS)}, not {fmt!r}")
    chosen = tuple(dict.fromkeys(s.strip().lower() for s in segments))
    if not chosen:
        raise ConfigError("choose a segment with --segment, e.g. --segment at-risk")
    bad = [s for s in chosen if s not in CONTACT_SEGMENTS]
    if bad:
        raise ConfigError(
            f"unknown segment {', '.join(repr(b) for b in bad)}; choose from "
            + ", ".join(CONTACT_SEGMENTS)
        )
    return chosen


def _people(
    ws: Workspace, sources: Sequence[ContactSource], known: np.ndarray[Any, Any]
) -> pd.DataFrame:
    """Customers of all files, one row per pseudonym (newest file's e-mail first)."""
    frames = []
    for src in sources:
        rows = read_contacts(
            ws,
            src.path,
            profile=src.profile,
            mapping=src.mapping,
            sheet=src.sheet,
            dayfirst=src.dayfirst,
            date_format=src.date_format,
            decimal_comma=src.decimal_comma,
            currency=src.currency,
            display_name=src.display_name,
        )
        found = rows.frame[rows.frame["customer_id"].isin(known)]
        if found.empty:
            raise DataError(
                f"{rows.source_name}: none of its {len(rows.frame):,} customers is a customer "
                "of this workspace, so this export does not belong to it (or was imported into "
                "another workspace, whose pseudonym key differs). Give the export files you "
                "imported into this workspace, with the options you imported them with "
                "(e.g. --map)"
            )
        frames.append(found)
    allrows = pd.concat(frames, ignore_index=True).sort_values("last_seen", ascending=False)
    return allrows.groupby("customer_id", sort=True).first()


def _split_names(people: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Whole, first and last name: the file's own columns first, else the whole name split."""
    name = people["name"]
    parts = name.str.strip().str.split(n=1, expand=True, regex=False)
    first_guess = parts[0] if 0 in parts else pd.Series(pd.NA, index=name.index)
    last_guess = parts[1] if 1 in parts else pd.Series(pd.NA, index=name.index)
    first = people["first_name"].fillna(first_guess)
    last = people["last_name"].fillna(last_guess)
    joined = (first.fillna("") + " " + last.fillna("")).str.strip()
    whole = name.fillna(joined.where(joined != ""))
    return whole, first, last


def _base(people: pd.DataFrame, cust: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The full contact table: one row per customer of the segment (csv layout)."""
    whole, first, last = _split_names(people)
    c = cust.loc[people.index]
    nxt = pd.to_datetime(c["next_purchase_date"])
    return pd.DataFrame(
        {
            "email": people["email"],
            "name": whole,
            "first_name": first,
            "last_name": last,
            "segment": c["segment"],
            "p_alive": c["p_alive"].round(3),
            "p_alive_low": c["p_alive_lower"].round(3),
            "p_alive_high": c["p_alive_upper"].round(3),
            "expected_value": c["clv"].round(2),
            "expected_value_low": c["clv_lower"].round(2),
            "expected_value_high": c["clv_upper"].round(2),
            "currency": currency,
            "next_purchase_date": nxt.dt.strftime("%Y-%m-%d"),
            "customer_key": people.index,
        },
        index=people.index,
    ).sort_values(["expected_value", "customer_key"], ascending=[False, True])


def _fixed(x: pd.Series, digits: int) -> pd.Series:
    """Numbers as text with ``digits`` decimals; ``n/a`` where missing."""
    return x.map(f"{{:.{digits}f}}".format, na_action="ignore").fillna("n/a").astype(str)


def _shopify_note(base: pd.DataFrame, today: dt.date) -> pd.Series:
    """The model's outputs as one sentence per customer, for Shopify's Note column."""
    if not len(base):
        return pd.Series([], dtype=object)
    text = f"levelfield {today:%Y-%m-%d}: " + base["segment"].astype(str)
    p = (
        "; P(still a customer) " + _fixed(base["p_alive"], 2) + " ("
        + _fixed(base["p_alive_low"], 2) + "-" + _fixed(base["p_alive_high"], 2) + ")"
    )  # fmt: skip
    text = text + p.where(base["p_alive"].notna(), "")
    text = (
        text + "; expected value " + base["currency"].astype(str) + " "
        + _fixed(base["expected_value"], 2) + " (" + _fixed(base["expected_value_low"], 2)
        + "-" + _fixed(base["expected_value_high"], 2) + ")"
    )  # fmt: skip
    nxt = "; next purchase expected around " + base["next_purchase_date"].astype(str)
    return text + nxt.where(base["next_purchase_date"].notna(), "")


_MODEL_COLUMNS = {
    "segment": "segment",
    "p_alive": "p alive",
    "p_alive_low": "p alive low",
    "p_alive_high": "p alive high",
    "expected_value": "expected value",
    "expected_value_low": "expected value low",
    "expected_value_high": "expected value high",
    "currency": "currency",
    "next_purchase_date": "next purchase date",
}


def _layout(base: pd.DataFrame, fmt: str, today: dt.date) -> pd.DataFrame:
    """``base`` in the columns of ``fmt``."""
    if fmt == "csv":
        return base.reset_index(drop=True)
    model = {f"levelfield {v}": base[k] for k, v in _MODEL_COLUMNS.items()}
    tag = "levelfield-" + base["segment"].map(_slug)
    if fmt == "klaviyo":
        cols = {"Email": base["email"], "First Name": base["first_name"]}
        cols["Last Name"] = base["last_name"]
        return pd.DataFrame({**cols, **model}).reset_index(drop=True)
    if fmt == "mailchimp":
        cols = {"Email Address": base["email"], "First Name": base["first_name"]}
        cols |= {"Last Name": base["last_name"], "Tags": tag}
        return pd.DataFrame({**cols, **model}).reset_index(drop=True)
    return pd.DataFrame(
        {
            "First Name": base["first_name"],
            "Last Name": base["last_name"],
            "Email": base["email"],
            "Phone": pd.Series(pd.NA, index=base.index, dtype=object),
            "Tags": tag,
            "Note": _shopify_note(base, today),
        }
    ).reset_index(drop=True)


def contact_list(
    ws: Workspace,
    sources: Sequence[ContactSource],
    *,
    segments: Iterable[str] = ("at-risk",),
    fmt: str = "csv",
    result: CustomersResult | None = None,
) -> ContactList:
    """The customers of ``segments`` found in the owner's export files.

    Parameters
    ----------
    ws
        The workspace (its pseudonym key must be present).
    sources
        The export files the customers were imported from.
    segments
        Keys of :data:`CONTACT_SEGMENTS` (``at-risk``, ``champions``, ``win-back``, ...).
    fmt
        One of :data:`CONTACT_FORMATS`.
    result
        A customers result already computed; else customers is run (and recorded).

    Raises
    ------
    ConfigError
        Unknown segment or format, no file given.
    DataError
        A file has no customer of this workspace (named in the message).
    """
    chosen = _check(segments, fmt)
    if not sources:
        raise ConfigError("give the export files your customers came from with --from FILE")
    known = np.asarray(
        [r[0] for r in ws.con.execute("SELECT DISTINCT customer_id FROM orders").fetchall()],
        dtype=object,
    )
    people = _people(ws, sources, known)
    if result is None:
        ran = run_analysis(ws, "customers")
        if not isinstance(ran, CustomersResult):
            raise InsufficientDataError(
                "the customer analysis of this workspace is the subscribers' sBG model "
                "(too few one-off orders for a purchase model), which has no per-customer "
                "segments to export; import the shop's orders first"
            )
        result = ran
    cust = result.customers
    people = people[people.index.isin(cust.index)]
    matched = len(people)
    names = {n for s in chosen for n in CONTACT_SEGMENTS[s]}
    people = people[cust.loc[people.index, "segment"].isin(names).to_numpy()]
    base = _base(people, cust, result.currency)
    keep = (
        base["email"].notna()
        if fmt in ("klaviyo", "mailchimp")
        else (base["email"].notna() | base["name"].notna())
    )
    notes: list[str] = []
    left_out = int((~keep).sum())
    if left_out:
        notes.append(
            f"{left_out:,} customers of the segment have no e-mail in these files "
            "(Etsy and Amazon give none) and are not in the list"
            if fmt in ("klaviyo", "mailchimp")
            else f"{left_out:,} customers of the segment have neither e-mail nor name in "
            "these files and are not in the list"
        )
    if not result.fit_quality.dropout_identified:
        notes.append(
            "the purchase history shows no measurable drop-out, so P(alive) cannot be told "
            "and is left blank; segments rest on recency, frequency and spend"
        )
    today = dt.datetime.now(dt.UTC).date()
    return ContactList(
        frame=_layout(base[keep], fmt, today),
        fmt=fmt,
        segments=chosen,
        matched=matched,
        in_segment=len(base),
        without_email=left_out,
        files=tuple(str(s.display_name or Path(s.path).name) for s in sources),
        notes=tuple(notes),
    )


def write_contacts(contacts: ContactList, path: str | Path) -> Path:
    """Write ``contacts`` to ``path`` atomically, readable by its owner only (mode 0600).

    The bytes go to a new private file in the same folder, which then replaces ``path``
    in one step: no reader ever sees half a file, and the data are never readable by
    others, not even for a moment.

    Raises
    ------
    ConfigError
        ``path`` is a folder or its folder cannot be written.
    """
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{out} is a folder; give the file to write, e.g. {out}/contacts.csv")
    folder = out.parent if str(out.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".levelfield-contacts-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {folder} ({exc.strerror or exc}); choose another file with -o"
        ) from exc
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(contacts.to_csv())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
