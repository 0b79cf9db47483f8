"""Text distance calibrated against generic business language; communications."""

from __future__ import annotations

import numpy as np
import pytest

from levelfield.errors import ConfigError, DataQualityWarning
from levelfield.landscape import baseline_corpus, communications, text_model

GENERIC_A = "We are a family-owned bakery with passion for quality and friendly service."
GENERIC_B = "Family owned, with a passion for quality, friendly service and our community."
SPECIFIC_A = "Sourdough rye and spelt loaves, stoneground heritage grain, long fermentation."
SPECIFIC_B = "Heritage grain sourdough: rye, spelt and stoneground flour, slow fermentation."


def test_baseline_corpus_is_cross_sector_and_shipped() -> None:
    corpus = baseline_corpus()
    assert len(corpus) >= 150
    text = " ".join(corpus).lower()
    for sector in ("plumb", "salon", "dental", "bakery", "accounting", "florist", "garage"):
        assert sector in text


def test_generic_language_does_not_read_as_similarity() -> None:
    m = text_model([GENERIC_A, GENERIC_B, SPECIFIC_A, SPECIFIC_B])
    # firms that share only stock phrases are not close (no evidence, or far apart)
    generic_pair = m.distance[0, 1]
    assert np.isnan(generic_pair) or generic_pair >= 0.9
    assert m.distance[2, 3] < 0.6  # genuinely shared specifics are close
    assert m.distance[0, 2] == pytest.approx(1.0)


def test_plain_tfidf_without_baseline_would_call_generic_texts_similar() -> None:
    # the failure the baseline prevents: cosine of raw TF-IDF on the pair alone
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(stop_words="english").fit_transform([GENERIC_A, GENERIC_B])
    assert float((X @ X.T).toarray()[0, 1]) > 0.4


def test_text_distance_is_symmetric_with_zero_diagonal_and_missing_texts() -> None:
    m = text_model([SPECIFIC_A, "", SPECIFIC_B, "the and of"])
    assert m.available.tolist() == [True, False, True, False]
    assert np.isnan(m.distance[0, 1]) and np.isnan(m.distance[3, 2])
    ok = m.available
    sub = m.distance[np.ix_(ok, ok)]
    np.testing.assert_allclose(sub, sub.T)
    np.testing.assert_allclose(np.diag(sub), 0.0)
    assert ((sub >= 0) & (sub <= 1)).all()


def test_all_empty_texts_give_no_text_dimension() -> None:
    m = text_model(["", "  ", ""])
    assert not m.available.any()
    assert np.isnan(m.distance).all()


def test_embeddings_fall_back_to_tfidf_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEVELFIELD_EMBEDDING_MODEL", raising=False)
    with pytest.warns(DataQualityWarning, match="embeddings"):
        m = text_model([SPECIFIC_A, SPECIFIC_B, GENERIC_A], method="embeddings")
    assert m.method == "tfidf"
    assert text_model([SPECIFIC_A, SPECIFIC_B], method="auto").method == "tfidf"
    with pytest.raises(ConfigError, match="text_method"):
        text_model([SPECIFIC_A], method="bert")


def test_cliches_counted_and_distinctive_terms_found() -> None:
    texts = [
        "Family owned bakery, quality bread with passion. Our rye miche is unique.",
        "Quality bread with passion, family owned since 1990.",
        "Quality cakes and passion for baking, family bakery.",
        "Quality pastries, passion and a family feel.",
        "Sourdough specialists: spelt and einkorn.",
    ]
    names = ("Me", "B", "C", "D", "E")
    m = text_model(texts)
    terms, cliches, share = communications(m, names, 0)
    got = dict(zip(cliches["term"], cliches["rivals_using"], strict=True))
    assert got["quality"] == 3 and got["passion"] == 3 and got["family"] == 3
    assert "miche" not in got
    assert 0 < share < 1
    mine = terms[terms["firm"] == "Me"]["term"].tolist()
    assert any("miche" in t for t in mine)
    assert (terms.groupby("firm").size() <= 5).all()
    # without a business there are no clichés
    _, none, nan_share = communications(m, names, None)
    assert none.empty and np.isnan(nan_share)
