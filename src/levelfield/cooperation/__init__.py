"""Cooperation: what several small businesses can do together.

- :func:`buying_group`: pooled purchasing against suppliers' price breaks, with the saving
  split by volume, by the Shapley value and by the nucleolus, each checked against the core.
- :func:`match_partners`: complementary partners and rivals (co-opetition) across
  members' workspaces, customers in common counted from group tokens
  (:func:`derive_tokens`; privacy model in ``levelfield.cooperation._tokens``).
- :func:`build_demo_group`: 6-12 demo businesses built through ingest, with planted truth.
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
from levelfield.cooperation._group import GROUP_TRUTH, GroupDemo, build_demo_group
from levelfield.cooperation._inputs import (
    TEMPLATES,
    read_price_breaks,
    read_purchases,
    template_csv,
)
from levelfield.cooperation._partners import (
    PRIVACY_SHORT,
    MemberProfile,
    PartnersResult,
    find_workspaces,
    match_partners,
)
from levelfield.cooperation._shapley import (
    EXACT_MAX_PLAYERS,
    SampledShapley,
    popcount,
    shapley_exact,
    shapley_sampled,
    subset_sums,
)
from levelfield.cooperation._store import (
    BUYING_RUN,
    PARTNERS_RUN,
    record_buying_group,
    record_partners,
    store_buying_share,
    store_partner_share,
)
from levelfield.cooperation._tokens import (
    GroupKey,
    TokenImport,
    derive_tokens,
    new_group_key,
    read_group_key,
    write_group_key,
)

__all__ = [
    "BUYING_RUN",
    "DEMO_TRUTH",
    "EXACT_MAX_PLAYERS",
    "GROUP_TRUTH",
    "LP_MAX_PLAYERS",
    "PARTNERS_RUN",
    "PRIVACY_SHORT",
    "TEMPLATES",
    "BuyingGame",
    "BuyingGroupResult",
    "CoreCheck",
    "GroupDemo",
    "GroupKey",
    "MemberProfile",
    "PartnersResult",
    "SampledShapley",
    "TokenImport",
    "build_demo_group",
    "buying_game",
    "buying_group",
    "core_check",
    "demo_group",
    "derive_tokens",
    "find_workspaces",
    "least_core",
    "match_partners",
    "new_group_key",
    "nucleolus",
    "popcount",
    "read_group_key",
    "read_price_breaks",
    "read_purchases",
    "record_buying_group",
    "record_partners",
    "shapley_exact",
    "shapley_sampled",
    "store_buying_share",
    "store_partner_share",
    "subset_sums",
    "template_csv",
    "write_demo_group",
    "write_group_key",
]
