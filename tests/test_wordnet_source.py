"""WordNet candidates against the real WordNet 3.0 data (no mocked dictionary)."""

import pytest

from dpo_core.spaces.wordnet_source import WordNetSettings, antonyms, wordnet_candidates
from dpo_core.spaces.words import analyze

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


def test_proper_adjectives_get_no_verb_readings():
    for mode in ("negative", "positive"):
        found = _candidates("a French village", "French", mode)
        assert not {"crop", "shave", "trim", "cut"} & set(found), found


def test_contrasts_stay_close_in_kind():
    assert "man" not in _candidates("a cat on a sofa", "cat")
    found = _candidates("young male cat fused with a dragon", "cat")
    assert "dog" in found[:3], found


def test_synonyms_skip_rare_senses_and_vague_broader_words():
    assert "cat" not in _candidates("a guy at the beach", "guy", "positive")
    assert "chromatic" not in _candidates("a red car", "red", "positive")
    assert "yellowish" in _candidates("a yellow sun", "yellow", "positive")


@pytest.mark.parametrize(
    ("prompt", "word", "expected"),
    [
        ("an open laptop on a desk", "laptop", {"laptop computer", "portable computer"}),
        ("a dragon over the hills", "dragon", {"firedrake", "mythical monster"}),
        ("a brown bear in a forest", "bear", {"bruin", "brown bear", "black bear"}),
    ],
)
def test_synonym_fallback_for_words_without_synonyms(prompt, word, expected):
    found = _candidates(prompt, word, "positive")
    assert expected & set(found), found


def test_candidates_do_not_depend_on_the_hash_seed():
    import os
    import subprocess
    import sys

    code = (
        "from dpo_core.spaces.wordnet_source import WordNetSettings, wordnet_candidates;"
        "from dpo_core.spaces.words import analyze;"
        "print(wordnet_candidates(analyze('a plane flying over a tree'), 'negative',"
        " WordNetSettings()))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_space_building_is_fast_after_loading():
    import time

    from dpo_core.spaces.wordnet_source import warm_up

    warm_up()
    analysis = analyze("menacing skeleton with a doctors coat and a scalpel in one hand")
    start = time.perf_counter()
    wordnet_candidates(analysis, "negative", SETTINGS)
    wordnet_candidates(analysis, "positive", SETTINGS)
    assert time.perf_counter() - start < 2.0
