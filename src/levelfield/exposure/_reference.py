"""Shipped reference tables: fee schedules, country governance risk, compliance costs."""

from __future__ import annotations

import difflib
import functools
import io
from collections.abc import Iterable, Mapping
from importlib import resources

import numpy as np
import pandas as pd

from levelfield.errors import ConfigError, UnknownReferenceError

__all__ = [
    "compliance_costs",
    "country_risk_table",
    "fee_schedule",
    "normalize_countries",
]

#: Fee profiles whose platform, not the business, holds the customer relationship (buyer
#: accounts, messaging and repeat purchases live on the marketplace). Payment processors
#: and the own store leave the customer with the business.
PLATFORM_OWNS_CUSTOMER = frozenset(
    {
        "etsy_standard",
        "amazon_referral_grocery",
        "amazon_referral_standard",
        "apple_app_store_standard",
        "apple_app_store_small_business",
        "google_play_standard",
        "google_play_small_business",
        "doordash_basic",
        "doordash_plus",
        "doordash_premier",
        "ubereats_lite",
        "ubereats_plus",
        "ubereats_premium",
    }
)

#: Channel names (lower case) of marketplaces and delivery apps that hold the customer
#: relationship, used when a channel has neither a stated ``owns_customer`` nor a fee
#: profile. A channel named otherwise is *unknown*, never taken for a platform.
PLATFORM_CHANNEL_NAMES = frozenset(
    {
        "etsy",
        "amazon",
        "ebay",
        "walmart",
        "faire",
        "wayfair",
        "zalando",
        "bol",
        "mercadolibre",
        "rakuten",
        "tiktok_shop",
        "doordash",
        "ubereats",
        "uber_eats",
        "deliveroo",
        "just_eat",
        "grubhub",
        "app_store",
        "google_play",
    }
)

#: Channel names (lower case) of channels the business runs itself: its own online store
#: (hosted on a shop system or not), its shop counter, direct and wholesale sales. The
#: business holds the customer contact and history there. ``online`` and ``direct`` are
#: the channels the UCI/CDNOW and levelfield CSV imports give a retailer's own sales.
OWN_CHANNEL_NAMES = frozenset(
    {
        "shopify",
        "woocommerce",
        "square",
        "stripe",
        "paypal",
        "wholesale",
        "own_store",
        "online",
        "online_store",
        "web",
        "website",
        "webshop",
        "direct",
        "pos",
        "in_store",
        "store",
        "shop",
        "retail",
        "phone",
        "b2b",
    }
)

_FEE_BASES = ("order_total", "merchandise_plus_shipping", "merchandise")


def _read_csv(name: str) -> pd.DataFrame:
    text = resources.files("levelfield").joinpath("data", name).read_text(encoding="utf-8")
    return pd.read_csv(io.StringIO(text), comment="#", keep_default_na=False, na_values=[""])


