"""The demo's financing story: a roaster bill due in the slow season and two offers to pay it.

Ember & Oak must pay the balance of a new 35 kg roaster in February 2026, in the
January-March trough of its seasonal sales (``MONTH_SEASON``: February is the slowest
month of the year, 0.75 of an average month against 2.1 in December). Two lenders made
offers, written as ``exports/credit_offers.csv`` and imported like a user's file: a
merchant cash advance quoted as a factor rate with a holdback of card sales, and a
term loan from a community bank.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from levelfield.demo._simulate import END, MONTH_SEASON, YEARLY_GROWTH

__all__ = ["CREDIT_OFFERS", "PAYABLES", "financing_truth", "write_credit_offers"]

#: One-off amounts due (business profile ``payables``).
PAYABLES: tuple[dict[str, Any], ...] = (
    {
        "due": "2026-02-11",
        "amount": 175_000,
        "what": "new 35 kg roaster and its installation, due on delivery",
    },
)

#: The planted offers (columns of ``levelfield template credit_offers``).
CREDIT_OFFERS: tuple[dict[str, Any], ...] = (
    {
        "offer_id": "MCA-QUICKFUND",
        "lender": "QuickFund Capital",
        "kind": "merchant_cash_advance",
        "amount": 120_000,
        "currency": "USD",
        "fees": 2_400,
        "factor_rate": 1.32,
        "remittance_share": 0.14,
        # Wholesale invoices are paid by bank transfer, not card: no holdback on them.
        "card_share": 0.9,
    },
    {
        "offer_id": "TL-BLUERIDGE",
        "lender": "Blue Ridge Community Bank",
        "kind": "term_loan",
        "amount": 120_000,
        "currency": "USD",
        "annual_rate": 0.095,
        "term_months": 48,
        "fees": 1_800,
    },
)

_COLUMNS = (
    "offer_id", "lender", "kind", "amount", "currency", "annual_rate", "term_months", "fees",
    "factor_rate", "remittance_share", "card_share",
)  # fmt: skip


def write_credit_offers(path: Path) -> list[dict[str, Any]]:
    """``credit_offers.csv``: the two planted offers; returns them as written."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(_COLUMNS)
        for offer in CREDIT_OFFERS:
            w.writerow(["" if offer.get(c) is None else offer.get(c) for c in _COLUMNS])
    return [dict(o) for o in CREDIT_OFFERS]


def forecast_start() -> dt.date:
    """Monday of the first forecast week: the week after the last complete week of orders."""
    last_monday = END - dt.timedelta(days=END.weekday())
    return last_monday if END.weekday() < 6 else last_monday + dt.timedelta(days=7)


def financing_truth() -> dict[str, Any]:
    """What the financing analysis should recover (manifest key ``financing``)."""
    start = forecast_start()
    due = dt.date.fromisoformat(str(PAYABLES[0]["due"]))
    slow = int(np.argmin(MONTH_SEASON))
    return {
        "offers": [dict(o) for o in CREDIT_OFFERS],
        "payables": [dict(p) for p in PAYABLES],
        "forecast_start": start.isoformat(),
        # The roaster bill is larger than the cash above two weeks of payments, so the
        # balance first falls below the buffer the week it is due (and not before: the
        # business earns more than it pays in an average week of the trough).
        "cash_low_week": (due - start).days // 7 + 1,
        "seasonal_dip": {
            "months": [1, 2, 3],
            "slowest_month": slow + 1,
            "month_index": [float(v) for v in MONTH_SEASON],
        },
        "yearly_growth": YEARLY_GROWTH,
    }
