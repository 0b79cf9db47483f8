"""``analyze(ws)``: the whole pricing analysis on a workspace, recorded as a run."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from levelfield.errors import ConfigError, DataQualityWarning, InsufficientDataError
from levelfield.findings import ProgressCallback, no_progress
from levelfield.pricing._elasticity import ElasticityModel
from levelfield.pricing._panel import PanelData, channel_prices, weekly_panel
from levelfield.pricing._pilots import analyze_pilots
from levelfield.pricing._recommend import Guardrails, recommend_prices
from levelfield.pricing._result import PricingResult
from levelfield.pricing._rivals import rival_reference
from levelfield.workspace import UNSET, Unset, Workspace

__all__ = ["analyze", "competitor_price_range"]

_MODEL_PARAMS = (
    "estimator",
    "min_distinct_prices",
    "min_log_price_sd",
    "min_weeks",
    "stockout_probability",
    "outlier_threshold",
    "zero_share_for_ppml",
    "min_units_for_ols",
    "shrink",
)
_GUARD_PARAMS = (
    "max_step",
    "floor",
    "ceiling",
    "use_competitor_index",
    "min_margin",
    "price_endings",
    "channel_parity",
    "wholesale_channels",
    "wholesale_parity",
    "competitor_ceiling",
    "competitor_ceiling_premium",
    "allow_segment_discounts",
    "segment_discounts",
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def competitor_price_range(con: Any) -> tuple[tuple[float, float] | None, str | None]:
    """Competitors' lowest and highest ``price_index`` relative to the business's own.

    Returns ``((min/self, max/self), None)``, or ``(None, note)`` when the indexes are
    missing (the note says what to add).
    """
    rows = con.execute(
        """
        SELECT is_self,
               TRY_CAST(replace(json_extract_string(attributes, '$.price_index'), ',', '.')
                        AS DOUBLE) AS idx
        FROM competitors
        """
    ).fetchall()
    if not rows:
        return None, None
    own = [r[1] for r in rows if r[0] and r[1] is not None and r[1] > 0]
    others = [r[1] for r in rows if not r[0] and r[1] is not None and r[1] > 0]
    if not own or not others:
        return None, (
            "competitor price indexes not used for floors and ceilings: add a numeric "
            "price_index attribute for the business (self = yes) and its competitors"
        )
    s = float(own[0])
    return (min(others) / s, max(others) / s), None


def _baseline(panel: pd.DataFrame, weeks: int) -> pd.DataFrame:
    """Mean weekly units over each product's last ``weeks`` weeks (stock-outs excluded)."""
    p = (
        panel.loc[~panel["stockout"], ["sku", "week", "quantity"]]
        .groupby(["sku", "week"], as_index=False)["quantity"]
        .sum()
    )
    last = p.groupby("sku")["week"].transform("max")
    recent = p.loc[p["week"] > last - pd.Timedelta(weeks=weeks)]
    out: pd.DataFrame = recent.groupby("sku", as_index=False).agg(
        baseline_units=("quantity", "mean")
    )
    return out


