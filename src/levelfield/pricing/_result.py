"""The result of ``levelfield.pricing.analyze``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from levelfield.errors import InsufficientPriceVariation, UnknownReferenceError
from levelfield.findings import Finding
from levelfield.findings import json_float as _f
from levelfield.findings import money as _money
from levelfield.pricing._elasticity import PooledElasticity
from levelfield.pricing._pilots import PilotResult

__all__ = ["PricingResult"]


def _json_safe(value: Any) -> Any:
    """``value`` with every NaN/inf float (nested in dicts and lists) replaced by None:
    a number that could not be estimated is absent, never an invalid JSON token."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return _f(value)
    return value


def _pct(x: float) -> str:
    return f"{x:+.0%}" if math.isfinite(x) else "n/a"


def _pilot_read(p: PilotResult) -> str:
    """The one sentence a pilot is read by: effect, interval and verdict from one estimate."""
    rlo, rhi = p.relative_ci
    u, ulo, uhi = p.unit_effect
    if math.isfinite(p.relative_effect):
        head = f"units {_pct(p.relative_effect)} (95 % CI {_pct(rlo)} to {_pct(rhi)})"
        per = f"about {u:+.2f} units/week per {p.unit_type}"
    else:
        head = f"units {u:+.2f}/week per {p.unit_type} (95 % CI {ulo:+.2f} to {uhi:+.2f})"
        per = "no baseline sales to express it as a share"
    verdict = (
        "a real effect at the 5 % level" if p.significant else "not distinguishable from no effect"
    )
    tail = ""
    if math.isfinite(p.implied_elasticity):
        tail = f"; implied elasticity {p.implied_elasticity:.2f}"
    elif p.price_change:
        tail = "; no implied elasticity (the proportional effect could not be estimated)"
    return f"{head}, {verdict}; {per}{tail}."


