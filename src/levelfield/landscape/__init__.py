"""Competitive landscape: distinctiveness, strategic homogeneity, groups, map, white space.

Small businesses drift into copying their rivals until nothing sets them apart
(strategic homogenization; mimetic isomorphism, DiMaggio & Powell 1983). This package
measures the landscape from the ``competitors`` table so an owner can see how similar
they are to whom, how homogenized the market is and where open ground may be::

    from levelfield import open_workspace, landscape
    with open_workspace("levelfield.duckdb") as ws:
        result = landscape.analyze(ws)
    print("\\n".join(result.headline()))
    figs = landscape.figures(result)

Without a workspace, start from a DataFrame::

    profiles = landscape.profiles_from_frame(df, {"price_tier": "ordinal(budget<mid<premium)"})
    result = landscape.analyze_profiles(profiles)

Steps: typed profiles (:func:`profiles_from_frame`, :func:`load_profiles`) -> Gower
distance on attributes (:func:`gower_matrix`) and calibrated TF-IDF text distance
(:func:`text_model`) -> :func:`combined_distance` -> :func:`distinctiveness`,
:func:`strategic_homogeneity`, :func:`strategic_groups`, :func:`market_map` ->
white space (:func:`underserved_combinations`, :func:`map_gaps`) and communications
(:func:`communications`).

Finding metric ids (``LandscapeResult.findings()``):

- ``landscape.distinctiveness``: mean distance to the k nearest rivals (0–1).
- ``landscape.distinctiveness_percentile``: percentile of that in the market (0–100,
  100 = most distinctive). Low values with high price elasticity are the "commodity trap".
- ``landscape.nearest_rival_distance``: distance to the closest rival (0–1).
- ``landscape.self_group_share``: share of firms in the business's strategic group.
- ``landscape.shi``: strategic homogeneity index (0–10,000).
- ``landscape.sdi``: strategic diversity index, 1 - SHI/10,000 (0–1).
- ``landscape.effective_strategies``: 10,000/SHI (count).
- ``landscape.shi_trend``: SHI change per year over snapshots (only with >= 2 dates).
- ``landscape.group_count``: number of strategic groups.
- ``landscape.white_space_count``: candidate niches (hypotheses) found.
- ``landscape.cliche_share``: share of the business's words used by most rivals.
- ``landscape.map_stress``: Kruskal stress-1 of the market map.
- ``landscape.price_position``: the owner's prices over the rivals' median for the same
  products (ratio, median over products; context ``percentile`` 0-100 = share of rivals
  cheaper, ``products``, ``as_of``); only with ``competitor_prices``.
- ``landscape.rival_price_move``: one per recent move of a rival's price for one item by
  at least the threshold (share change, + raised, - cut; context ``competitor``,
  ``item``, ``from_date``, ``to_date``, ``from_price``, ``to_price``, ``currency``,
  ``threshold``); see :func:`price_positioning`.
"""

from __future__ import annotations

from levelfield.landscape._analysis import LandscapeResult, analyze, analyze_profiles
from levelfield.landscape._figures import (
    attribution_figure,
    distinctiveness_figure,
    figures,
    group_profile_figure,
    homogeneity_figure,
    market_map_figure,
    price_position_figure,
)
from levelfield.landscape._gower import gower_components, gower_matrix
from levelfield.landscape._kernels import (
    classical_mds,
    combined_distance,
    distinctiveness,
    market_map,
    normalize_shares,
    silhouette_samples_precomputed,
    smacof,
    strategic_groups,
    strategic_homogeneity,
)
from levelfield.landscape._prices import PricePositioning, price_positioning
from levelfield.landscape._profiles import (
    ATTRIBUTE_TYPES,
    AttributeSpec,
    CompetitorProfiles,
    EncodedAttribute,
    load_profiles,
    profiles_from_frame,
)
from levelfield.landscape._synthetic import make_market
from levelfield.landscape._text import (
    TextModel,
    baseline_corpus,
    communications,
    embedding_model_path,
    text_model,
)
from levelfield.landscape._whitespace import (
    binary_features,
    group_profiles,
    map_gaps,
    underserved_combinations,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "METHODS",
    "REFERENCES",
    "AttributeSpec",
    "CompetitorProfiles",
    "EncodedAttribute",
    "LandscapeResult",
    "PricePositioning",
    "TextModel",
    "analyze",
    "analyze_profiles",
    "attribution_figure",
    "baseline_corpus",
    "binary_features",
    "classical_mds",
    "combined_distance",
    "communications",
    "distinctiveness",
    "distinctiveness_figure",
    "embedding_model_path",
    "figures",
    "gower_components",
    "gower_matrix",
    "group_profile_figure",
    "group_profiles",
    "homogeneity_figure",
    "load_profiles",
    "make_market",
    "map_gaps",
    "market_map",
    "market_map_figure",
    "normalize_shares",
    "price_position_figure",
    "price_positioning",
    "profiles_from_frame",
    "silhouette_samples_precomputed",
    "smacof",
    "strategic_groups",
    "strategic_homogeneity",
    "text_model",
    "underserved_combinations",
]

