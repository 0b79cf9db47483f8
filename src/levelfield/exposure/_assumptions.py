"""The own-store assumption: what share of buyers follow from a marketplace to the own store.

It is set once per business and used by every analysis that values moving sales to the
own store: exposure's what-if, the scenario engine's ``ShiftChannel`` and the advice's
impact estimate. No published study measures it for small sellers, so it is an explicit
range (a PERT prior) that the owner can replace in the business profile, and every
result that depends on it states it and how likely the move pays off under it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from levelfield.errors import ConfigError

__all__ = ["OWN_STORE_FOLLOW", "OwnStoreFollow", "own_store_follow"]

#: Business-profile key that overrides the default (a share, or low/mode/high shares).
PROFILE_KEY = "own_store_follow"


@dataclass(frozen=True)
class OwnStoreFollow:
    """Share of the buyers asked to move who then buy in the own store (0-1).

    ``low``/``mode``/``high`` define a PERT prior (Vose 2008, shape 4): ``mode`` is the
    single value used where one number is needed, the range carries the uncertainty.
    """

    low: float
    mode: float
    high: float
    source: str

    def __post_init__(self) -> None:
        vals = (self.low, self.mode, self.high)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in vals):
            raise ConfigError(f"own-store follow share must be numbers, got {vals}")
        if not 0.0 <= self.low <= self.mode <= self.high <= 1.0 or self.low == self.high:
            raise ConfigError(
                "own-store follow share needs 0 <= low <= mode <= high <= 1 and low < high, "
                f"got low={self.low}, mode={self.mode}, high={self.high}"
            )

    @property
    def _ab(self) -> tuple[float, float]:
        w = self.high - self.low
        return 1 + 4 * (self.mode - self.low) / w, 1 + 4 * (self.high - self.mode) / w

    @property
    def mean(self) -> float:
        return (self.low + 4 * self.mode + self.high) / 6

    def probability_above(self, share: float) -> float:
        """P(follow share > ``share``) under the prior."""
        if not math.isfinite(share):
            return float("nan")
        a, b = self._ab
        z = (share - self.low) / (self.high - self.low)
        return float(stats.beta.sf(min(max(z, 0.0), 1.0), a, b))

    def sample(self, n: int, seed: int = 0) -> npt.NDArray[np.float64]:
        """``n`` draws from the prior (seeded)."""
        a, b = self._ab
        rng = np.random.default_rng(seed)
        return self.low + (self.high - self.low) * rng.beta(a, b, n)

    def describe(self) -> str:
        return (
            f"{self.mode:.0%} of moved buyers follow (range {self.low:.0%}-{self.high:.0%}; "
            f"{self.source})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "mode": self.mode, "high": self.high, "source": self.source}


#: The default when the business profile does not set ``own_store_follow``.
OWN_STORE_FOLLOW = OwnStoreFollow(
    0.4,
    0.7,
    0.9,
    "levelfield's default assumption, not a measurement: set 'own_store_follow' in the "
    "business profile",
)


def own_store_follow(ws: Any | None = None) -> OwnStoreFollow:
    """The business's own-store follow assumption: its profile's, else the default.

    The profile key ``own_store_follow`` is a share (the mode; the range keeps the
    default's width around it, cut to 0-1) or a mapping with ``low``, ``mode``, ``high``.
    """
    raw = None if ws is None else ws.get_business(PROFILE_KEY)
    if raw is None:
        return OWN_STORE_FOLLOW
    src = "set in the business profile"
    if isinstance(raw, Mapping):
        try:
            return OwnStoreFollow(float(raw["low"]), float(raw["mode"]), float(raw["high"]), src)
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                f"business profile key {PROFILE_KEY!r} must be a share or "
                f"{{'low', 'mode', 'high'}} shares, not {raw!r}"
            ) from None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 1:
        raise ConfigError(
            f"business profile key {PROFILE_KEY!r} must be a share in (0, 1], not {raw!r}"
        )
    m = float(raw)
    d = OWN_STORE_FOLLOW
    return OwnStoreFollow(
        max(0.0, m - (d.mode - d.low)), m, min(1.0, max(m + (d.high - d.mode), m + 1e-6)), src
    )