def analyze(
    ws: Workspace,
    *,
    progress: ProgressCallback = no_progress,
    estimator: Literal["auto", "ols", "ppml"] | Unset = UNSET,
    min_distinct_prices: int | Unset = UNSET,
    min_log_price_sd: float | Unset = UNSET,
    min_weeks: int | Unset = UNSET,
    stockout_probability: float | Unset = UNSET,
    outlier_threshold: float | Unset = UNSET,
    zero_share_for_ppml: float | Unset = UNSET,
    min_units_for_ols: float | Unset = UNSET,
    shrink: bool | Unset = UNSET,
    max_step: float | Unset = UNSET,
    floor: Mapping[str, float] | Unset = UNSET,
    ceiling: Mapping[str, float] | Unset = UNSET,
    use_competitor_index: bool | Unset = UNSET,
    min_margin: float | Unset = UNSET,
    price_endings: Sequence[str] | Unset = UNSET,
    channel_parity: float | Unset = UNSET,
    wholesale_channels: Sequence[str] | Unset = UNSET,
    wholesale_parity: bool | Unset = UNSET,
    competitor_ceiling: bool | Unset = UNSET,
    competitor_ceiling_premium: float | Unset = UNSET,
    allow_segment_discounts: bool | Unset = UNSET,
    segment_discounts: Mapping[str, float] | Unset = UNSET,
    promo_threshold: float | Unset = UNSET,
    baseline_weeks: int | Unset = UNSET,
    alpha: float | Unset = UNSET,
    exclude_channels: Sequence[str] | Unset | None = UNSET,
    guardrails: Guardrails | None = None,
    personalize_by: str | None = None,
) -> PricingResult:
    """Estimate price elasticities, recommend guarded prices and read pilots.

    Parameters
    ----------
    ws
        An open :class:`levelfield.workspace.Workspace`.
    progress
        ``progress(step, fraction)`` callback.
    estimator, min_distinct_prices, min_log_price_sd, min_weeks, stockout_probability, \
outlier_threshold, zero_share_for_ppml, min_units_for_ols, shrink, max_step, floor, \
ceiling, use_competitor_index, min_margin, price_endings, channel_parity, \
wholesale_channels, wholesale_parity, competitor_ceiling, competitor_ceiling_premium, \
allow_segment_discounts, segment_discounts, promo_threshold, baseline_weeks, alpha, \
exclude_channels
        Left out, each is read from the workspace's settings (``pricing.max_step``, ...;
        ``levelfield settings``); given, it overrides the setting for this run.
        Elasticity options (``estimator``, ``min_distinct_prices``, ``min_log_price_sd``,
        ``min_weeks``, ``stockout_probability``, ``outlier_threshold``,
        ``zero_share_for_ppml``, ``shrink``; see :class:`ElasticityModel`), guardrails
        (``max_step``, ``floor``, ``ceiling``, ``use_competitor_index``, ``min_margin``,
        ``price_endings``, ``channel_parity``, ``wholesale_channels``,
        ``wholesale_parity``, ``competitor_ceiling``, ``competitor_ceiling_premium``,
        ``allow_segment_discounts``, ``segment_discounts``; see :class:`Guardrails`, or
        pass ``guardrails=``),
        ``promo_threshold`` (share of discounted lines that makes a promotion week),
        ``baseline_weeks`` (weeks averaged for today's volume, default 13) and ``alpha``
        (pilot tests, default 0.05).
    guardrails
        A :class:`Guardrails` object replacing the guardrail settings (Python only).
    personalize_by
        Refused: prices personalised by customer attributes raise :class:`ConfigError`.

    Returns
    -------
    PricingResult

    Raises
    ------
    InsufficientDataError
        No order lines to learn from.
    ConfigError
        An unknown or invalid parameter.

    Notes
    -----
    Over 80 lines because every setting is a typed keyword (so mypy checks callers) and
    is passed by name to the settings registry; the work is done in :func:`_run`.
    """
    if personalize_by is not None:
        raise ConfigError(
            "levelfield does not set prices personalised by customer attributes (fairness "
            "rule); use segment_discounts with allow_segment_discounts=True for named, "
            "published segment discounts"
        )
    params, used = ws.settings.resolve(
        "pricing",
        {
            "estimator": estimator,
            "min_distinct_prices": min_distinct_prices,
            "min_log_price_sd": min_log_price_sd,
            "min_weeks": min_weeks,
            "stockout_probability": stockout_probability,
            "outlier_threshold": outlier_threshold,
            "zero_share_for_ppml": zero_share_for_ppml,
            "min_units_for_ols": min_units_for_ols,
            "shrink": shrink,
            "max_step": max_step,
            "floor": floor,
            "ceiling": ceiling,
            "use_competitor_index": use_competitor_index,
            "min_margin": min_margin,
            "price_endings": price_endings,
            "channel_parity": channel_parity,
            "wholesale_channels": wholesale_channels,
            "wholesale_parity": wholesale_parity,
            "competitor_ceiling": competitor_ceiling,
            "competitor_ceiling_premium": competitor_ceiling_premium,
            "allow_segment_discounts": allow_segment_discounts,
            "segment_discounts": segment_discounts,
            "promo_threshold": promo_threshold,
            "baseline_weeks": baseline_weeks,
            "alpha": alpha,
            "exclude_channels": exclude_channels,
        },
    )
    if params["exclude_channels"] is None:
        del params["exclude_channels"]
    if guardrails is not None:
        if not isinstance(guardrails, Guardrails):
            raise ConfigError(
                f"guardrails must be a Guardrails object, not {type(guardrails).__name__}"
            )
        params["guardrails"] = guardrails
        used.update({f"pricing.{k}": v for k, v in guardrails.as_dict().items()})
    return _run(ws, params, progress, used)


