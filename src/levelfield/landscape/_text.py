"""Text distance between firms' descriptions, calibrated against generic business language.

Every small business calls itself friendly, passionate and committed to quality. If
those words counted as similarity, every pair of firms would look alike. Two guards
keep them out: (1) inverse document frequencies are learned on the market's texts
*plus* a cross-sector baseline corpus of generic self-descriptions shipped with
levelfield (``_baseline.txt``), and each word's weight is further multiplied by its
evidence ``v_t = max(0, 1 - b_t / 0.04)``, where ``b_t`` is the share of baseline
descriptions that use it: a word that 4 % or more of unrelated businesses use says
nothing about closeness (a text of such words only counts as no text); (2) the cosine
similarity of a pair is rescaled by the similarity each firm's text
already reaches with unrelated businesses (the 90th percentile of its similarities to
the baseline): ``s' = max(0, s - e) / (1 - e)``. The text distance is ``1 - s'``.

Sentence embeddings are used instead of TF-IDF only when the optional
``sentence-transformers`` package is installed *and* a model exists on disk
(``LEVELFIELD_EMBEDDING_MODEL`` names its folder); nothing is downloaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from levelfield.errors import ConfigError, DataQualityWarning

__all__ = [
    "TextModel",
    "baseline_corpus",
    "communications",
    "embedding_model_path",
    "text_model",
]

FloatArray = npt.NDArray[np.float64]
_BASELINE = Path(__file__).with_name("_baseline.txt")
_TOKEN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
#: Percentile of a text's similarities to the baseline used as its chance similarity.
_CHANCE_PERCENTILE = 90.0
#: A word used by this share of unrelated businesses (baseline documents) or more is
#: generic business language and carries no evidence of similarity.
GENERIC_SHARE = 0.04
TEXT_METHODS = ("auto", "tfidf", "embeddings")


@lru_cache(maxsize=1)
def baseline_corpus() -> tuple[str, ...]:
    """The cross-sector baseline of generic business descriptions shipped with levelfield."""
    lines = _BASELINE.read_text(encoding="utf-8").splitlines()
    return tuple(s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#"))


def embedding_model_path() -> Path | None:
    """Folder of a locally installed sentence-embedding model, or None.

    Embeddings are available only when ``sentence_transformers`` is importable and the
    environment variable ``LEVELFIELD_EMBEDDING_MODEL`` names an existing folder.
    """
    path = os.environ.get("LEVELFIELD_EMBEDDING_MODEL", "").strip()
    if not path or not Path(path).is_dir():
        return None
    if importlib.util.find_spec("sentence_transformers") is None:
        return None
    return Path(path)


@dataclass(frozen=True, eq=False)
class TextModel:
    """Text representation and calibrated text distance of a set of firms.

    Attributes
    ----------
    distance
        (n, n) text distance 1 - calibrated similarity, in [0, 1]; NaN on pairs where a
        firm has no text.
    available
        True for firms with text.
    chance
        Each firm's chance similarity e_i (similarity reached with unrelated businesses).
    matrix
        (n, V) evidence-weighted, L2-normalized TF-IDF rows (sparse) that the similarity
        is computed from, or None when there is no text.
    tfidf
        (n, V) plain L2-normalized TF-IDF rows, for the communications analysis.
    terms
        The TF-IDF vocabulary (words and two-word phrases).
    baseline_presence
        Share of baseline documents that contain each term.
    method
        ``"tfidf"`` or ``"embeddings"``.
    """

    distance: FloatArray
    available: npt.NDArray[np.bool_]
    chance: FloatArray
    matrix: sp.csr_matrix | None
    tfidf: sp.csr_matrix | None
    terms: tuple[str, ...]
    baseline_presence: FloatArray
    method: str


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        stop_words="english",
        token_pattern=_TOKEN,
        ngram_range=(1, 2),
        sublinear_tf=True,
        strip_accents="unicode",
        lowercase=True,
        dtype=np.float64,
    )


def _calibrate(sim: FloatArray, chance: FloatArray) -> FloatArray:
    e = 0.5 * (chance[:, None] + chance[None, :])
    out = np.clip(sim - e, 0.0, None) / np.maximum(1.0 - e, 1e-12)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _embed(texts: list[str], path: Path) -> FloatArray:
    module: Any = importlib.import_module("sentence_transformers")
    model = module.SentenceTransformer(str(path), device="cpu", local_files_only=True)
    emb = np.asarray(model.encode(texts, normalize_embeddings=True), dtype=float)
    return emb


def text_model(
    texts: list[str] | tuple[str, ...],
    *,
    method: str = "auto",
    baseline: tuple[str, ...] | None = None,
) -> TextModel:
    """Calibrated text distances between firms.

    Parameters
    ----------
    texts
        One text per firm ('' when the firm has none).
    method
        ``"tfidf"`` (default behaviour), ``"embeddings"`` (needs a local model; falls
        back to TF-IDF with a :class:`DataQualityWarning` when there is none) or
        ``"auto"`` (embeddings when available, else TF-IDF).
    baseline
        Generic cross-sector descriptions (default: :func:`baseline_corpus`).

    Returns
    -------
    TextModel

    References
    ----------
    Salton, G., & Buckley, C. (1988). Term-weighting approaches in automatic text
    retrieval. *Information Processing & Management*, 24(5), 513-523.
    Hoberg, G., & Phillips, G. (2016). Text-based network industries and endogenous
    product differentiation. *Journal of Political Economy*, 124(5), 1423-1465.
    """
    if method not in TEXT_METHODS:
        raise ConfigError(f"text_method must be one of {', '.join(TEXT_METHODS)}, not {method!r}")
    docs = [t if isinstance(t, str) else "" for t in texts]
    base = list(baseline_corpus() if baseline is None else baseline)
    n = len(docs)
    available = np.array([bool(d.strip()) for d in docs], dtype=bool)

    vec = _vectorizer()
    try:
        full = vec.fit_transform(docs + base)
    except ValueError:  # no word at all (empty texts or only stop words)
        empty = np.full((n, n), np.nan)
        return TextModel(
            empty, np.zeros(n, dtype=bool), np.zeros(n), None, None, (), np.zeros(0), "tfidf"
        )
    T = sp.csr_matrix(full[:n])
    terms = tuple(str(t) for t in vec.get_feature_names_out())
    presence, evidence = _evidence(full, n, terms, vec.vocabulary_, bool(base))
    X = _l2_rows(sp.csr_matrix(full @ sp.diags(evidence)))
    Bm = X[n:]
    X = X[:n]
    # A text made of stop words and generic words only carries no evidence: no text.
    available &= np.asarray(X.getnnz(axis=1) > 0)

    path = embedding_model_path() if method in ("auto", "embeddings") else None
    if method == "embeddings" and path is None:
        warnings.warn(
            "text_method='embeddings' needs the 'embeddings' extra (sentence-transformers) "
            "and LEVELFIELD_EMBEDDING_MODEL pointing to a model folder on disk; using "
            "TF-IDF instead",
            DataQualityWarning,
            stacklevel=2,
        )
    if path is not None:
        E = _embed(docs, path)
        sim, base_sim, used = E @ E.T, E @ _embed(base, path).T, "embeddings"
    else:
        sim = (X @ X.T).toarray()
        base_sim = (X @ Bm.T).toarray() if Bm.shape[0] else np.zeros((n, 1))
        used = "tfidf"
    dist, chance = _calibrated_distance(sim, base_sim, available)
    return TextModel(dist, available, chance, X, T, terms, presence, used)


def _evidence(
    full: sp.spmatrix, n: int, terms: tuple[str, ...], vocab: dict[str, int], has_base: bool
) -> tuple[FloatArray, FloatArray]:
    """How much each term says about a firm: 1 minus its share of baseline texts using
    it over :data:`GENERIC_SHARE` (clipped to 0-1).

    ``full`` is the TF-IDF of the firms' texts (first ``n`` rows) then the baseline's.
    A phrase of generic words ("quality friendly") is generic too, however rare the
    exact phrase: it keeps the evidence of its most specific word at most. Returns the
    baseline presence and the evidence per term.
    """
    presence = np.asarray((full[n:] > 0).mean(axis=0)).ravel() if has_base else np.zeros(len(terms))
    evidence = np.clip(1.0 - presence / GENERIC_SHARE, 0.0, 1.0)
    parts = [t.split(" ") for t in terms]
    bigram = np.array([len(p) == 2 for p in parts], dtype=bool)
    if bigram.any():
        first = np.array([vocab.get(p[0], -1) for p in parts if len(p) == 2])
        second = np.array([vocab.get(p[-1], -1) for p in parts if len(p) == 2])
        ev_words = np.maximum(
            np.where(first >= 0, evidence[first], 1.0), np.where(second >= 0, evidence[second], 1.0)
        )
        evidence[bigram] = np.minimum(evidence[bigram], ev_words)
    return presence, evidence


def _calibrated_distance(
    sim: FloatArray, base_sim: FloatArray, available: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Text distance with each firm's chance similarity (to generic baseline texts)
    removed; NaN for pairs where a firm has no text. Returns ``(distance, chance)``."""
    n = sim.shape[0]
    chance = (
        np.percentile(base_sim, _CHANCE_PERCENTILE, axis=1) if base_sim.shape[1] else np.zeros(n)
    )
    chance = np.clip(chance, 0.0, 0.95)
    dist = 1.0 - _calibrate(sim, chance)
    both = available[:, None] & available[None, :]
    dist[~both] = np.nan
    np.fill_diagonal(dist, np.where(available, 0.0, np.nan))
    return dist, chance


