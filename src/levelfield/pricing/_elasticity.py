"""Price elasticity of demand per product from the weekly panel."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from levelfield._estimator import Estimator as _EstimatorBase
from levelfield.errors import (
    ConfigError,
    InsufficientDataError,
    InsufficientPriceVariation,
    NotFittedError,
    SchemaError,
    UnknownReferenceError,
)
from levelfield.pricing._fixed_effects import (
    FixedEffectsFit,
    ProductSlopesFit,
    fe_ols,
    product_slopes,
    product_slopes_ppml,
)
from levelfield.pricing._shrinkage import shrink_to_group_means

__all__ = ["ElasticityModel", "PooledElasticity"]

Estimator = Literal["auto", "ols", "ppml"]
_REQUIRED = ("sku", "week", "quantity", "posted_price")
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class PooledElasticity:
    """One elasticity for all products (two-way fixed effects, clustered by product).

    Attributes
    ----------
    elasticity, se
        Common log-log slope on the posted price and its product-clustered SE.
    promo_effect, promo_se
        Log change in weekly units in promotion weeks.
    n_obs, n_products, n_weeks
        Observations (product-weeks with sales), products and weeks.
    iterations, converged
        Alternating-projection sweeps of the within transform.
    """

    elasticity: float
    se: float
    promo_effect: float
    promo_se: float
    n_obs: int
    n_products: int
    n_weeks: int
    iterations: int
    converged: bool

    @property
    def ci(self) -> tuple[float, float]:
        return (self.elasticity - _Z95 * self.se, self.elasticity + _Z95 * self.se)


def _check_share(name: str, v: Any, lo: float = 0.0, hi: float = 1.0) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= float(v) <= hi:
        raise ConfigError(f"{name} must be a number between {lo} and {hi}, not {v!r}")
    return float(v)


class ElasticityModel(_EstimatorBase):
    """Product price elasticities from a weekly panel of units sold and posted prices.

    The model is ``log q[p,t] = a[p] + e[p] log P[p,t] + g[t] + c promo[p,t] + u``:
    log weekly units on the log *posted* (list) price, product and week fixed effects,
    a promotion indicator, one elasticity ``e[p]`` per product. The posted price is
    used, not the realized unit price, because volume-tier discounts make the realized
    price fall when quantities are large — a regression on it finds elasticity that
    is not there. Zero-sales weeks drop out of a log model; Poisson pseudo-maximum
    likelihood (PPML) keeps them and is used for products where they are common.
    Weeks that look like stock-outs (no sales where the product normally sells enough
    for a zero to be very unlikely, at a price not above its usual one) are flagged and
    excluded. Weekly quantity outliers (log residuals beyond ``outlier_threshold``
    robust standard deviations of the product's residuals) are pulled in to that
    limit and counted. Finally product elasticities are pooled toward their
    category mean (empirical Bayes), so thin products borrow strength.

    Parameters
    ----------
    estimator
        ``"ols"`` (log-log), ``"ppml"`` (Poisson PML for every product) or ``"auto"``
        (PPML for products with at least ``zero_share_for_ppml`` zero-sales weeks or
        fewer than ``min_units_for_ols`` median units in a selling week, where the log
        of small counts would bias OLS toward zero).
    min_distinct_prices
        A product needs this many distinct posted prices to estimate its elasticity
        (2: one price change, identified against the other products' weeks).
    min_log_price_sd
        ...and at least this standard deviation of log posted price (0.02 ≈ 2 %).
    min_weeks
        ...and this many selling weeks.
    stockout_probability
        A zero week is a stock-out when zero sales would have had less than this
        probability under Poisson demand at the product's median weekly units.
    outlier_threshold
        Robust z-score of a log residual beyond which a week is an outlier.
    zero_share_for_ppml
        Share of zero weeks (0–1) from which ``"auto"`` uses PPML for a product.
    min_units_for_ols
        Median weekly units below which ``"auto"`` uses PPML.
    shrink
        Partially pool product elasticities toward their category mean.

    Attributes
    ----------
    elasticities_ : pandas.DataFrame
        One row per product (see :meth:`fit`).
    pooled_ : PooledElasticity
    categories_ : pandas.DataFrame
        Category mean elasticity (random-effects) with its SE and product count.
    panel_ : pandas.DataFrame
        The panel with flags (``stockout``, ``outlier``, ``used``) and week effects.
    notes_ : list[str]
        Plain-language notes on repairs and exclusions.

    References
    ----------
    Wooldridge, J. M. (2010). *Econometric Analysis of Cross Section and Panel Data*,
    2nd ed., ch. 10. MIT Press.
    Santos Silva, J. M. C. and Tenreyro, S. (2006). The log of gravity. *REStat* 88(4).
    Hitsch, G. J., Hortaçsu, A. and Lin, X. (2021). Prices and promotions in U.S.
    retail markets. *Quantitative Marketing and Economics* 19, 289–368.
    Morris, C. N. (1983). Parametric empirical Bayes inference. *JASA* 78(381), 47–55.
    """

    def __init__(
        self,
        *,
        estimator: Estimator = "auto",
        min_distinct_prices: int = 2,
        min_log_price_sd: float = 0.02,
        min_weeks: int = 6,
        stockout_probability: float = 0.01,
        outlier_threshold: float = 5.0,
        zero_share_for_ppml: float = 0.1,
        min_units_for_ols: float = 20.0,
        shrink: bool = True,
    ) -> None:
        self.estimator = estimator
        self.min_distinct_prices = min_distinct_prices
        self.min_log_price_sd = min_log_price_sd
        self.min_weeks = min_weeks
        self.stockout_probability = stockout_probability
        self.outlier_threshold = outlier_threshold
        self.zero_share_for_ppml = zero_share_for_ppml
        self.min_units_for_ols = min_units_for_ols
        self.shrink = shrink

    # -- parameters ---------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.estimator not in ("auto", "ols", "ppml"):
            raise ConfigError(f"estimator must be 'auto', 'ols' or 'ppml', not {self.estimator!r}")
        for name in ("min_distinct_prices", "min_weeks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 2:
                raise ConfigError(f"{name} must be a whole number >= 2, not {v!r}")
        _check_share("min_log_price_sd", self.min_log_price_sd, 0.0, 10.0)
        _check_share("stockout_probability", self.stockout_probability)
        _check_share("outlier_threshold", self.outlier_threshold, 1.0, 1e6)
        _check_share("zero_share_for_ppml", self.zero_share_for_ppml)
        _check_share("min_units_for_ols", self.min_units_for_ols, 0.0, 1e9)
        if not isinstance(self.shrink, bool):
            raise ConfigError(f"shrink must be True or False, not {self.shrink!r}")

    # -- fit ----------------------------------------------------------------------------
    def fit(self, panel: pd.DataFrame) -> ElasticityModel:
        """Estimate elasticities from a weekly panel.

        Parameters
        ----------
        panel
            Columns ``sku, week, quantity, posted_price`` and optionally ``category``,
            ``name``, ``promo`` (bool), ``realized_price``, as made by
            :func:`levelfield.pricing.weekly_panel`. Zero-sales weeks should be present
            with quantity 0.

        Returns
        -------
        self
        """
        self._check_params()
        if not isinstance(panel, pd.DataFrame):
            raise ConfigError(f"panel must be a pandas DataFrame, not {type(panel).__name__}")
        missing = [c for c in _REQUIRED if c not in panel.columns]
        if missing:
            raise SchemaError(
                f"pricing panel is missing column(s) {', '.join(missing)}; build it with "
                "levelfield.pricing.weekly_panel(ws.con)"
            )
        notes: list[str] = []
        df = panel.copy()
        if "category" not in df.columns:
            df["category"] = "uncategorised"
        if "name" not in df.columns:
            df["name"] = df["sku"].astype(str)
        if "promo" not in df.columns:
            df["promo"] = False
        df["category"] = df["category"].fillna("uncategorised").astype(str)
        df["sku"] = df["sku"].astype(str)
        q = pd.to_numeric(df["quantity"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        price = pd.to_numeric(df["posted_price"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = ~np.isfinite(q) | ~np.isfinite(price) | (price <= 0) | (q < 0)
        if bad.any():
            notes.append(
                f"{int(bad.sum())} product-week(s) with a missing, zero or negative price or "
                "quantity were left out"
            )
            df = df.loc[~bad].reset_index(drop=True)
            q, price = q[~bad], price[~bad]
        if df.empty:
            raise InsufficientDataError(
                "no product-weeks with a positive posted price and a quantity; check that "
                "order lines carry prices (unit_price, list_price > 0)"
            )
        df["quantity"] = q
        df["posted_price"] = price
        df["week"] = pd.to_datetime(df["week"])
        df["promo"] = df["promo"].fillna(False).astype(bool)

        # Estimation units are cells (product x channel when channels are given, with
        # channel-specific week effects so that one channel's growth does not pass for a
        # price response); cell elasticities are combined per product at the end.
        by_channel = "channel" in df.columns
        if by_channel:
            df["channel"] = df["channel"].fillna("").astype(str)
            cell_key = df["sku"] + "\x1f" + df["channel"]
            time_key = df["channel"] + "\x1f" + df["week"].dt.strftime("%Y-%m-%d")
        else:
            cell_key, time_key = df["sku"], df["week"]
        cell_codes, cells = pd.factorize(cell_key, sort=True)
        week_codes, weeks = pd.factorize(time_key, sort=True)
        sku_codes, skus = pd.factorize(df["sku"], sort=True)
        P, T, S = len(cells), len(weeks), len(skus)
        p = cell_codes.astype(np.intp)
        t = week_codes.astype(np.intp)
        cell_sku = np.zeros(P, dtype=np.intp)
        cell_sku[p] = sku_codes
        cell_channel = np.full(P, "", dtype=object)
        if by_channel:
            cell_channel[p] = df["channel"].to_numpy(dtype=object)
        x = np.log(price)
        sell = q > 0
        promo = df["promo"].to_numpy(dtype=np.float64)

        # -- per-product descriptive statistics (vectorized group reductions)
        sell_weeks = np.bincount(p, weights=sell.astype(float), minlength=P)
        all_weeks = np.bincount(p, minlength=P)
        grp = df.assign(_x=x, _cents=np.round(price, 2)).groupby(p, sort=True)
        distinct = grp["_cents"].nunique().to_numpy()
        sd_x = grp["_x"].std(ddof=0).fillna(0.0).to_numpy()
        med_q = (
            df.loc[sell, "quantity"]
            .groupby(p[sell])
            .median()
            .reindex(range(P))
            .fillna(0.0)
            .to_numpy()
        )
        med_x = grp["_x"].median().to_numpy()

        # -- stock-out-looking weeks: a zero nobody would expect, at a usual price
        stockout = (
            (~sell) & (np.exp(-med_q[p]) < self.stockout_probability) & (x <= med_x[p] + 1e-9)
        )
        if stockout.any():
            notes.append(
                f"{int(stockout.sum())} week(s) with no sales where sales were expected look like "
                "stock-outs and were excluded"
            )
        stock_p = np.bincount(p, weights=stockout.astype(float), minlength=P)

        # -- which products can teach an elasticity
        reason = np.full(P, "", dtype=object)
        too_few_weeks = sell_weeks < self.min_weeks
        few_prices = distinct < self.min_distinct_prices
        tiny_sd = sd_x < self.min_log_price_sd
        reason[too_few_weeks] = [
            f"sold in {int(n)} week(s) only; needs {self.min_weeks}"
            for n in sell_weeks[too_few_weeks]
        ]
        reason[tiny_sd & ~too_few_weeks] = [
            f"posted price varied by only {s:.1%} (log SD); needs {self.min_log_price_sd:.0%}"
            for s in sd_x[tiny_sd & ~too_few_weeks]
        ]
        fp = few_prices & ~too_few_weeks
        reason[fp] = [
            f"only {int(d)} distinct posted price(s); needs {self.min_distinct_prices}"
            for d in distinct[fp]
        ]
        slope_ok = ~(too_few_weeks | few_prices | tiny_sd)

        # -- log-log OLS on selling, non-stock-out weeks; then robust second pass
        use = sell & ~stockout
        if not use.any():
            raise InsufficientDataError("no selling weeks left after excluding stock-outs")
        y = np.log(np.where(use, q, 1.0))
        ps, ts = p[use], t[use]
        fit1 = product_slopes(
            y[use], x[use], ps, ts, n_products=P, n_weeks=T, extra=promo[use], slope_ok=slope_ok
        )
        u = y[use] - fit1.fitted
        mad = (
            pd.Series(np.abs(u - pd.Series(u).groupby(ps).transform("median").to_numpy()))
            .groupby(ps)
            .transform("median")
            .to_numpy()
        )
        scale_all = float(np.median(np.abs(u - np.median(u)))) * 1.4826
        cnt = np.bincount(ps, minlength=P)[ps]
        scale = np.where(cnt >= 8, 1.4826 * mad, scale_all)
        scale = np.maximum(scale, max(scale_all * 0.25, 1e-6))
        limit = self.outlier_threshold * scale
        outlier_use = np.abs(u) > limit
        y_use = y[use].copy()
        if outlier_use.any():
            y_use = fit1.fitted + np.clip(u, -limit, limit)
            notes.append(
                f"{int(outlier_use.sum())} product-week(s) with unusual quantities (beyond "
                f"{self.outlier_threshold:g} robust SDs) were pulled in to that limit"
            )
        fit = product_slopes(
            y_use, x[use], ps, ts, n_products=P, n_weeks=T, extra=promo[use], slope_ok=slope_ok
        )
        outlier = np.zeros(q.size, dtype=bool)
        outlier[np.flatnonzero(use)[outlier_use]] = True
        out_p = np.bincount(p, weights=outlier.astype(float), minlength=P)

        # -- Poisson PML keeps zero-sales weeks
        zero_weeks = np.bincount(p, weights=(~sell & ~stockout).astype(float), minlength=P)
        considered = all_weeks - stock_p
        zero_share = zero_weeks / np.maximum(considered, 1)
        # Log-linear OLS is biased for small counts (zeros dropped, log of a few units);
        # Poisson PML is not, so "auto" uses it for cells with zeros or few units a week.
        low_counts = (zero_share >= self.zero_share_for_ppml) | (med_q < self.min_units_for_ols)
        want_ppml = self.estimator == "ppml" or (
            self.estimator == "auto" and bool(np.any(low_counts[slope_ok]))
        )
        ppml: ProductSlopesFit | None = None
        if want_ppml:
            ppml = self._fit_ppml(q, x, p, t, promo, ~stockout, P, T, slope_ok, notes)
        if self.estimator == "ppml" and ppml is not None:
            use_ppml = np.isfinite(ppml.slope)
        elif ppml is not None:
            use_ppml = low_counts & np.isfinite(ppml.slope)
        else:
            use_ppml = np.zeros(P, dtype=bool)
        e_ppml = ppml.slope if ppml is not None else np.full(P, np.nan)
        s_ppml = ppml.slope_se if ppml is not None else np.full(P, np.nan)
        e_raw = np.where(use_ppml, e_ppml, fit.slope)
        s_raw = np.where(use_ppml, s_ppml, fit.slope_se)
        est = slope_ok & np.isfinite(e_raw) & np.isfinite(s_raw) & (s_raw > 0)
        reason[slope_ok & ~est] = "the estimate could not be computed (no residual variation)"

        # -- pooled model (one elasticity for all) for the headline and benchmark
        pooled_fit: FixedEffectsFit = fe_ols(
            y_use, np.column_stack([x[use], promo[use]]), ps, ts, cell_sku[ps]
        )
        pooled = PooledElasticity(
            elasticity=float(pooled_fit.coef[0]),
            se=float(pooled_fit.se[0]),
            promo_effect=float(pooled_fit.coef[1]),
            promo_se=float(pooled_fit.se[1]),
            n_obs=pooled_fit.n_obs,
            n_products=int(np.unique(cell_sku[ps]).size),
            n_weeks=int(np.unique(ts).size),
            iterations=pooled_fit.iterations,
            converged=pooled_fit.converged,
        )

        # -- combine cells into products (inverse-variance weighted elasticities)
        cell_units = np.bincount(p, weights=q, minlength=P).astype(np.float64)
        main = _main_cell(cell_sku, cell_units, S)
        ols_p, ols_se_p = _combine(fit.slope, fit.slope_se, slope_ok, cell_sku, S)
        ppml_p, ppml_se_p = _combine(e_ppml, s_ppml, slope_ok, cell_sku, S)
        raw_p, raw_se_p = _combine(e_raw, s_raw, est, cell_sku, S)
        est_p = np.isfinite(raw_p) & np.isfinite(raw_se_p) & (raw_se_p > 0)
        ok_p = np.bincount(cell_sku, weights=slope_ok.astype(float), minlength=S) > 0
        ppml_cells = np.bincount(cell_sku, weights=(use_ppml & est).astype(float), minlength=S)
        est_cells = np.bincount(cell_sku, weights=est.astype(float), minlength=S)
        estimator = np.where(est_p, np.where(ppml_cells * 2 > est_cells, "ppml", "ols"), "")
        reason_p = np.where(est_p, "", reason[main])
        few_weeks_p = (
            np.bincount(cell_sku, weights=(~too_few_weeks).astype(float), minlength=S) == 0
        )

        def total(v: NDArray[Any]) -> NDArray[np.float64]:
            return np.bincount(cell_sku, weights=v, minlength=S).astype(np.float64)

        def largest(v: NDArray[Any]) -> NDArray[np.float64]:
            out = np.full(S, -np.inf)
            np.maximum.at(out, cell_sku, v)
            return out

        # -- partial pooling toward category means
        # most frequent category per product (ties: alphabetical)
        cat_counts = (
            pd.DataFrame({"p": sku_codes, "c": df["category"].to_numpy()})
            .value_counts()
            .reset_index()
            .sort_values(["p", "count", "c"], ascending=[True, False, True])
            .drop_duplicates("p")
        )
        cat_of = cat_counts.sort_values("p")["c"].to_numpy()
        name_of = df.groupby(sku_codes, sort=True)["name"].first().astype(str).to_numpy()
        cat_codes, cats = pd.factorize(pd.Series(cat_of), sort=True)
        e_post = np.full(S, np.nan)
        s_post = np.full(S, np.nan)
        w_own = np.full(S, np.nan)
        e_raw, s_raw, est = raw_p, raw_se_p, est_p
        cat_mean = np.full(len(cats), np.nan)
        cat_se = np.full(len(cats), np.nan)
        tau2 = float("nan")
        idx = np.flatnonzero(est)
        if idx.size:
            if self.shrink and idx.size >= 3:
                sh = shrink_to_group_means(
                    e_raw[idx], s_raw[idx], cat_codes[idx].astype(np.intp), n_groups=len(cats)
                )
                e_post[idx], s_post[idx], w_own[idx] = sh.estimate, sh.se, sh.weight
                cat_mean, cat_se, tau2 = sh.group_mean, sh.group_se, sh.tau2
            else:
                e_post[idx], s_post[idx], w_own[idx] = e_raw[idx], s_raw[idx], 1.0
                if self.shrink:
                    notes.append("fewer than 3 products with estimates: no partial pooling")
        n_est_cat = (
            np.bincount(cat_codes[idx], minlength=len(cats))
            if idx.size
            else np.zeros(len(cats), int)
        )

        last_price = df.groupby(p, sort=True)["posted_price"].last().to_numpy()[main]
        status = np.where(est, "estimated", "insufficient_price_variation")
        status = np.where(few_weeks_p & ~est, "too_few_weeks", status)
        table = pd.DataFrame(
            {
                "sku": np.asarray(skus, dtype=object),
                "name": name_of,
                "category": cat_of,
                "status": status,
                "reason": reason_p,
                "channels": np.bincount(cell_sku, minlength=S),
                "weeks": total(all_weeks.astype(float)).astype(int),
                "selling_weeks": total(sell_weeks).astype(int),
                "zero_weeks": total(zero_weeks).astype(int),
                "stockout_weeks": total(stock_p).astype(int),
                "outlier_weeks": total(out_p).astype(int),
                "distinct_prices": largest(distinct.astype(float)).astype(int),
                "log_price_sd": largest(sd_x),
                "current_price": last_price,
                "elasticity_ols": np.where(ok_p, ols_p, np.nan),
                "se_ols": np.where(ok_p, ols_se_p, np.nan),
                "elasticity_ppml": np.where(ok_p, ppml_p, np.nan),
                "se_ppml": np.where(ok_p, ppml_se_p, np.nan),
                "estimator": estimator,
                "elasticity_raw": np.where(est, e_raw, np.nan),
                "se_raw": np.where(est, s_raw, np.nan),
                "elasticity": e_post,
                "se": s_post,
                "ci_low": e_post - _Z95 * s_post,
                "ci_high": e_post + _Z95 * s_post,
                "own_weight": w_own,
            }
        )
        self.categories_ = pd.DataFrame(
            {
                "category": np.asarray(cats, dtype=object),
                "mean_elasticity": cat_mean,
                "se": cat_se,
                "products_estimated": n_est_cat,
            }
        )
        self.tau2_ = tau2
        # panel with flags, week effects and fitted values for charts and baselines
        week_effect = fit.week_effect - float(np.mean(fit.week_effect))
        cols = ["sku", "name", "category", "week", "quantity", "posted_price", "promo"]
        out = df[[*cols, "channel"] if by_channel else cols].copy()
        if "realized_price" in df.columns:
            out["realized_price"] = df["realized_price"].to_numpy()
        out["stockout"] = stockout
        out["outlier"] = outlier
        out["used"] = use
        out["week_effect"] = week_effect[t]
        # quantity with week and promotion effects removed (for the demand-curve chart)
        out["adjusted_quantity"] = q * np.exp(
            np.clip(-week_effect[t] - fit.extra[0] * promo, -50.0, 50.0)
        )
        # Duan smearing: mean of exp(residual) per product, to turn log fits into units
        resid = y_use - fit.fitted
        smear = np.bincount(ps, weights=np.exp(resid), minlength=P) / np.maximum(
            np.bincount(ps, minlength=P), 1
        )
        self.curve_ = pd.DataFrame(
            {
                "sku": np.asarray(skus, dtype=object),
                "channel": cell_channel[main],
                "intercept": (fit.intercept + float(np.mean(fit.week_effect)))[main],
                "x_mean": fit.x_mean[main],
                "smearing": smear[main],
            }
        )
        self.elasticities_ = table
        self.pooled_ = pooled
        self.promo_effect_ = float(fit.extra[0])
        self.panel_ = out
        self.notes_ = notes
        self.n_products_ = S
        self.n_weeks_ = int(df["week"].nunique())
        return self

    def _fit_ppml(
        self,
        q: NDArray[np.float64],
        x: NDArray[np.float64],
        p: NDArray[np.intp],
        t: NDArray[np.intp],
        promo: NDArray[np.float64],
        keep: NDArray[np.bool_],
        P: int,
        T: int,
        slope_ok: NDArray[np.bool_],
        notes: list[str],
    ) -> ProductSlopesFit | None:
        # weeks with no sales of any product carry no information in a Poisson model
        tot_t = np.bincount(t[keep], weights=q[keep], minlength=T)
        k = keep & (tot_t[t] > 0)
        tot_p = np.bincount(p[k], weights=q[k], minlength=P)
        k &= tot_p[p] > 0
        if not k.any():
            return None
        try:
            return product_slopes_ppml(
                q[k], x[k], p[k], t[k], n_products=P, n_weeks=T, extra=promo[k], slope_ok=slope_ok
            )
        except np.linalg.LinAlgError:
            notes.append("the zero-sales (Poisson) estimator failed numerically; log-log OLS used")
            return None

    # -- use ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "elasticities_"):
            raise NotFittedError("ElasticityModel is not fitted; call fit(panel) first")

    def elasticity(self, sku: str) -> float:
        """The (partially pooled) elasticity of one product.

        Raises
        ------
        InsufficientPriceVariation
            The product's price never moved enough (or it sold in too few weeks).
        UnknownReferenceError
            The product is not in the panel.
        """
        self._check_fitted()
        rows = self.elasticities_.loc[self.elasticities_["sku"] == str(sku)]
        if rows.empty:
            raise UnknownReferenceError(f"product {sku!r} is not in the pricing panel")
        row = rows.iloc[0]
        if row["status"] != "estimated":
            raise InsufficientPriceVariation(
                f"no elasticity for product {sku!r}: {row['reason']}. Run a price pilot "
                "(levelfield.pricing.plan_pilot) to learn it"
            )
        return float(row["elasticity"])

    def predict(self, sku: str, price: float | NDArray[np.float64]) -> NDArray[np.float64]:
        """Expected weekly units of ``sku`` at posted ``price`` (average week, no promotion)."""
        e = self.elasticity(sku)
        prices = np.atleast_1d(np.asarray(price, dtype=np.float64))
        if np.any(~np.isfinite(prices)) or np.any(prices <= 0):
            raise ConfigError("prices must be positive numbers")
        c = self.curve_.loc[self.curve_["sku"] == str(sku)].iloc[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return np.asarray(
                c["smearing"] * np.exp(c["intercept"] + e * (np.log(prices) - c["x_mean"])),
                dtype=np.float64,
            )


def _combine(
    est: NDArray[np.float64],
    se: NDArray[np.float64],
    ok: NDArray[np.bool_],
    group: NDArray[np.intp],
    n: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inverse-variance weighted mean of cell estimates per product, with its SE."""
    good = ok & np.isfinite(est) & np.isfinite(se) & (se > 0)
    w = np.where(good, 1.0 / np.where(good, se, 1.0) ** 2, 0.0)
    sw = np.bincount(group, weights=w, minlength=n)
    mean = np.bincount(group, weights=w * np.where(good, est, 0.0), minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (
            np.where(sw > 0, mean / np.where(sw > 0, sw, 1.0), np.nan),
            np.where(sw > 0, 1.0 / np.sqrt(np.where(sw > 0, sw, 1.0)), np.nan),
        )


def _main_cell(cell_sku: NDArray[np.intp], units: NDArray[np.float64], n: int) -> NDArray[np.intp]:
    """The cell (channel) with the most units of each product."""
    order = np.lexsort((-units, cell_sku))
    first = np.ones(order.size, dtype=bool)
    first[1:] = cell_sku[order][1:] != cell_sku[order][:-1]
    main = np.zeros(n, dtype=np.intp)
    main[cell_sku[order][first]] = order[first]
    return main