def _guardrails_from(params: Mapping[str, Any]) -> Guardrails:
    """The run's guardrails: the object passed in, or built from the guardrail settings."""
    guard = params.get("guardrails")
    if guard is None:
        gkw = {k: params[k] for k in _GUARD_PARAMS if k in params}
        for name in ("price_endings", "wholesale_channels"):
            if name in gkw:
                gkw[name] = tuple(gkw[name])
        return Guardrails(**gkw)
    if not isinstance(guard, Guardrails):
        raise ConfigError(f"guardrails must be a Guardrails object, not {type(guard).__name__}")
    return guard


def _run_options(params: Mapping[str, Any]) -> tuple[int, float]:
    """``baseline_weeks`` (whole number >= 1, default 13) and the pilots' ``alpha``
    (between 0 and 1, default 0.05), checked."""
    baseline_weeks = params.get("baseline_weeks", 13)
    if (
        isinstance(baseline_weeks, bool)
        or not isinstance(baseline_weeks, int)
        or baseline_weeks < 1
    ):
        raise ConfigError(f"baseline_weeks must be a whole number >= 1, not {baseline_weeks!r}")
    alpha = params.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, not {alpha!r}")
    return baseline_weeks, alpha


def _panel_notes(pdata: PanelData) -> list[str]:
    """Plain-language notes on what the weekly panel left out or had to stand in for.

    Lines with a zero or negative price also raise a :class:`DataQualityWarning`.
    """
    notes: list[str] = []
    if pdata.excluded_channels:
        notes.append(
            f"channel(s) {', '.join(pdata.excluded_channels)} left out of demand estimation "
            "(negotiated prices); recommendations are for posted prices"
        )
    bad_price = pdata.excluded["non_positive_price"]
    if bad_price:
        notes.append(f"{bad_price} order line(s) with a zero or negative price were left out")
        warnings.warn(
            f"pricing: {bad_price} order line(s) with a zero or negative price were left out; "
            "check the unit_price and list_price columns of those lines",
            DataQualityWarning,
            stacklevel=3,
        )
    if pdata.excluded["non_positive_quantity"]:
        notes.append(
            f"{pdata.excluded['non_positive_quantity']} line(s) with zero or negative quantity "
            "(returns) were left out of demand"
        )
    if pdata.list_price_known < 0.5:
        notes.append(
            f"only {pdata.list_price_known:.0%} of lines have a posted (list) price; elsewhere the "
            "week's most common selling price stands in for it (import list prices for "
            "cleaner elasticities)"
        )
    return notes


def _run(
    ws: Workspace,
    params: dict[str, Any],
    progress: ProgressCallback,
    settings: Mapping[str, Any],
) -> PricingResult:
    """Run the pricing analysis with resolved parameters and record it.

    Stages: options (:func:`_guardrails_from`, :func:`_run_options`), the weekly panel
    and its notes (:func:`_panel_notes`), elasticities (:func:`_fit_elasticities`),
    recommendations (:func:`_recommendations`: costs, baseline, competitor range, channel
    prices, rival prices), pilots.
    """
    started = _utcnow()
    guard = _guardrails_from(params)
    baseline_weeks, alpha = _run_options(params)
    model = ElasticityModel(**{k: params[k] for k in _MODEL_PARAMS if k in params})
    model._check_params()
    con = ws.con

    progress("building the weekly product panel", 0.05)
    pdata = weekly_panel(
        con,
        promo_threshold=params.get("promo_threshold", 0.5),
        exclude_channels=params.get("exclude_channels", guard.wholesale_channels),
    )
    notes = _panel_notes(pdata)

    progress("estimating elasticities", 0.25)
    el = _fit_elasticities(model, pdata.panel)
    notes.extend(model.notes_)

    progress("recommending prices", 0.7)
    recs, chan_table, rec_notes = _recommendations(ws, el, model.panel_, guard, baseline_weeks)
    notes.extend(rec_notes)

    progress("reading pilots", 0.85)
    pilots, pilot_notes = analyze_pilots(con, alpha=float(alpha))
    notes.extend(pilot_notes)

    result = PricingResult(
        currency=ws.currency(),
        elasticities=el,
        categories=model.categories_,
        pooled=model.pooled_,
        recommendations=recs,
        channel_prices=chan_table,
        pilots=tuple(pilots),
        panel=model.panel_,
        curve=model.curve_,
        promo_effect=model.promo_effect_,
        notes=tuple(notes),
        params=_json_params(params, guard, model),
        pilots_not_analysed=tuple(pilot_notes),
    )
    if not np.isfinite(result.pooled.elasticity):
        raise InsufficientDataError("the pooled elasticity could not be estimated")
    ws.record_run("pricing", result.params, result.summary(), started, settings=settings)
    progress("done", 1.0)
    return result


