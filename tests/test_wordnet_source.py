"""WordNet candidates against the real WordNet 3.0 data (no mocked dictionary)."""

import pytest

from dpo_core.wordnet_source import WordNetSettings, antonyms, wordnet_candidates
from dpo_core.words import analyze

SETTINGS = WordNetSettings()


def _candidates(prompt, word, mode="negative"):
    analysis = analyze(prompt)
    found = wordnet_candidates(analysis, mode, SETTINGS)
    index = next(i for i, w in enumerate(analysis.words) if w.text == word)
    return found.get(index, [])


@pytest.mark.parametrize(
    ("lemma", "pos", "expected"),
    [("hot", "a", "cold"), ("big", "a", "small"), ("day", "n", "night"), ("left", "a", "right")],
)
def test_direct_antonyms(lemma, pos, expected):
    assert expected in antonyms(lemma, pos)


@pytest.mark.parametrize(
    ("prompt", "word", "expected"),
    [
        ("a cat on a sofa", "cat", {"dog"}),
        ("a red car in the street", "red", {"green", "blue", "yellow"}),
        ("a man sitting on a bench", "sitting", {"standing"}),
        ("a hot summer day", "hot", {"cold"}),
        ("a big house", "big", {"small", "little"}),
        ("a sunny day at the beach", "day", {"night"}),
        ("two dogs sitting on a sofa", "dogs", {"cats", "foxes", "wolves"}),
    ],
)
def test_contrasts_in_context(prompt, word, expected):
    found = _candidates(prompt, word)
    assert expected & set(found[:3]), found
    assert len(found) <= SETTINGS.max_candidates
    assert all("_" not in c for c in found)


def test_contrasts_keep_form_and_avoid_prompt_words():
    found = _candidates("a cat and a dog sitting on a sofa", "sitting")
    assert found and all(c.split()[0].endswith("ing") for c in found), found
    assert "dog" not in _candidates("a cat and a dog", "cat")


@pytest.mark.parametrize(
    ("prompt", "word", "expected"),
    [("a big house", "big", {"large"}), ("a pile of luggage", "luggage", {"baggage"})],
)
def test_synonyms(prompt, word, expected):
    assert expected & set(_candidates(prompt, word, "positive"))


def test_no_obscure_candidates():
    for word in ("cat", "hot", "sitting"):
        found = _candidates(f"a {word} thing" if word != "sitting" else "a cat sitting", word)
        for bad in ("big_cat", "big cat", "adduction", "unemotionality"):
            assert bad not in found
