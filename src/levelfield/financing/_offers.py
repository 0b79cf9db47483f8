"""Credit offers as cash flows: term loans, lines of credit, merchant cash advances,
revenue-based financing, invoice factoring and equipment leases.

Every offer becomes an amount financed (what reaches the business after fees withheld)
and a payment schedule on its own unit-period grid, so that its APR is the Appendix J
rate of that schedule. Sales-linked offers (merchant cash advance, revenue-based
financing) repay a share of each week's sales until the agreed total is repaid, so their
schedule, and their APR, depend on the sales path: one row per simulated future.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from levelfield.errors import ConfigError, DataError
from levelfield.financing._apr import apr_schedule

__all__ = [
    "OFFER_KINDS",
    "SALES_LINKED",
    "CreditOffer",
    "OfferFlows",
    "offer_cash_flows",
    "weekly_payments",
]

FloatArray = NDArray[np.float64]

#: Kinds of offer, as written in the ``kind`` column of ``credit_offers``.
OFFER_KINDS = (
    "term_loan",
    "line_of_credit",
    "merchant_cash_advance",
    "revenue_based",
    "invoice_factoring",
    "equipment_lease",
)
#: Offers repaid as a share of sales.
SALES_LINKED = ("merchant_cash_advance", "revenue_based")

_REQUIRED: dict[str, tuple[str, ...]] = {
    "term_loan": ("annual_rate", "term_months"),
    "line_of_credit": ("annual_rate",),
    "merchant_cash_advance": ("factor_rate", "remittance_share"),
    "revenue_based": ("fees", "remittance_share"),
    "invoice_factoring": ("advance_rate", "fee_per_30_days"),
    "equipment_lease": ("payment", "term_months"),
}


@dataclass(frozen=True)
class CreditOffer:
    """One offer (a row of ``credit_offers``); money in the business currency, rates 0-1.

    ``amount`` is the loan, the credit limit (line of credit), the advance (cash advance,
    revenue-based), the invoices sold (factoring) or the cash price (lease). ``fees`` are
    withheld or paid up front, except for revenue-based financing where they are the
    fixed fee repaid on top of the advance.
    """

    offer_id: str
    kind: str
    amount: float
    lender: str = ""
    annual_rate: float | None = None
    term_months: float | None = None
    fees: float = 0.0
    factor_rate: float | None = None
    remittance_share: float | None = None
    card_share: float = 1.0
    usage_share: float = 1.0
    draw_fee: float = 0.0
    advance_rate: float | None = None
    fee_per_30_days: float | None = None
    days_to_pay: float = 30.0
    payment: float | None = None
    residual: float = 0.0

    def __post_init__(self) -> None:
        where = f"credit offer {self.offer_id!r}"
        if self.kind not in OFFER_KINDS:
            raise ConfigError(
                f"{where}: unknown kind {self.kind!r}; use one of {', '.join(OFFER_KINDS)}"
            )
        if not (math.isfinite(self.amount) and self.amount > 0):
            raise DataError(f"{where}: amount must be a positive number, got {self.amount!r}")
        missing = [n for n in _REQUIRED[self.kind] if getattr(self, n) is None]
        if missing:
            raise DataError(
                f"{where} ({self.kind}) needs {', '.join(missing)}; add the column(s) to "
                "the credit_offers file (see 'levelfield template credit_offers')"
            )
        for name in ("remittance_share", "card_share", "usage_share", "draw_fee", "advance_rate"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise DataError(f"{where}: {name} is a share between 0 and 1, got {v!r}")
        if self.kind == "merchant_cash_advance" and (self.factor_rate or 0.0) < 1.0:
            raise DataError(
                f"{where}: factor_rate is the total repaid per unit advanced (e.g. 1.35), "
                f"got {self.factor_rate!r}"
            )
        if self.amount_financed <= 0:
            raise DataError(f"{where}: the fees take up the whole amount; check fees")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CreditOffer:
        """An offer from a ``credit_offers`` row (``None`` cells take the defaults)."""
        names = {f.name for f in fields(cls)} - {"offer_id", "kind", "lender"}
        numbers = {k: float(v) for k, v in row.items() if k in names and v is not None}
        return cls(
            offer_id=str(row["offer_id"]),
            kind=str(row["kind"]).strip().lower(),
            lender=str(row.get("lender") or ""),
            **numbers,
        )

    @property
    def sales_linked(self) -> bool:
        return self.kind in SALES_LINKED

    @property
    def amount_financed(self) -> float:
        """What reaches the business after fees withheld (Appendix J's amount financed)."""
        if self.kind == "line_of_credit":
            draw = self.amount * self.usage_share
            return draw * (1.0 - self.draw_fee) - self.fees
        if self.kind == "invoice_factoring":
            return self.amount * (self.advance_rate or 0.0) - self.fees
        if self.kind == "revenue_based":
            return self.amount
        return self.amount - self.fees

    @property
    def total_repaid(self) -> float | None:
        """Agreed total repaid by a sales-linked offer (``None`` for the others)."""
        if self.kind == "merchant_cash_advance":
            return self.amount * (self.factor_rate or 1.0)
        if self.kind == "revenue_based":
            return self.amount + self.fees
        return None


@dataclass(frozen=True)
class OfferFlows:
    """Cash flows of one offer under each future.

    ``payments`` is ``(futures, n)`` (one row when the schedule does not depend on
    sales) at ``times`` unit-periods after the advance; ``unpaid_at_horizon`` the share
    of futures in which a sales-linked offer was not repaid by the last simulated week
    (the rest is then counted as due that week).
    """

    offer: CreditOffer
    amount_financed: float
    payments: FloatArray
    times: FloatArray
    periods_per_year: float
    unpaid_at_horizon: float = 0.0

    def apr(self) -> FloatArray:
        """APR per future (share per year), Appendix J actuarial method."""
        return apr_schedule(self.amount_financed, self.payments, self.times, self.periods_per_year)

    def finance_charge(self) -> FloatArray:
        """Total cost of the credit per future: all payments less the amount financed."""
        return np.asarray(self.payments.sum(axis=-1) - self.amount_financed, dtype=np.float64)

    def weeks_to_repay(self) -> FloatArray:
        """Weeks until the last payment, per future."""
        weeks = self.times * 52.0 / self.periods_per_year
        paid = self.payments > 0
        last = np.where(
            paid.any(axis=-1), paid.shape[-1] - 1 - np.argmax(paid[:, ::-1], axis=-1), 0
        )
        return np.asarray(weeks[last], dtype=np.float64)


def _annuity(principal: float, annual_rate: float, months: int) -> float:
    r = annual_rate / 12.0
    if r == 0:
        return principal / months
    return principal * r / (1.0 - (1.0 + r) ** -months)


def _months(offer: CreditOffer, default: float) -> int:
    m = offer.term_months if offer.term_months is not None else default
    if m < 1:
        raise DataError(f"credit offer {offer.offer_id!r}: term_months must be at least 1")
    return round(m)


def _sales_linked_flows(offer: CreditOffer, weekly_sales: FloatArray) -> OfferFlows:
    total = float(offer.total_repaid or 0.0)
    remit = weekly_sales * (offer.remittance_share or 0.0) * offer.card_share
    paid = np.minimum(np.cumsum(remit, axis=-1), total)
    payments = np.diff(paid, axis=-1, prepend=0.0)
    short = total - paid[:, -1]
    payments[:, -1] += short
    weeks = np.arange(1, weekly_sales.shape[-1] + 1, dtype=np.float64)
    return OfferFlows(
        offer, offer.amount_financed, payments, weeks, 52.0, float(np.mean(short > 1e-6))
    )


def offer_cash_flows(offer: CreditOffer, weekly_sales: FloatArray | None = None) -> OfferFlows:
    """Amount financed and payment schedule of ``offer``.

    Parameters
    ----------
    offer
        The offer.
    weekly_sales
        Sales per week from the advance on, ``(futures, weeks)`` (currency); needed by
        sales-linked offers, ignored by the others.
    """
    if offer.sales_linked:
        if weekly_sales is None or np.ndim(weekly_sales) != 2 or weekly_sales.shape[1] == 0:
            raise DataError(
                f"credit offer {offer.offer_id!r} is repaid from sales: pass weekly sales "
                "as (futures, weeks)"
            )
        if not np.isfinite(weekly_sales).all() or (weekly_sales < 0).any():
            raise DataError("weekly sales must be finite and not negative")
        return _sales_linked_flows(offer, np.asarray(weekly_sales, dtype=np.float64))
    if offer.kind == "invoice_factoring":
        days = max(offer.days_to_pay, 1.0)
        advance = offer.amount * (offer.advance_rate or 0.0)
        fee = offer.amount * (offer.fee_per_30_days or 0.0) * math.ceil(days / 30.0)
        # The business forgoes the invoice when the customer pays: the factor keeps the
        # advance plus its fee. Single advance, single payment: the term is the
        # unit-period, 365 / days periods a year (Appendix J (b)(5)(vii)).
        pay = np.array([[advance + fee]])
        return OfferFlows(offer, offer.amount_financed, pay, np.ones(1), 365.0 / days)
    if offer.kind == "equipment_lease":
        n = _months(offer, 36)
        pay = np.full((1, n), float(offer.payment or 0.0))
        pay[0, -1] += offer.residual
        return OfferFlows(offer, offer.amount_financed, pay, np.arange(1.0, n + 1), 12.0)
    if offer.kind == "line_of_credit":
        n = _months(offer, 12)
        draw = offer.amount * offer.usage_share
        monthly = _annuity(draw, offer.annual_rate or 0.0, n)
        pay = np.full((1, n), monthly)
        return OfferFlows(offer, offer.amount_financed, pay, np.arange(1.0, n + 1), 12.0)
    n = _months(offer, 12)
    monthly = _annuity(offer.amount, offer.annual_rate or 0.0, n)
    pay = np.full((1, n), monthly)
    return OfferFlows(offer, offer.amount_financed, pay, np.arange(1.0, n + 1), 12.0)


def weekly_payments(offer: CreditOffer, weekly_sales: FloatArray) -> FloatArray:
    """Payments of ``offer`` in each of the weeks of ``weekly_sales`` after it is taken.

    ``weekly_sales`` is ``(futures, weeks)``; returns ``(futures, weeks)`` for sales-linked
    offers (remittances until the agreed total is repaid, nothing added at the end) and
    ``(1, weeks)`` for scheduled ones (a monthly payment falls in the week its day is in).
    """
    sales = np.asarray(weekly_sales, dtype=np.float64)
    if sales.ndim != 2:
        raise DataError("weekly sales must be (futures, weeks)")
    weeks = sales.shape[1]
    if offer.sales_linked:
        remit = sales * (offer.remittance_share or 0.0) * offer.card_share
        paid = np.minimum(np.cumsum(remit, axis=-1), float(offer.total_repaid or 0.0))
        return np.asarray(np.diff(paid, axis=-1, prepend=0.0), dtype=np.float64)
    flows = offer_cash_flows(offer)
    week = np.ceil(flows.times * 52.0 / flows.periods_per_year - 1e-9).astype(np.int64)
    keep = (week >= 1) & (week <= weeks)
    out = np.zeros((1, weeks))
    np.add.at(out[0], week[keep] - 1, flows.payments[0, keep])
    return out