METHODS = (
    "Competitor profiles mix numeric, ordinal, categorical, multi-label and yes/no "
    "attributes with free text. Attribute distance is Gower's (1971) coefficient: numeric "
    "differences divided by the attribute's range, ordinal levels as ranks (Podani 1999), "
    "categories as match/mismatch, multi-label sets by the Jaccard distance, and capability "
    "flags asymmetrically (two firms that both lack a capability are not thereby similar); "
    "missing values drop out of the average for that pair. Text distance is one minus the "
    "cosine similarity of TF-IDF vectors whose word weights are learned on the market's "
    "texts together with a cross-sector corpus of generic small-business self-descriptions, "
    "and each pair's similarity is rescaled by the similarity its texts already reach with "
    "unrelated businesses, so stock phrases ('quality', 'passion', 'family-owned') do not "
    "read as closeness. The combined distance is a weighted mean of the two, re-weighted per "
    "pair when one is missing. A firm's distinctiveness is its mean distance to its k nearest "
    "rivals (k = 5), with its percentile in the market. The strategic homogeneity index is "
    "Rao's (1982) quadratic entropy in similarity form, SHI = 10,000 Σ Σ p_i p_j (1 - d_ij), "
    "which equals the Herfindahl-Hirschman index when every firm is fully distinct and "
    "10,000 when all are identical; SDI = 1 - SHI/10,000 and 10,000/SHI is the effective "
    "number of distinct strategies. The drift towards sameness it tracks over snapshots is "
    "what institutional theory calls mimetic isomorphism (DiMaggio & Powell 1983). Strategic "
    "groups come from average-linkage hierarchical clustering of the distance matrix, the "
    "number of groups chosen by the mean silhouette width (Rousseeuw 1987); below a mean "
    "silhouette of 0.25 (Kaufman & Rousseeuw 1990: no substantial structure), or when the "
    "split only sets apart groups smaller than 5% of the firms (at least 3), the market is "
    "reported as having no clear strategic groups. The market map "
    "is a two-dimensional metric multidimensional scaling (classical scaling start, then "
    "SMACOF iterations) whose fit is Kruskal's (1964) stress-1. White space is searched as "
    "pairs of features offered together by fewer firms than independence predicts (one-sided "
    "Fisher exact test, kept when the Benjamini-Hochberg q-value is at most 0.05; when firms "
    "list sets such as products or styles, the test is the Cochran-Mantel-Haenszel test "
    "within portfolio-size strata and numeric attributes that count the portfolio, rank "
    "correlation 0.5 or more with its size, are left out, so that a niche is about "
    "positioning, not arithmetic) and as "
    "low-density points of the map between groups; each is a hypothesis to test with "
    "customers, not evidence of demand."
)

REFERENCES = [
    "Gower, J. C. (1971). A general coefficient of similarity and some of its properties. "
    "Biometrics, 27(4), 857-871.",
    "Podani, J. (1999). Extending Gower's general coefficient of similarity to ordinal "
    "characters. Taxon, 48(2), 331-340.",
    "Rao, C. R. (1982). Diversity and dissimilarity coefficients: a unified approach. "
    "Theoretical Population Biology, 21(1), 24-43.",
    "Kruskal, J. B. (1964). Multidimensional scaling by optimizing goodness of fit to a "
    "nonmetric hypothesis. Psychometrika, 29(1), 1-27.",
    "de Leeuw, J. (1977). Applications of convex analysis to multidimensional scaling. In "
    "Recent Developments in Statistics (pp. 133-145). North-Holland.",
    "Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and "
    "validation of cluster analysis. Journal of Computational and Applied Mathematics, 20, "
    "53-65.",
    "DiMaggio, P. J., & Powell, W. W. (1983). The iron cage revisited: institutional "
    "isomorphism and collective rationality in organizational fields. American Sociological "
    "Review, 48(2), 147-160.",
    "Salton, G., & Buckley, C. (1988). Term-weighting approaches in automatic text "
    "retrieval. Information Processing & Management, 24(5), 513-523.",
    "Hoberg, G., & Phillips, G. (2016). Text-based network industries and endogenous product "
    "differentiation. Journal of Political Economy, 124(5), 1423-1465.",
    "Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate: a practical "
    "and powerful approach to multiple testing. Journal of the Royal Statistical Society B, "
    "57(1), 289-300.",
    "Kaufman, L., & Rousseeuw, P. J. (1990). Finding Groups in Data: An Introduction to "
    "Cluster Analysis. Wiley (silhouette interpretation, p. 88).",
    "Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from "
    "retrospective studies of disease. Journal of the National Cancer Institute, 22(4), "
    "719-748.",
    "Caves, R. E., & Porter, M. E. (1977). From entry barriers to mobility barriers. "
    "Quarterly Journal of Economics, 91(2), 241-261.",
]