def _fit_elasticities(model: ElasticityModel, panel: pd.DataFrame) -> pd.DataFrame:
    """Fit ``model`` on the weekly panel; its elasticities per SKU with the SKU's revenue."""
    model.fit(panel)
    rev = panel.groupby("sku", as_index=False)["revenue"].sum()
    return model.elasticities_.copy().merge(rev, on="sku", how="left")


def _recommendations(
    ws: Workspace,
    el: pd.DataFrame,
    panel: pd.DataFrame,
    guard: Guardrails,
    baseline_weeks: int,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Guarded price recommendations, the channel price table and their notes.

    ``el`` are the fitted elasticities (:func:`_fit_elasticities`), ``panel`` the model's
    weekly panel (for the baseline of the last ``baseline_weeks`` weeks). Costs,
    competitor range, channel prices and rival prices are read from the workspace.
    """
    con = ws.con
    notes: list[str] = []
    # Prices are compared in the base currency: each cost converted at today's rate.
    costs = con.execute("SELECT sku, unit_cost_base AS unit_cost FROM product_costs").df()
    costs = costs.loc[costs["unit_cost"].notna() & (costs["unit_cost"] >= 0)]
    base = _baseline(panel, baseline_weeks)
    prod = (
        el[["sku", "name", "category", "status", "current_price", "elasticity", "se"]]
        .merge(costs, on="sku", how="left")
        .merge(base, on="sku", how="left")
    )
    comp_range, comp_note = (None, None)
    if guard.use_competitor_index:
        comp_range, comp_note = competitor_price_range(con)
    if comp_note:
        notes.append(comp_note)
    chan = channel_prices(con, weeks=baseline_weeks)
    if chan["channel"].nunique() < 2:
        chan = chan.iloc[0:0]
    ref, ref_notes = rival_reference(con, ws.currency())
    notes.extend(ref_notes)
    recs, chan_table = recommend_prices(
        prod, guard, competitor_range=comp_range, channel_prices=chan, rival_reference=ref
    )
    withheld_note = _withheld_note(recs)
    if withheld_note:
        notes.append(withheld_note)
    if guard.segment_discounts and not guard.allow_segment_discounts:
        notes.append(
            "segment discounts were asked for but not opted in (allow_segment_discounts=True); "
            "one price for every customer was kept"
        )
    return recs, chan_table, notes


_LOOSEN = {
    "price_ending": "allow exact prices (price_endings=[])",
    "max_step": "allow a larger max_step",
    "min_margin": "lower min_margin",
    "floor": "lower the floor",
    "ceiling": "raise the ceiling",
    "competitor_ceiling": "raise competitor_ceiling_premium or turn competitor_ceiling off",
    "channel_parity": "widen channel_parity or list the channel in wholesale_channels",
}


def _withheld_note(recs: pd.DataFrame) -> str | None:
    """Plain words for prices withheld because the guardrails leave no price."""
    w = recs.loc[recs["withheld"], "reasons"]
    if w.empty:
        return None
    conflicts = w.str.split(";").map(lambda codes: " with ".join(c for c in codes if c in _LOOSEN))
    top = conflicts.value_counts()
    parts = ", ".join(f"{k} ({v})" for k, v in top.head(3).items())
    first = [c for c in str(top.index[0]).split(" with ") if c in _LOOSEN]
    fix = " or ".join(_LOOSEN[c] for c in first)
    return (
        f"{len(w)} price recommendation(s) withheld: no price satisfies every guardrail at "
        f"once (conflicts: {parts}); to get a price, {fix}"
    )


def _json_params(
    params: Mapping[str, Any], guard: Guardrails, model: ElasticityModel
) -> dict[str, Any]:
    out: dict[str, Any] = {**model.get_params(), **guard.as_dict()}
    for k in ("promo_threshold", "baseline_weeks", "alpha", "exclude_channels"):
        if k in params:
            out[k] = params[k]
    return out