@functools.cache
def _fee_schedule_cached() -> pd.DataFrame:
    df = _read_csv("platform_fees.csv")
    for col in ("percentage", "fixed_amount", "price_min", "price_max", "min_fee"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype("float64")
    for col in ("fee_profile", "platform", "component", "currency", "per", "base"):
        df[col] = df[col].astype("string")
    if not df["base"].isin(_FEE_BASES).all() or not df["per"].isin(("order", "item")).all():
        raise ConfigError("levelfield/data/platform_fees.csv has an unknown base or per value")
    return df


def fee_schedule() -> pd.DataFrame:
    """The shipped platform fee schedule, one row per fee component.

    Returns
    -------
    DataFrame
        Columns ``fee_profile``, ``platform``, ``component``, ``percentage`` (percent of
        ``base``), ``fixed_amount`` (currency per ``per``: ``order`` or ``item``),
        ``currency``, ``per``, ``base`` (``order_total``, ``merchandise_plus_shipping`` or
        ``merchandise``), ``price_min``/``price_max`` (per-item price band), ``min_fee``
        (per-item minimum), ``conditions``, ``source_url``, ``as_of``, ``checked_on`` and
        ``verification``. A copy: changing it does not change the shipped table.

    References
    ----------
    Each row's ``source_url``; see ``levelfield/data/README.md``.
    """
    return _fee_schedule_cached().copy()


@functools.cache
def _country_table_cached() -> pd.DataFrame:
    df = _read_csv("country_risk.csv")
    ranks = df[
        ["political_stability_pctrank", "regulatory_quality_pctrank", "rule_of_law_pctrank"]
    ].to_numpy(dtype="float64")
    # Equal weights: the WGI authors do not rank the dimensions against each other.
    df["risk"] = 100.0 - ranks.mean(axis=1)
    df["country"] = df["country"].astype("string")
    return df


def country_risk_table(overrides: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Country governance risk from the World Bank WGI, with optional user overrides.

    Parameters
    ----------
    overrides
        ``{country code: risk 0-100}`` replacing the computed risk of those countries
        (codes as accepted by :func:`normalize_countries`). A code missing from the table
        is added with the given risk.

    Returns
    -------
    DataFrame
        One row per country: ``country`` (ISO alpha-2), ``iso3_wb``, ``name``, ``year``, the
        three WGI estimates and percentile ranks, ``risk`` (0 = best governed, 100 = worst:
        100 minus the mean percentile rank of political stability, regulatory quality and
        rule of law) and ``risk_source`` (``"WGI 2023"`` or ``"user"``).

    References
    ----------
    Kaufmann, D. and A. Kraay (2024). Worldwide Governance Indicators, 2024 update.
    World Bank, www.govindicators.org (CC BY 4.0).
    """
    df = _country_table_cached().copy()
    df["risk_source"] = "WGI " + df["year"].astype(str)
    if not overrides:
        return df
    codes = list(overrides)
    values = np.array([overrides[c] for c in codes], dtype="float64")
    if not np.isfinite(values).all() or (values < 0).any() or (values > 100).any():
        raise ConfigError("country_risk overrides must be numbers between 0 and 100 (risk score)")
    norm = normalize_countries(codes, allow_unlisted=True, where="country_risk overrides")
    known = set(df["country"].tolist())
    extra = [c for c in norm if c not in known]
    if extra:
        df = pd.concat(
            [df, pd.DataFrame({"country": pd.array(extra, dtype="string"), "name": extra})],
            ignore_index=True,
        )
    risk_map = dict(zip(norm, values.tolist(), strict=True))
    mask = df["country"].isin(list(risk_map))
    df.loc[mask, "risk"] = df.loc[mask, "country"].map(risk_map).astype("float64")
    df.loc[mask, "risk_source"] = "user"
    return df


def normalize_countries(
    values: Iterable[str | None],
    *,
    allow_unlisted: bool = False,
    where: str = "suppliers.country",
) -> list[str | None]:
    """Map country codes or names to ISO 3166-1 alpha-2 codes.

    Accepts alpha-2 (``"de"``), World Bank/ISO alpha-3 (``"DEU"``) and English names as
    in the WGI file (``"Germany"``), case-insensitively. ``None``/blank stay ``None``.

    Raises
    ------
    UnknownReferenceError
        A value matches no country; the message lists the closest codes and names.
    """
    table = _country_table_cached()
    by_a2 = {c.upper(): c for c in table["country"].tolist()}
    by_a3 = {str(c).upper(): a2 for c, a2 in zip(table["iso3_wb"], table["country"], strict=True)}
    by_name = {str(n).casefold(): a2 for n, a2 in zip(table["name"], table["country"], strict=True)}
    # ISO alpha-3 codes where the World Bank uses its own.
    by_a3.update({"AND": "AD", "COD": "CD", "ROU": "RO", "TLS": "TL", "XKX": "XK", "PSE": "PS"})
    out: list[str | None] = []
    unknown: list[str] = []
    for value in values:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append(None)
            continue
        text = str(value).strip()
        if not text:
            out.append(None)
            continue
        key = text.upper()
        code = by_a2.get(key) or by_a3.get(key) or by_name.get(text.casefold())
        if code is None and allow_unlisted and len(key) == 2 and key.isalpha():
            code = key
        if code is None:
            unknown.append(text)
            out.append(None)
        else:
            out.append(code)
    if unknown:
        codes = list(by_a2) + list(by_a3)
        names = list(table["name"].astype(str))
        parts = []
        for u in sorted(set(unknown))[:5]:
            if len(u) <= 3:
                near = difflib.get_close_matches(u.upper(), codes, n=4, cutoff=0.5)
            else:
                near = difflib.get_close_matches(u, names, n=4, cutoff=0.6)
            hint = ", ".join(
                f"{n} ({by_name[n.casefold()]})" if n.casefold() in by_name else n for n in near
            )
            parts.append(f"{u!r} (did you mean: {hint or 'no close match'})")
        raise UnknownReferenceError(
            f"{where}: {len(set(unknown))} unknown country code(s): {'; '.join(parts)}. "
            "Use ISO 3166-1 alpha-2 codes such as DE, VN, ET, or pass country_risk={code: risk} "
            "to add a country the reference table lacks"
        )
    return out


@functools.cache
def _compliance_cached() -> pd.DataFrame:
    df = _read_csv("compliance_costs.csv")
    for col in ("employees_min", "employees_max", "cost_per_employee", "ratio_to_large"):
        df[col] = pd.to_numeric(df[col]).astype("float64")
    return df


def compliance_costs() -> pd.DataFrame:
    """Published regulatory compliance cost per employee by firm size band.

    References
    ----------
    Crain, W. M. and N. V. Crain (2014). The Cost of Federal Regulation to the U.S. Economy,
    Manufacturing and Small Business. National Association of Manufacturers.
    Crain, N. V. and W. M. Crain (2010). The Impact of Regulatory Costs on Small Firms.
    SBA Office of Advocacy.
    European Commission (2007). Models to reduce the disproportionate regulatory burden on
    SMEs. Report of the Expert Group.
    """
    return _compliance_cached().copy()
