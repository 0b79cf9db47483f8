"""Driver distributions and rank correlation that keeps the marginals.

Every distribution maps a *latent standard normal* ``z`` to the driver's value through
its quantile function, ``x = F^{-1}(Phi(z))``. Correlated latent normals therefore give
correlated drivers with exactly the requested marginals (a Gaussian copula). Normal and
lognormal drivers map ``z`` in closed form; bounded ones (uniform, triangular, PERT) use
their quantile function tabulated on a fine, evenly spaced grid of ``z`` and linearly
interpolated, which is exact to about 1e-7 of the range and avoids evaluating ``Phi``
and an inverse beta function for every one of hundreds of millions of draws. Empirical
drivers (bootstrap from the business's own history) pick history values by comparing
``z`` with the normal quantiles of ``k / n``, which is an exact bootstrap draw.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from levelfield.errors import ConfigError, DataQualityWarning, ModelError

__all__ = [
    "PERT",
    "Constant",
    "Distribution",
    "Empirical",
    "LogNormal",
    "Normal",
    "Triangular",
    "Uniform",
    "distribution_from_dict",
    "gaussian_copula_matrix",
    "iman_conover",
    "latent_mixing_matrix",
    "nearest_correlation",
    "spearman_matrix",
    "validate_correlation",
]

FloatArray = NDArray[np.float64]

# Latent grid for tabulated quantile functions: Phi(-8.5) is about 1e-17, below the
# resolution of double precision uniforms, so nothing outside it can be drawn.
_Z_LO = -8.5
_Z_HI = 8.5
_GRID = 1 << 14


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a number, not {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be a finite number, not {v}")
    return v


class Distribution:
    """Base class: a driver's marginal distribution, sampled through a latent normal."""

    kind: str = "distribution"

    def ppf(self, u: ArrayLike) -> FloatArray:
        """Quantile function at probabilities ``u`` (0–1)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def from_normal(self, z: FloatArray) -> FloatArray:
        """Values for latent standard normals ``z`` (any shape)."""
        return self.ppf(special.ndtr(z))

    def expected_value(self) -> float:
        """Mean of the distribution."""
        raise NotImplementedError  # pragma: no cover - abstract

    def median(self) -> float:
        """Median (the value at latent ``z = 0``)."""
        return float(self.ppf(np.array([0.5]))[0])

    def describe(self) -> str:
        """Short text such as ``normal(mean=1, sd=0.1)``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``kind`` plus parameters)."""
        raise NotImplementedError  # pragma: no cover - abstract


#: Quantile tables by distribution parameters (they are pure functions of them).
_TABLES: dict[tuple[Any, ...], FloatArray] = {}


class _Tabulated(Distribution):
    """Bounded distribution whose quantile function is tabulated on a latent grid."""

    _table: FloatArray

    def _build_table(self) -> None:
        key = (type(self).__name__, *(float(v) for v in self.to_dict().values() if
                                      isinstance(v, int | float)))  # fmt: skip
        table = _TABLES.get(key)
        if table is None:
            z = np.linspace(_Z_LO, _Z_HI, _GRID + 1)
            table = self.ppf(special.ndtr(z))
            table.setflags(write=False)
            if len(_TABLES) < 256:
                _TABLES[key] = table
        object.__setattr__(self, "_table", table)

    def from_normal(self, z: FloatArray) -> FloatArray:
        t = np.subtract(z, _Z_LO)
        t *= _GRID / (_Z_HI - _Z_LO)
        np.clip(t, 0.0, _GRID - 1e-9, out=t)
        i = t.astype(np.intp)
        t -= i
        lo = self._table[i]
        out: FloatArray = lo + t * (self._table[i + 1] - lo)
        return out


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal distribution with ``mean`` and standard deviation ``sd`` (> 0)."""

    mean: float
    sd: float
    kind: str = field(default="normal", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _finite("normal mean", self.mean))
        sd = _finite("normal sd", self.sd)
        if sd <= 0:
            raise ConfigError(f"normal sd must be > 0, got {sd}; use Constant for no spread")
        object.__setattr__(self, "sd", sd)

    def ppf(self, u: ArrayLike) -> FloatArray:
        return np.asarray(self.mean + self.sd * special.ndtri(np.asarray(u, dtype=float)))

    def from_normal(self, z: FloatArray) -> FloatArray:
        out: FloatArray = z * self.sd
        out += self.mean
        return out

    def expected_value(self) -> float:
        return self.mean

    def describe(self) -> str:
        return f"normal(mean={self.mean:g}, sd={self.sd:g})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "normal", "mean": self.mean, "sd": self.sd}


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Lognormal distribution given by its own ``mean`` (> 0) and ``sd`` (> 0).

    The log has ``sigma^2 = log(1 + (sd/mean)^2)`` and ``mu = log(mean) - sigma^2 / 2``.
    """

    mean: float
    sd: float
    kind: str = field(default="lognormal", init=False)

    def __post_init__(self) -> None:
        m = _finite("lognormal mean", self.mean)
        sd = _finite("lognormal sd", self.sd)
        if m <= 0:
            raise ConfigError(f"lognormal mean must be > 0, got {m}; a lognormal is positive")
        if sd <= 0:
            raise ConfigError(f"lognormal sd must be > 0, got {sd}; use Constant for no spread")
        object.__setattr__(self, "mean", m)
        object.__setattr__(self, "sd", sd)

    @property
    def sigma(self) -> float:
        return math.sqrt(math.log1p((self.sd / self.mean) ** 2))

    @property
    def mu(self) -> float:
        return math.log(self.mean) - self.sigma**2 / 2

    def ppf(self, u: ArrayLike) -> FloatArray:
        z = special.ndtri(np.asarray(u, dtype=float))
        return np.asarray(np.exp(self.mu + self.sigma * z))

    def from_normal(self, z: FloatArray) -> FloatArray:
        out: FloatArray = z * self.sigma
        out += self.mu
        np.exp(out, out=out)
        return out

    def expected_value(self) -> float:
        return self.mean

    def describe(self) -> str:
        return f"lognormal(mean={self.mean:g}, sd={self.sd:g})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "lognormal", "mean": self.mean, "sd": self.sd}


@dataclass(frozen=True)
class Uniform(_Tabulated):
    """Uniform distribution on ``[low, high]`` (``low < high``)."""

    low: float
    high: float
    kind: str = field(default="uniform", init=False)

    def __post_init__(self) -> None:
        lo = _finite("uniform low", self.low)
        hi = _finite("uniform high", self.high)
        if not lo < hi:
            raise ConfigError(f"uniform needs low < high, got low={lo}, high={hi}")
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)
        self._build_table()

    def ppf(self, u: ArrayLike) -> FloatArray:
        return np.asarray(self.low + (self.high - self.low) * np.asarray(u, dtype=float))

    def expected_value(self) -> float:
        return (self.low + self.high) / 2

    def describe(self) -> str:
        return f"uniform(low={self.low:g}, high={self.high:g})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Triangular(_Tabulated):
    """Triangular distribution with ``low <= mode <= high`` and ``low < high``."""

    low: float
    mode: float
    high: float
    kind: str = field(default="triangular", init=False)

    def __post_init__(self) -> None:
        lo = _finite("triangular low", self.low)
        mo = _finite("triangular mode", self.mode)
        hi = _finite("triangular high", self.high)
        if not (lo <= mo <= hi and lo < hi):
            raise ConfigError(
                f"triangular needs low <= mode <= high and low < high, got "
                f"low={lo}, mode={mo}, high={hi}"
            )
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "mode", mo)
        object.__setattr__(self, "high", hi)
        self._build_table()

    def ppf(self, u: ArrayLike) -> FloatArray:
        u = np.asarray(u, dtype=float)
        lo, mo, hi = self.low, self.mode, self.high
        c = (mo - lo) / (hi - lo)
        left = lo + np.sqrt(u * (hi - lo) * (mo - lo))
        right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mo))
        return np.asarray(np.where(u < c, left, right))

    def expected_value(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def describe(self) -> str:
        return f"triangular(low={self.low:g}, mode={self.mode:g}, high={self.high:g})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "triangular", "low": self.low, "mode": self.mode, "high": self.high}


@dataclass(frozen=True)
class PERT(_Tabulated):
    """PERT (scaled beta) distribution with ``low <= mode <= high``, ``low < high``.

    Shape ``alpha = 1 + lamb (mode - low) / (high - low)``,
    ``beta = 1 + lamb (high - mode) / (high - low)``; the mean is
    ``(low + lamb mode + high) / (lamb + 2)`` (Vose 2008, ``lamb = 4`` classically).
    """

    low: float
    mode: float
    high: float
    lamb: float = 4.0
    kind: str = field(default="pert", init=False)

    def __post_init__(self) -> None:
        lo = _finite("PERT low", self.low)
        mo = _finite("PERT mode", self.mode)
        hi = _finite("PERT high", self.high)
        la = _finite("PERT lamb", self.lamb)
        if not (lo <= mo <= hi and lo < hi):
            raise ConfigError(
                f"PERT needs low <= mode <= high and low < high, got low={lo}, mode={mo}, high={hi}"
            )
        if la <= 0:
            raise ConfigError(f"PERT lamb (shape) must be > 0, got {la}")
        for k, v in (("low", lo), ("mode", mo), ("high", hi), ("lamb", la)):
            object.__setattr__(self, k, v)
        self._build_table()

    @property
    def alpha(self) -> float:
        return 1 + self.lamb * (self.mode - self.low) / (self.high - self.low)

    @property
    def beta(self) -> float:
        return 1 + self.lamb * (self.high - self.mode) / (self.high - self.low)

    def ppf(self, u: ArrayLike) -> FloatArray:
        q = special.betaincinv(self.alpha, self.beta, np.asarray(u, dtype=float))
        return np.asarray(self.low + (self.high - self.low) * q)

    def expected_value(self) -> float:
        return (self.low + self.lamb * self.mode + self.high) / (self.lamb + 2)

    def describe(self) -> str:
        return f"PERT(low={self.low:g}, mode={self.mode:g}, high={self.high:g})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pert",
            "low": self.low,
            "mode": self.mode,
            "high": self.high,
            "lamb": self.lamb,
        }


@dataclass(frozen=True, eq=False)
class Empirical(Distribution):
    """Bootstrap from observed values (e.g. the business's own monthly history).

    Each draw is one of the observed values, each with probability ``1/n``; through the
    latent normal it keeps rank correlation with other drivers.
    """

    values: tuple[float, ...]
    source: str = "history"
    kind: str = field(default="empirical", init=False)
    _sorted: FloatArray = field(init=False, repr=False)
    _cuts: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.values, str | bytes) or not isinstance(
            self.values, Sequence | np.ndarray
        ):
            raise ConfigError(
                f"empirical values must be a list of numbers, not {type(self.values).__name__}"
            )
        try:
            arr = np.asarray(self.values, dtype=float).ravel()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"empirical values must be numbers: {exc}") from None
        if arr.size < 2:
            raise ConfigError(
                f"empirical distribution needs at least 2 observed values, got {arr.size}; "
                "use Constant for a single value"
            )
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise ConfigError(f"empirical values contain {bad} NaN or infinite value(s)")
        object.__setattr__(self, "values", tuple(float(v) for v in arr))
        srt = np.sort(arr)
        object.__setattr__(self, "_sorted", srt)
        k = np.arange(1, srt.size)
        object.__setattr__(self, "_cuts", special.ndtri(k / srt.size))

    def ppf(self, u: ArrayLike) -> FloatArray:
        u = np.asarray(u, dtype=float)
        i = np.minimum((u * self._sorted.size).astype(np.intp), self._sorted.size - 1)
        return np.asarray(self._sorted[np.maximum(i, 0)])

    def from_normal(self, z: FloatArray) -> FloatArray:
        out: FloatArray = self._sorted[np.searchsorted(self._cuts, z)]
        return out

    def expected_value(self) -> float:
        return float(np.mean(self._sorted))

    def describe(self) -> str:
        return (
            f"empirical(n={self._sorted.size}, {self.source}, "
            f"range {self._sorted[0]:g}–{self._sorted[-1]:g})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "empirical", "values": list(self.values), "source": self.source}


@dataclass(frozen=True)
class Constant(Distribution):
    """No uncertainty: always ``value``."""

    value: float
    kind: str = field(default="constant", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _finite("constant value", self.value))

    def ppf(self, u: ArrayLike) -> FloatArray:
        return np.full(np.shape(u), self.value)

    def from_normal(self, z: FloatArray) -> FloatArray:
        return np.full(z.shape, self.value)

    def expected_value(self) -> float:
        return self.value

    def describe(self) -> str:
        return f"constant({self.value:g})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "constant", "value": self.value}


_KINDS: dict[str, tuple[type[Distribution], tuple[str, ...], tuple[str, ...]]] = {
    "normal": (Normal, ("mean", "sd"), ()),
    "lognormal": (LogNormal, ("mean", "sd"), ()),
    "uniform": (Uniform, ("low", "high"), ()),
    "triangular": (Triangular, ("low", "mode", "high"), ()),
    "pert": (PERT, ("low", "mode", "high"), ("lamb",)),
    "empirical": (Empirical, ("values",), ("source",)),
    "constant": (Constant, ("value",), ()),
}


def distribution_from_dict(spec: Any, where: str = "distribution") -> Distribution:
    """Build a distribution from ``{"kind": "pert", "low": .., "mode": .., "high": ..}``.

    Raises
    ------
    ConfigError
        Unknown kind, missing or unknown parameter, or impossible values; the message
        names ``where`` (e.g. the driver) and lists what is accepted.
    """
    if isinstance(spec, Distribution):
        return spec
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where}: a distribution must be a table like "
            f"{{kind = 'normal', mean = 1, sd = 0.1}}, not {type(spec).__name__}"
        )
    kind = str(spec.get("kind", "")).lower()
    if kind not in _KINDS:
        raise ConfigError(
            f"{where}: unknown distribution kind {spec.get('kind')!r}; "
            f"choose one of {', '.join(sorted(_KINDS))}"
        )
    cls, required, optional = _KINDS[kind]
    missing = [k for k in required if k not in spec]
    extra = sorted(set(spec) - {"kind", *required, *optional})
    if missing or extra:
        raise ConfigError(
            f"{where}: {kind} distribution "
            + (f"is missing {', '.join(missing)}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"has unknown parameter(s) {', '.join(extra)}" if extra else "")
            + f" (it takes {', '.join(required + optional)})"
        )
    args = [spec[k] for k in required]
    kwargs = {k: spec[k] for k in optional if k in spec}
    try:
        if kind == "empirical":
            return Empirical(tuple(args[0]) if isinstance(args[0], list) else args[0], **kwargs)
        return cls(*args, **kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


# -- correlation ---------------------------------------------------------------------


def validate_correlation(
    matrix: ArrayLike, *, repair: bool = False, names: Sequence[str] | None = None
) -> FloatArray:
    """Check that ``matrix`` is a correlation matrix; optionally repair it.

    Parameters
    ----------
    matrix
        Square, symmetric, unit diagonal, entries in [-1, 1], positive semi-definite.
    repair
        When the matrix is symmetric with unit diagonal but not positive semi-definite,
        replace it by the nearest correlation matrix (Higham 2002) and emit a
        :class:`~levelfield.errors.DataQualityWarning`, instead of raising.
    names
        Driver names, used in messages.

    Raises
    ------
    ConfigError
        Not square, not symmetric, diagonal not 1, entries outside [-1, 1], NaN, or not
        positive semi-definite (with ``repair=False``).

    References
    ----------
    Higham, N. J. (2002). Computing the nearest correlation matrix — a problem from
    finance. IMA Journal of Numerical Analysis 22(3), 329–343.
    """
    try:
        c = np.array(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"correlation matrix must hold numbers: {exc}") from None
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ConfigError(f"correlation matrix must be square, got shape {c.shape}")
    k = c.shape[0]
    if names is not None and len(names) != k:
        raise ConfigError(f"correlation matrix is {k}x{k} but there are {len(names)} drivers")
    if not np.isfinite(c).all():
        raise ConfigError("correlation matrix contains NaN or infinite entries")
    if not np.allclose(c, c.T, atol=1e-10):
        i, j = np.unravel_index(np.argmax(np.abs(c - c.T)), c.shape)
        raise ConfigError(
            f"correlation matrix is not symmetric: entry ({_nm(names, i)}, {_nm(names, j)}) "
            f"is {c[i, j]:g} but ({_nm(names, j)}, {_nm(names, i)}) is {c[j, i]:g}"
        )
    if not np.allclose(np.diag(c), 1.0, atol=1e-10):
        raise ConfigError("correlation matrix must have 1 on its diagonal")
    if np.abs(c).max() > 1 + 1e-12:
        raise ConfigError("correlation matrix entries must lie between -1 and 1")
    c = (c + c.T) / 2
    np.fill_diagonal(c, 1.0)
    lam_min = float(np.linalg.eigvalsh(c)[0]) if k else 0.0
    if lam_min < -1e-10:
        if not repair:
            raise ConfigError(
                "correlation matrix is not positive semi-definite (smallest eigenvalue "
                f"{lam_min:.4g}): some of its correlations contradict each other. Lower "
                "the strongest ones, or pass repair_correlation=True to use the nearest "
                "valid correlation matrix (Higham 2002)"
            )
        fixed = nearest_correlation(c)
        delta = float(np.abs(fixed - c).max())
        warnings.warn(
            "correlation matrix was not positive semi-definite (smallest eigenvalue "
            f"{lam_min:.4g}); using the nearest valid correlation matrix (Higham 2002), "
            f"largest change {delta:.3f}",
            DataQualityWarning,
            stacklevel=2,
        )
        return fixed
    return np.asarray(c, dtype=float)


def _nm(names: Sequence[str] | None, i: Any) -> str:
    return str(names[int(i)]) if names is not None else str(int(i))


def nearest_correlation(
    matrix: ArrayLike, *, tol: float = 1e-10, max_iter: int = 1000
) -> FloatArray:
    """Nearest correlation matrix in the Frobenius norm (Higham 2002).

    Alternating projections with Dykstra's correction between the positive
    semi-definite cone and the unit-diagonal matrices.

    References
    ----------
    Higham, N. J. (2002). Computing the nearest correlation matrix — a problem from
    finance. IMA Journal of Numerical Analysis 22(3), 329–343.
    """
    a = np.array(matrix, dtype=float)
    y = a.copy()
    ds = np.zeros_like(a)
    x = a
    for _ in range(max_iter):
        r = y - ds
        w, v = np.linalg.eigh((r + r.T) / 2)
        x = (v * np.maximum(w, 0.0)) @ v.T
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        done = float(np.linalg.norm(y_new - y)) / max(float(np.linalg.norm(y)), 1.0) < tol
        y = y_new
        if done:
            break
    # A tiny eigenvalue floor keeps the result usable for a Cholesky-like factor.
    w, v = np.linalg.eigh((y + y.T) / 2)
    y = (v * np.maximum(w, 1e-12)) @ v.T
    d = np.sqrt(np.diag(y))
    y = y / np.outer(d, d)
    np.fill_diagonal(y, 1.0)
    return np.asarray(y)


def gaussian_copula_matrix(rank_corr: FloatArray) -> FloatArray:
    """Latent normal correlation giving the Spearman rank correlations ``rank_corr``.

    For a Gaussian copula, Spearman's rho is ``(6/pi) arcsin(r/2)``; the inverse is
    ``r = 2 sin(pi rho / 6)`` (Kruskal 1958).
    """
    r = 2.0 * np.sin(np.pi * np.asarray(rank_corr, dtype=float) / 6.0)
    np.fill_diagonal(r, 1.0)
    return np.asarray(r)


def latent_mixing_matrix(
    rank_corr: ArrayLike, *, repair: bool = False, names: Sequence[str] | None = None
) -> FloatArray:
    """Matrix ``L`` with ``L @ L.T`` equal to the latent correlation for ``rank_corr``.

    Independent standard normals ``e`` become correlated latent normals ``e @ L.T``.
    Uses a symmetric eigen-factor, so singular (e.g. perfectly correlated) matrices work.
    """
    target = validate_correlation(rank_corr, repair=repair, names=names)
    latent = gaussian_copula_matrix(target)
    w, v = np.linalg.eigh(latent)
    if w[0] < -1e-10:
        # The arcsin map can push a barely-PSD rank matrix just outside the cone.
        warnings.warn(
            "the latent normal correlation implied by the rank correlations is not "
            "positive semi-definite; using the nearest valid one (Higham 2002)",
            DataQualityWarning,
            stacklevel=2,
        )
        latent = nearest_correlation(latent)
        w, v = np.linalg.eigh(latent)
    out: FloatArray = v * np.sqrt(np.maximum(w, 0.0))
    # Rows must have unit norm so every latent variable stays standard normal.
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def spearman_matrix(samples: ArrayLike) -> FloatArray:
    """Spearman rank correlation matrix of the columns of ``samples`` (n x k)."""
    x = np.asarray(samples, dtype=float)
    ranks = np.argsort(np.argsort(x, axis=0), axis=0).astype(float)
    return np.asarray(np.corrcoef(ranks, rowvar=False))


def iman_conover(
    samples: ArrayLike,
    rank_corr: ArrayLike,
    *,
    seed: int | np.random.Generator | None = 0,
    repair: bool = False,
) -> FloatArray:
    """Reorder each column of ``samples`` to carry the rank correlation ``rank_corr``.

    The values in each column are kept exactly (the marginals do not change); only
    their order is changed, following the ranks of van der Waerden scores mixed to the
    target correlation.

    Parameters
    ----------
    samples
        ``n x k`` independent draws, one column per driver.
    rank_corr
        Target ``k x k`` Spearman rank correlation matrix.
    seed
        Seed or generator for the random order of the scores.
    repair
        Use the nearest valid correlation matrix instead of raising when not PSD.

    References
    ----------
    Iman, R. L. & Conover, W. J. (1982). A distribution-free approach to inducing rank
    correlation among input variables. Communications in Statistics — Simulation and
    Computation 11(3), 311–334.
    """
    x = np.asarray(samples, dtype=float)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ConfigError(f"samples must be an n x k array with n >= 3, got shape {x.shape}")
    n, k = x.shape
    target = validate_correlation(rank_corr, repair=repair)
    if target.shape[0] != k:
        raise ConfigError(f"rank_corr is {target.shape[0]}x{target.shape[0]} but samples have {k}")
    rng = np.random.default_rng(seed)
    scores = special.ndtri(np.arange(1, n + 1) / (n + 1))
    m = np.column_stack([rng.permutation(scores) for _ in range(k)])
    e = np.corrcoef(m, rowvar=False)
    try:
        p = np.linalg.cholesky(target + 1e-12 * np.eye(k)).T
        q = np.linalg.cholesky(e).T
    except np.linalg.LinAlgError as exc:  # pragma: no cover - guarded by validation
        raise ModelError(f"Iman-Conover factorization failed: {exc}") from exc
    t = m @ np.linalg.solve(q, p)
    order = np.argsort(np.argsort(t, axis=0), axis=0)
    out: FloatArray = np.take_along_axis(np.sort(x, axis=0), order, axis=0)
    return out


def kind_of(dist: Distribution) -> Literal["closed", "table", "empirical", "constant"]:
    """How a distribution maps latent normals (used by the benchmark's floor)."""
    if isinstance(dist, Normal | LogNormal):
        return "closed"
    if isinstance(dist, Empirical):
        return "empirical"
    if isinstance(dist, Constant):
        return "constant"
    return "table"
