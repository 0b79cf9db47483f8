"""Pure, vectorized kernels: concentration, linear scores, spend shifts, the own-store what-if.

Everything here takes NumPy arrays or floats and returns new values; nothing reads the
workspace. Shares are 0-1; HHI is on the 0-10,000 scale of the US Merger Guidelines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from levelfield.errors import ConfigError

__all__ = [
    "HHI_HIGH",
    "HHI_MODERATE",
    "OwnStoreShift",
    "hhi",
    "hhi_band",
    "linear_score",
    "own_store_shift",
    "shift_effects",
    "top_share",
]

FloatArray = npt.NDArray[np.float64]

#: 2023 US Merger Guidelines (U.S. DOJ and FTC, 18 Dec 2023, section 2.1): a market with
#: HHI above 1,800 is highly concentrated; 1,000-1,800 is moderately concentrated.
HHI_HIGH = 1800.0
HHI_MODERATE = 1000.0


def _positive(values: npt.ArrayLike) -> FloatArray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v) & (v > 0)]


def hhi(values: npt.ArrayLike) -> float:
    """Herfindahl-Hirschman index of the positive ``values`` (0-10,000).

    Each value is turned into its share of the total; HHI = sum of squared shares in
    percent. Zero, negative and non-finite values are left out. Empty input gives NaN.

    References
    ----------
    U.S. Department of Justice and Federal Trade Commission (2023). Merger Guidelines,
    section 2.1 and footnote on the HHI.

    Examples
    --------
    >>> round(hhi([50, 30, 20]), 6)  # channels with 50 %, 30 % and 20 % of revenue
    3800.0
    >>> hhi_band(3800.0)
    'high'
    """
    v = _positive(values)
    if v.size == 0:
        return float("nan")
    s = v / v.sum()
    return float(10_000.0 * np.dot(s, s))


def hhi_band(value: float) -> str:
    """``"high"``, ``"moderate"`` or ``"low"`` concentration by the 2023 Merger Guidelines."""
    if not np.isfinite(value):
        return "unknown"
    if value > HHI_HIGH:
        return "high"
    if value >= HHI_MODERATE:
        return "moderate"
    return "low"


def top_share(values: npt.ArrayLike, k: int | None = None, fraction: float | None = None) -> float:
    """Share of the total held by the ``k`` largest values, or by the top ``fraction`` of them.

    With ``fraction`` the count is ``ceil(fraction * n)`` (at least one). NaN when empty.

    Examples
    --------
    >>> top_share([50, 30, 20], k=1)
    0.5
    """
    v = _positive(values)
    if v.size == 0:
        return float("nan")
    if (k is None) == (fraction is None):
        raise ConfigError("top_share: give exactly one of k or fraction, not both or neither")
    n = int(np.ceil(fraction * v.size)) if fraction is not None else int(k or 0)
    n = max(1, min(n, v.size))
    top = np.partition(v, v.size - n)[v.size - n :]
    return float(top.sum() / v.sum())


def linear_score(value: npt.ArrayLike, good: float, bad: float) -> FloatArray:
    """Score 0-100: 100 at or beyond ``good``, 0 at or beyond ``bad``, linear between.

    Works for both directions (``good < bad`` means lower is better). NaN stays NaN.
    """
    v = np.asarray(value, dtype=np.float64)
    if good == bad:
        raise ConfigError(f"linear_score: good and bad must differ (both are {good!r})")
    out = 100.0 * (v - bad) / (good - bad)
    return np.clip(out, 0.0, 100.0)


def shift_effects(
    spend: FloatArray,
    group: npt.NDArray[np.int64],
    risk: FloatArray,
    src: npt.NDArray[np.int64],
    dst: npt.NDArray[np.int64],
    amount: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Effect of moving ``amount`` of spend from supplier ``src`` to supplier ``dst``.

    Parameters
    ----------
    spend
        Spend per supplier (currency; zero allowed).
    group
        Country index per supplier (suppliers in the same country share an index).
    risk
        Country risk per supplier (0-100; NaN when unknown).
    src, dst, amount
        One candidate move per element: supplier indices and the amount moved.

    Returns
    -------
    (d_supplier_hhi, d_country_hhi, d_risk)
        Change in supplier-spend HHI and supplier-country HHI (0-10,000 points) and in the
        spend-weighted country risk (0-100 points). Total spend does not change, so with
        shares ``s`` and moved share ``m`` the HHI changes by ``2 m (s_dst - s_src) + 2 m^2``.
    """
    total = float(spend.sum())
    if total <= 0:
        nan = np.full(src.shape, np.nan)
        return nan, nan.copy(), nan.copy()
    s = spend / total
    m = amount / total
    d_sup = 10_000.0 * (2.0 * m * (s[dst] - s[src]) + 2.0 * m * m)
    country_share = np.bincount(group, weights=s, minlength=int(group.max(initial=0)) + 1)
    gs, gd = group[src], group[dst]
    d_cty = np.where(
        gs == gd, 0.0, 10_000.0 * (2.0 * m * (country_share[gd] - country_share[gs]) + 2.0 * m * m)
    )
    d_risk = m * (risk[dst] - risk[src])
    return d_sup, d_cty, d_risk


@dataclass(frozen=True)
class OwnStoreShift:
    """Result of moving part of a platform's revenue to the own store (all per year)."""

    moved_revenue: float
    kept_revenue: float
    lost_revenue: float
    fees_saved: float
    margin_before: float
    margin_after: float
    margin_gained: float
    breakeven_conversion_loss: float


def own_store_shift(
    revenue: float,
    share_moved: float,
    conversion_loss: float,
    gross_margin_rate: float,
    platform_fee_rate: float,
    own_fee_rate: float,
) -> OwnStoreShift:
    """Margin effect of moving ``share_moved`` of a platform's revenue to the own store.

    Of the moved revenue ``m = share_moved * revenue`` only ``m (1 - conversion_loss)``
    arrives at the own store. The margin on the moved part changes from
    ``m (g - f_p)`` to ``m (1 - c) (g - f_o)`` with gross margin rate ``g`` (before fees),
    platform fee rate ``f_p`` and own-store fee rate ``f_o`` (all shares of revenue). The
    break-even conversion loss is ``1 - (g - f_p) / (g - f_o)``.
    """
    m = revenue * share_moved
    kept = m * (1.0 - conversion_loss)
    before = m * (gross_margin_rate - platform_fee_rate)
    after = kept * (gross_margin_rate - own_fee_rate)
    denom = gross_margin_rate - own_fee_rate
    breakeven = 1.0 - (gross_margin_rate - platform_fee_rate) / denom if denom > 0 else float("nan")
    return OwnStoreShift(
        moved_revenue=m,
        kept_revenue=kept,
        lost_revenue=m - kept,
        fees_saved=m * platform_fee_rate - kept * own_fee_rate,
        margin_before=before,
        margin_after=after,
        margin_gained=after - before,
        breakeven_conversion_loss=breakeven,
    )