@dataclass(frozen=True)
class PricingResult:
    """Elasticities, guarded price recommendations and pilot results.

    Attributes
    ----------
    elasticities
        One row per product: status (``estimated``, ``insufficient_price_variation``,
        ``too_few_weeks``) and reason, weeks used, zero/stock-out/outlier weeks, OLS and
        PPML estimates, raw and partially pooled elasticity with SE and 95 % interval,
        revenue (currency, whole panel).
    categories
        Category mean elasticity (random-effects mean) with SE.
    pooled
        One elasticity for all products (two-way FE, product-clustered SE).
    recommendations
        One row per product: recommended price, basis, reasons (guardrail codes) and
        the expected yearly change in units, revenue and profit with 95 % bands.
    channel_prices
        Per-channel (parity) and opted-in segment prices.
    pilots
        Analysed pilots.
    panel
        The weekly panel with flags (for charts).
    curve
        Per-product demand-curve constants (for charts and predictions).
    notes
        Plain-language notes on exclusions and repairs.
    pilots_not_analysed
        One sentence per pilot that could not be estimated, with the reason and the fix.
    """

    currency: str
    elasticities: pd.DataFrame
    categories: pd.DataFrame
    pooled: PooledElasticity
    recommendations: pd.DataFrame
    channel_prices: pd.DataFrame
    pilots: tuple[PilotResult, ...]
    panel: pd.DataFrame
    curve: pd.DataFrame
    promo_effect: float
    notes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    pilots_not_analysed: tuple[str, ...] = ()

    # -- derived numbers ------------------------------------------------------------------
    @property
    def estimated(self) -> pd.DataFrame:
        """Products with an elasticity."""
        return self.elasticities.loc[self.elasticities["status"] == "estimated"]

    @property
    def has_costs(self) -> bool:
        """Whether any product with an elasticity has a unit cost."""
        r = self.recommendations
        return bool(r["unit_cost"].notna().any()) if len(r) else False

    def elasticity(self, sku: str) -> float:
        """The partially pooled elasticity of ``sku``.

        Raises
        ------
        InsufficientPriceVariation
            The product's price never moved enough to learn from.
        """
        rows = self.elasticities.loc[self.elasticities["sku"] == str(sku)]
        if rows.empty:
            raise UnknownReferenceError(f"product {sku!r} is not in the pricing results")
        row = rows.iloc[0]
        if row["status"] != "estimated":
            raise InsufficientPriceVariation(
                f"no elasticity for product {sku!r}: {row['reason']}. Run a price pilot "
                "(levelfield.pricing.plan_pilot) to learn it"
            )
        return float(row["elasticity"])

    def median_elasticity(self) -> float:
        e = self.estimated["elasticity"]
        return float(e.median()) if len(e) else float("nan")

    def elastic_share(self) -> float:
        """Share of revenue (0–1) from products with elasticity below -1."""
        est = self.estimated
        tot = float(est["revenue"].sum())
        if tot <= 0:
            return float("nan")
        return float(est.loc[est["elasticity"] < -1, "revenue"].sum() / tot)

    def profit_gain(self) -> tuple[float, float, float]:
        """Expected yearly profit change of all recommendations with its 95 % band."""
        r = self.recommendations
        ok = r["profit_change_year"].notna()
        if not ok.any():
            return (float("nan"), float("nan"), float("nan"))
        return (
            float(r.loc[ok, "profit_change_year"].sum()),
            float(r.loc[ok, "profit_change_year_low"].sum()),
            float(r.loc[ok, "profit_change_year_high"].sum()),
        )

    def _missing_cost(self) -> pd.DataFrame:
        r = self.recommendations
        return r.loc[r["unit_cost"].isna() & r["elasticity"].notna()]

    # -- contract -------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """JSON-safe headline numbers: what could not be estimated is None."""
        out: dict[str, Any] = _json_safe(self._summary())
        return out

    def _summary(self) -> dict[str, Any]:
        gain, lo, hi = self.profit_gain()
        return {
            "currency": self.currency,
            "products": len(self.elasticities),
            "products_estimated": len(self.estimated),
            "products_insufficient_variation": int(
                (self.elasticities["status"] != "estimated").sum()
            ),
            "median_elasticity": _f(self.median_elasticity()),
            "elastic_share": _f(self.elastic_share()),
            "pooled_elasticity": _f(self.pooled.elasticity),
            "pooled_elasticity_se": _f(self.pooled.se),
            "promo_effect": _f(self.promo_effect),
            "recommended_profit_gain": _f(gain),
            "recommended_profit_gain_band": [_f(lo), _f(hi)],
            "recommendations": int(self.recommendations["recommended_price"].notna().sum()),
            "recommendations_withheld": int(self.recommendations["withheld"].sum()),
            "products_missing_cost": len(self._missing_cost()),
            "pilots": [
                {
                    "pilot_id": p.pilot_id,
                    "read_scale": p.read_scale,
                    "relative_effect": _f(p.relative_effect),
                    "relative_ci": [_f(p.relative_ci[0]), _f(p.relative_ci[1])],
                    "unit_effect": _f(p.unit_effect[0]),
                    "ci": [_f(p.unit_effect[1]), _f(p.unit_effect[2])],
                    "significant": p.significant,
                    "p_value": _f(p.p_value),
                    "adjusted_relative_ci": [
                        _f(p.adjusted_relative_ci[0]),
                        _f(p.adjusted_relative_ci[1]),
                    ],
                    "implied_elasticity": _f(p.implied_elasticity),
                    "looks": p.looks,
                    "peeking": p.peeking,
                }
                for p in self.pilots
            ],
            "pilots_not_analysed": list(self.pilots_not_analysed),
            "notes": list(self.notes),
        }

    def to_frame(self) -> pd.DataFrame:
        """The recommendations table (one row per product, with its elasticity)."""
        return self.recommendations.copy()

    def pilots_frame(self) -> pd.DataFrame:
        rows = [p.row() for p in self.pilots]
        return pd.DataFrame(rows) if rows else pd.DataFrame({"pilot_id": pd.Series(dtype=object)})

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "recommendations": self.recommendations.copy(),
            "elasticities": self.elasticities.copy(),
            "category_elasticities": self.categories.copy(),
            "channel_prices": self.channel_prices.copy(),
            "pilots": self.pilots_frame(),
            "weekly_panel": self.panel.copy(),
        }

    def _elasticity_lines(self) -> list[str]:
        """The headline's elasticity sentences: how many, the median, how far to trust
        them (the typical product's 95 % half-width), and the products without one."""
        lines: list[str] = []
        n, k = len(self.elasticities), len(self.estimated)
        med = self.median_elasticity()
        if k:
            est = self.estimated
            spread = float(((est["ci_high"] - est["ci_low"]) / 2.0).median())
            trust = ""
            if math.isfinite(spread):
                trust = (
                    f" It is uncertain by ±{spread:.2f} (95 %)"
                    if k == 1
                    else f" Half of these estimates are uncertain by more than ±{spread:.2f} (95 %)"
                ) + (
                    ": too uncertain to act on alone; a price pilot would tell."
                    if spread > 1
                    else "."
                )
            lines.append(
                f"Price elasticity estimated for {k} of {n} products; median {med:.2f} "
                f"(a 10 % price rise changes units by about {(1.1**med - 1):+.0%})." + trust
            )
            share = self.elastic_share()
            if math.isfinite(share):
                lines.append(
                    f"{share:.0%} of revenue comes from price-elastic products "
                    "(elasticity below -1)."
                )
        else:
            lines.append(
                f"No product's price moved enough to estimate an elasticity ({n} products)."
            )
        if n - k:
            lines.append(
                f"{n - k} product(s) without an elasticity (their price never moved enough, "
                "or they sold in too few weeks or too rarely at one of their prices; each "
                "product's reason says which); a price pilot would tell."
            )
        return lines

    def headline(self) -> list[str]:
        lines = self._elasticity_lines()
        r = self.recommendations
        moved = r.loc[r["recommended_price"].notna() & (r["change"].abs() > 0.001)]
        if len(moved):
            gain, lo, hi = self.profit_gain()
            if math.isfinite(gain):
                lines.append(
                    f"{len(moved)} price change(s) recommended; expected profit change "
                    f"{_money(gain, self.currency)} a year (95 % band {_money(lo, self.currency)} "
                    f"to {_money(hi, self.currency)})."
                )
            else:
                lines.append(f"{len(moved)} price change(s) recommended.")
            top = moved.reindex(
                moved["profit_change_year"].abs().sort_values(ascending=False).index
            )
            for _, row in top.head(5).iterrows():  # at most five lines for the CLI
                why = row["reasons"] or row["basis"]
                lines.append(
                    f"  {row['name']}: {row['current_price']:.2f} -> "
                    f"{row['recommended_price']:.2f} "
                    f"({row['change']:+.0%}; e = {row['elasticity']:.2f}; reasons: {why})"
                )
        withheld = int(r["withheld"].sum()) if "withheld" in r.columns else 0
        if withheld:
            lines.append(
                f"{withheld} price(s) withheld: the guardrails leave no price that satisfies "
                "all of them (the reasons name the conflict)."
            )
        missing = self._missing_cost()
        if len(missing):
            lines.append(
                f"{len(missing)} product(s) need unit costs for margin-optimal prices and "
                "profit effects: import products with a unit_cost column."
            )
        for p in self.pilots:
            lines.append(f"Pilot {p.name}{f' [{p.sku}]' if p.sku else ''}: {_pilot_read(p)}")
            if p.peeking:
                alo, ahi = p.adjusted_relative_ci
                lines.append(
                    f"  Read {p.looks} times without a sequential plan: real false-positive rate "
                    f"{p.false_positive_rate:.0%}; adjusted CI {_pct(alo)} to {_pct(ahi)}."
                )
        lines.extend(f"P{n[1:]}." for n in self.pilots_not_analysed)
        return lines

    def findings(self) -> list[Finding]:
        """Findings whose context is JSON-safe (numbers not estimated are None)."""
        return [replace(f, context=_json_safe(f.context)) for f in self._findings()]

    def _findings(self) -> list[Finding]:
        """Elasticity findings, then money (gain, missing costs, promotions), then pilots."""
        return [
            *self._elasticity_findings(),
            *self._money_findings(),
            *(f for p in self.pilots for f in _pilot_findings(p)),
        ]

    def _elasticity_findings(self) -> list[Finding]:
        """Median elasticity, elastic and inelastic revenue shares, products not learnt."""
        out: list[Finding] = []
        n, k = len(self.elasticities), len(self.estimated)
        if k:
            med = self.median_elasticity()
            out.append(
                Finding(
                    "pricing.median_elasticity",
                    med,
                    "elasticity",
                    f"Across {k} products the median price elasticity is {med:.2f}: a 10 % price "
                    f"rise changes units sold by about {(1.1**med - 1):+.0%}.",
                    "watch" if med < -1 else "info",
                    {"products": k, "pooled": self.pooled.elasticity, "pooled_se": self.pooled.se},
                )
            )
            share = self.elastic_share()
            if math.isfinite(share):
                out.append(
                    Finding(
                        "pricing.elastic_share",
                        share,
                        "share",
                        f"{share:.0%} of revenue comes from products whose customers "
                        "react strongly "
                        "to price (elasticity below -1): there, price competition bites.",
                        "warning" if share >= 0.5 else ("watch" if share >= 0.25 else "info"),
                    )
                )
                inel = self.estimated
                tot = float(inel["revenue"].sum())
                ishare = (
                    float(inel.loc[inel["elasticity"] > -1, "revenue"].sum() / tot)
                    if tot > 0
                    else 0.0
                )
                out.append(
                    Finding(
                        "pricing.inelastic_share",
                        ishare,
                        "share",
                        f"{ishare:.0%} of revenue comes from products with inelastic demand at "
                        "today's prices: room to raise prices toward the ceiling.",
                        "good" if ishare >= 0.25 else "info",
                    )
                )
        if n - k:
            out.append(
                Finding(
                    "pricing.insufficient_variation",
                    float(n - k),
                    "count",
                    f"{n - k} of {n} products never changed price enough to learn how customers "
                    "react; a small price pilot would.",
                    "watch",
                )
            )
        return out

    def _money_findings(self) -> list[Finding]:
        """Expected profit change, products without unit cost, promotion lift."""
        out: list[Finding] = []
        gain, lo, hi = self.profit_gain()
        if math.isfinite(gain):
            out.append(
                Finding(
                    "pricing.recommended_profit_gain",
                    gain,
                    "currency",
                    "The recommended prices would change profit by about "
                    f"{_money(gain, self.currency)} a year (95 % band "
                    f"{_money(lo, self.currency)} to {_money(hi, self.currency)}).",
                    "good" if lo > 0 else "info",
                    {"low": lo, "high": hi, "currency": self.currency},
                )
            )
        missing = self._missing_cost()
        if len(missing):
            out.append(
                Finding(
                    "pricing.no_costs",
                    float(len(missing)),
                    "count",
                    f"{len(missing)} product(s) have no unit cost: margin-optimal prices "
                    "and profit "
                    "effects need it.",
                    "watch",
                    {"skus": missing["sku"].head(20).tolist()},
                )
            )
        if math.isfinite(self.promo_effect) and len(self.estimated):
            out.append(
                Finding(
                    "pricing.promo_lift",
                    float(np.expm1(self.promo_effect)),
                    "share",
                    f"Promotion weeks sell {np.expm1(self.promo_effect):+.0%} units at the "
                    "same posted price.",
                )
            )
        return out


