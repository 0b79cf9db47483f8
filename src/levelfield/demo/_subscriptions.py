"""The demo's coffee subscription: a Stripe subscriptions export with a planted sBG truth.

Subscribers of the monthly "coffee club" each draw a cancel probability from
``Beta(alpha, beta)`` (:data:`SUBSCRIPTION_TRUTH`) and pay monthly until they cancel
(Fader & Hardie 2007); sign-ups are spread over the last 24 months of the demo period.
The file has Stripe's export columns; its payments are not in the order exports.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levelfield.customers import simulate_subscriptions

__all__ = ["SUBSCRIPTION_TRUTH", "write_stripe_subscriptions"]

#: Planted sBG truth of the coffee club (monthly cancel probability ~ Beta(alpha, beta)).
SUBSCRIPTION_TRUTH = {"alpha": 1.2, "beta": 4.0, "n": 1500, "months": 24, "price": 24.0}
_START = dt.date(2024, 1, 1)


def write_stripe_subscriptions(seed: int, path: Path) -> dict[str, Any]:
    """Write the coffee club's subscriptions as Stripe exports them; return the truth."""
    t = SUBSCRIPTION_TRUTH
    rng = np.random.default_rng([seed, 2207])
    frame, as_of = simulate_subscriptions(
        int(t["n"]),
        alpha=t["alpha"],
        beta=t["beta"],
        start=_START,
        months=int(t["months"]),
        price=t["price"],
        seed=rng,
        prefix="sub_demo",
    )
    n = len(frame)
    started = frame["started_at"]
    gone = frame["ended_at"].notna()
    cps = _current_period_start(started, frame["ended_at"].fillna(pd.Timestamp(as_of)), gone)
    fmt = "%Y-%m-%d %H:%M"
    out = pd.DataFrame(
        {
            "id": frame["subscription_id"],
            "Customer ID": [f"cus_Demo{i:06d}" for i in range(n)],
            "Customer Email": [f"subscriber{i:06d}@example.com" for i in range(n)],
            "Plan": "price_CoffeeClubMonthly",
            "Product": "prod_CoffeeClub",
            "Quantity": np.where(rng.random(n) < 0.2, 2, 1),
            "Currency": "usd",
            "Interval": "month",
            "Amount": f"{t['price']:.2f}",
            "Status": frame["status"],
            "Created (UTC)": started.dt.strftime(fmt),
            "Start (UTC)": started.dt.strftime(fmt),
            "Current Period Start (UTC)": cps.dt.strftime(fmt),
            "Current Period End (UTC)": (cps + pd.DateOffset(months=1)).dt.strftime(fmt),
            "Trial Start (UTC)": "",
            "Trial End (UTC)": "",
            "Canceled At (UTC)": frame["ended_at"].dt.strftime(fmt).where(gone, ""),
            "Cancel At Period End": "false",
            "Ended At (UTC)": frame["ended_at"].dt.strftime(fmt).where(gone, ""),
        }
    )
    out.to_csv(path, index=False)
    return {
        "model": "sBG (Fader & Hardie 2007), monthly billing, no trials",
        "alpha": t["alpha"],
        "beta": t["beta"],
        "subscriptions": n,
        "cohorts": f"{int(t['months'])} monthly cohorts from {_START.isoformat()}",
        "as_of": as_of.isoformat(),
        "one_year_retention": float(
            np.exp(_betaln(t["alpha"], t["beta"] + 12.0) - _betaln(t["alpha"], t["beta"]))
        ),
    }


def _current_period_start(started: pd.Series, end: pd.Series, gone: pd.Series) -> pd.Series:
    """Last monthly renewal before ``end`` (strictly before it for ended subscriptions)."""
    st = started.to_numpy("datetime64[ns]")
    month = st.astype("datetime64[M]")
    offset = st - month.astype("datetime64[ns]")
    en = end.to_numpy("datetime64[ns]")
    k = en.astype("datetime64[M]") - month

    def at(k: Any) -> Any:
        return (month + k).astype("datetime64[ns]") + offset

    late = np.where(gone.to_numpy(), at(k) >= en, at(k) > en)
    return pd.Series(at(k - late.astype(int)), index=started.index)


def _betaln(a: float, b: float) -> float:
    from scipy.special import betaln

    return float(betaln(a, b))
