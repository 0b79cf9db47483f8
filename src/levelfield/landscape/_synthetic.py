"""Synthetic markets with planted strategic groups (for tests, benchmarks and demos)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from levelfield.errors import ConfigError

__all__ = ["make_market"]

_SPLIT = re.compile(r"\S+")

_SPECIFIC = tuple(
    _SPLIT.findall(
        "sourdough rye levain spelt heritage grain stoneground "
        "vegan plantbased oatmilk glutenfree wholefood sprouted "
        "espresso pourover singleorigin roastery barista cortado "
        "croissant patisserie viennoiserie macaron eclair brioche "
        "wedding celebration bespoke tiered fondant sugarcraft "
        "wholesale cafes catering restaurants trade bulk "
        "kids workshop classes birthday decorating parties "
        "halal kosher ethnic baklava simit borek "
        "breakfast brunch eggs bacon pancakes waffles "
        "subscription box monthly delivery doorstep recurring"
    )
)
_GENERIC = tuple(
    _SPLIT.findall(
        "quality passion family owned friendly service fresh local community love "
        "best customers team experience welcoming care values tradition"
    )
)
_TIERS = ("budget", "mid", "premium", "luxury")


def make_market(
    n_firms: int = 24,
    n_groups: int = 4,
    *,
    n_attributes: int = 12,
    noise: float = 0.1,
    text_words: int = 10,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, dict[str, str], npt.NDArray[np.intp]]:
    """A market of firms drawn around ``n_groups`` planted strategy prototypes.

    Attributes cycle through numeric, ordinal, category, set and flag types; each firm
    copies its group's prototype and deviates on each attribute with probability
    ``noise`` (numerics get Gaussian noise of sd ``noise`` times the range). Texts mix
    group-specific words with generic business words shared by everyone. Row 0 is the
    business (``self = yes``).

    Returns
    -------
    df : DataFrame
        ``name, self, description, market_share`` and the attributes (raw strings).
    types : dict
        The type row (attribute -> type).
    groups : ndarray
        The planted group of each firm.
    """
    _check_market_options(n_firms, n_groups, n_attributes, noise)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    groups = np.arange(n_firms) % n_groups
    rng.shuffle(groups)
    data: dict[str, object] = {
        "name": [f"Firm {i:04d}" for i in range(n_firms)],
        "self": np.where(np.arange(n_firms) == 0, "yes", "no"),
    }
    types: dict[str, str] = {}
    kinds = ("numeric", "ordinal", "category", "set", "flag")
    for j in range(n_attributes):  # over attributes (a dozen), not firms
        kind = kinds[j % len(kinds)]
        name = f"{kind}_{j:02d}"
        data[name], types[name] = _attribute_column(kind, name, groups, n_groups, noise, rng)
    data["description"] = _descriptions(groups, n_groups, text_words, rng)
    share = rng.gamma(2.0, 1.0, n_firms)
    data["market_share"] = np.char.mod("%.4f", share / share.sum())
    df = pd.DataFrame(data)
    return df, types, groups.astype(np.intp)


def _check_market_options(n_firms: Any, n_groups: Any, n_attributes: Any, noise: Any) -> None:
    """Reject market sizes and noise :func:`make_market` cannot draw."""
    if isinstance(n_firms, bool) or not isinstance(n_firms, int) or n_firms < 3:
        raise ConfigError(f"n_firms must be a whole number >= 3, not {n_firms!r}")
    if not isinstance(n_groups, int) or not 1 <= n_groups <= n_firms:
        raise ConfigError(f"n_groups must be between 1 and n_firms, not {n_groups!r}")
    if not isinstance(n_attributes, int) or n_attributes < 1:
        raise ConfigError(f"n_attributes must be a positive whole number, not {n_attributes!r}")
    if not 0 <= noise <= 1:
        raise ConfigError(f"noise must be between 0 and 1, not {noise!r}")


def _attribute_column(
    kind: str,
    name: str,
    groups: npt.NDArray[np.intp],
    n_groups: int,
    noise: float,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[Any], str]:
    """One attribute's cells (raw strings) around each group's prototype, and its type.

    Each firm deviates from its group's prototype with probability ``noise``; numerics
    get Gaussian noise of sd ``noise`` times the range instead.
    """
    n_firms = groups.size
    deviate = rng.random(n_firms) < noise
    if kind == "numeric":
        centre = rng.uniform(0, 100, n_groups)
        x = centre[groups] + rng.normal(0, 100 * noise, n_firms)
        return np.char.mod("%.2f", np.round(x, 2)), "numeric"
    if kind == "ordinal":
        tier = rng.integers(0, len(_TIERS), n_groups)
        lv = np.where(deviate, rng.integers(0, len(_TIERS), n_firms), tier[groups])
        return np.asarray(_TIERS, dtype=object)[lv], f"ordinal({'<'.join(_TIERS)})"
    if kind == "category":
        levels = np.array([f"style{c}" for c in range(max(3, n_groups + 1))], dtype=object)
        style = rng.permutation(levels.size)[:n_groups] % levels.size
        c = np.where(deviate, rng.integers(0, levels.size, n_firms), style[groups])
        return levels[c], "category"
    if kind == "set":
        labels = np.array([f"{name}_opt{c}" for c in range(6)], dtype=object)
        offered = rng.random((n_groups, 6)) < 0.4
        member = offered[groups] ^ (rng.random((n_firms, 6)) < noise / 2)
        member[~member.any(axis=1), 0] = True
        return np.array([";".join(labels[row]) for row in member], dtype=object), "set"
    has = rng.random(n_groups) < 0.5
    return np.where(has[groups] ^ deviate, "yes", "no"), "flag"


def _descriptions(
    groups: npt.NDArray[np.intp], n_groups: int, text_words: int, rng: np.random.Generator
) -> list[str]:
    """Texts mixing words from the group's own pool of 6 with generic business words."""
    n_firms = groups.size
    specific = np.asarray(_SPECIFIC, dtype=object)
    per_group = 6
    pools = (
        np.arange(n_groups)[:, None] * per_group + np.arange(per_group)[None, :]
    ) % specific.size
    n_spec = max(1, text_words // 2)
    n_gen = max(1, text_words - n_spec)
    spec_words = specific[
        pools[groups][np.arange(n_firms)[:, None], rng.integers(0, per_group, (n_firms, n_spec))]
    ]
    gen_words = np.asarray(_GENERIC, dtype=object)[rng.integers(0, len(_GENERIC), (n_firms, n_gen))]
    words = np.concatenate([spec_words, gen_words], axis=1)
    return [" ".join(w) for w in words]