def _pilot_findings(p: PilotResult) -> list[Finding]:
    """A pilot's effect, and a warning when it was read repeatedly without a plan."""
    out: list[Finding] = []
    rel = p.relative_effect
    u, ulo, uhi = p.unit_effect
    out.append(
        Finding(
            "pricing.pilot_effect",
            float(rel) if math.isfinite(rel) else float(u),
            "share" if math.isfinite(rel) else "count",
            f"Pilot '{p.name}': {_pilot_read(p)}",
            "info",
            {
                "pilot_id": p.pilot_id,
                "read_scale": p.read_scale,
                "significant": p.significant,
                "ci": [ulo, uhi],
                "relative_ci": list(p.relative_ci),
                "adjusted_ci": list(p.adjusted_relative_ci),
                "implied_elasticity": p.implied_elasticity,
            },
        )
    )
    if p.peeking:
        out.append(
            Finding(
                "pricing.pilot_peeking",
                p.false_positive_rate,
                "share",
                f"Pilot '{p.name}' was read {p.looks} times without a sequential plan: a "
                f"nominal 5 % test then has a {p.false_positive_rate:.0%} "
                "false-positive rate.",
                "warning",
                {
                    "pilot_id": p.pilot_id,
                    "adjusted_ci": [p.adjusted_ci_low, p.adjusted_ci_high],
                },
            )
        )
    return out