def _l2_rows(M: sp.csr_matrix) -> sp.csr_matrix:
    M = sp.csr_matrix(M)
    M.eliminate_zeros()
    norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inv) @ M)


def communications(
    model: TextModel,
    names: tuple[str, ...],
    self_index: int | None,
    *,
    top: int = 5,
    cliche_threshold: float = 0.5,
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Distinctive terms of each firm and the clichés the business shares with rivals.

    Parameters
    ----------
    model
        The text model of the current landscape.
    names
        Firm names (rows of ``model``).
    self_index
        Row of the business, or None.
    top
        Distinctive terms kept per firm.
    cliche_threshold
        Share of rivals (with text) that must use a term for it to count as a cliché.

    Returns
    -------
    terms : DataFrame
        ``firm, term, weight, rivals_using``: each firm's most distinctive terms (high
        TF-IDF weight, used by few rivals).
    cliches : DataFrame
        ``term, rivals_using, rival_share, baseline_share, reason``: single words of the
        business's text used by at least ``cliche_threshold`` of its rivals (reason
        ``"most rivals"``), or generic business language (used by at least 4 % of the
        cross-sector baseline) that two or more rivals use too (``"generic"``).
    cliche_share : float
        Share of the business's distinct words that are clichés (NaN without a business
        text).
    """
    cols_t = ["firm", "term", "weight", "rivals_using"]
    cols_c = ["term", "rivals_using", "rival_share", "baseline_share", "reason"]
    X = model.tfidf
    if X is None or not model.terms or X.nnz == 0:
        return pd.DataFrame(columns=cols_t), pd.DataFrame(columns=cols_c), float("nan")
    present = (X > 0).astype(np.float64).tocsc()
    df_market = np.asarray(present.sum(axis=0)).ravel()  # firms using each term
    has_text = np.asarray(X.getnnz(axis=1) > 0)
    n_text = int(has_text.sum())
    terms = _distinctive_terms(X, df_market, n_text, names, model.terms, top)
    if self_index is None or not has_text[self_index]:
        return terms, pd.DataFrame(columns=cols_c), float("nan")
    cliches, cliche_share = _cliches(
        present.tocsr()[self_index], df_market, n_text, model, cliche_threshold
    )
    return terms, cliches, cliche_share


def _distinctive_terms(
    X: sp.spmatrix,
    df_market: FloatArray,
    n_text: int,
    names: tuple[str, ...],
    vocabulary: tuple[str, ...],
    top: int,
) -> pd.DataFrame:
    """The ``top`` terms of each firm by weight x share of *other* firms not using them."""
    other_share = np.clip((df_market - 1.0) / max(n_text - 1, 1), 0.0, 1.0)
    scored = sp.csr_matrix(X @ sp.diags(1.0 - other_share))
    coo = scored.tocoo()
    table = pd.DataFrame({"row": coo.row, "col": coo.col, "score": coo.data})
    table = table[table["score"] > 0]
    table = table.sort_values(["row", "score"], ascending=[True, False], kind="stable")
    table = table.groupby("row", sort=False).head(top)
    return pd.DataFrame(
        {
            "firm": np.asarray(names, dtype=object)[table["row"].to_numpy()],
            "term": np.asarray(vocabulary, dtype=object)[table["col"].to_numpy()],
            "weight": table["score"].to_numpy(),
            "rivals_using": (df_market[table["col"].to_numpy()] - 1).astype(int),
        }
    ).reset_index(drop=True)


def _cliches(
    own: sp.spmatrix,
    df_market: FloatArray,
    n_text: int,
    model: TextModel,
    cliche_threshold: float,
) -> tuple[pd.DataFrame, float]:
    """The business's single words that most rivals use, or that are generic (common in
    the baseline and used by 2+ rivals); and their share of its words."""
    cols = own.indices
    unigram = np.array([" " not in model.terms[c] for c in cols], dtype=bool)
    cols = cols[unigram]
    using = df_market[cols] - 1.0
    share = using / max(n_text - 1, 1)
    most = (share >= cliche_threshold) & (using > 0)
    generic = (model.baseline_presence[cols] >= GENERIC_SHARE) & (using >= 2)
    cliche = most | generic
    cliches = pd.DataFrame(
        {
            "term": np.asarray(model.terms, dtype=object)[cols[cliche]],
            "rivals_using": using[cliche].astype(int),
            "rival_share": share[cliche],
            "baseline_share": model.baseline_presence[cols[cliche]],
            "reason": np.where(most[cliche], "most rivals", "generic"),
        }
    ).sort_values(["rivals_using", "term"], ascending=[False, True], kind="stable")
    cliche_share = float(cliche.mean()) if cols.size else float("nan")
    return cliches.reset_index(drop=True), cliche_share
