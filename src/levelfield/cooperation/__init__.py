"""Cooperation: what several small businesses can do together.

- :func:`buying_group`: pooled purchasing against suppliers' price breaks, with the saving
  split by volume, by the Shapley value and by the nucleolus, each checked against the core.
- Game-theory kernels: :func:`shapley_exact`, :func:`shapley_sampled`, :func:`core_check`,
  :func:`least_core`, :func:`nucleolus` (cost games on bitmask-indexed coalitions).
"""

from __future__ import annotations

from levelfield.cooperation._buying import (
    BuyingGame,
    BuyingGroupResult,
    buying_game,
    buying_group,
)
from levelfield.cooperation._core import (
    LP_MAX_PLAYERS,
    CoreCheck,
    core_check,
    least_core,
    nucleolus,
)
from levelfield.cooperation._demo import DEMO_TRUTH, demo_group, write_demo_group
from levelfield.cooperation._inputs import (
    TEMPLATES,
    read_price_breaks,
    read_purchases,
    template_csv,
)
from levelfield.cooperation._shapley import (
    EXACT_MAX_PLAYERS,
    SampledShapley,
    popcount,
    shapley_exact,
    shapley_sampled,
    subset_sums,
)

__all__ = [
    "DEMO_TRUTH",
    "EXACT_MAX_PLAYERS",
    "LP_MAX_PLAYERS",
    "TEMPLATES",
    "BuyingGame",
    "BuyingGroupResult",
    "CoreCheck",
    "SampledShapley",
    "buying_game",
    "buying_group",
    "core_check",
    "demo_group",
    "least_core",
    "nucleolus",
    "popcount",
    "read_price_breaks",
    "read_purchases",
    "shapley_exact",
    "shapley_sampled",
    "subset_sums",
    "template_csv",
    "write_demo_group",
]
