"""Building spaces for both modes: JSON round trip, cache, token budget, library, preview."""

import pytest

from dpo_core.space import SearchSpace
from dpo_core.spaces.builder import SOURCE_NAMES, build_space, estimate_tokens, preview
from dpo_core.spaces.library import GROUPS

PROMPT = "Orange and brown (cat:1.2) sitting on top of white shoes."


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DPO_DIFF_CACHE", str(tmp_path))


def test_negative_space_and_json_round_trip():
    result = build_space(PROMPT, "negative", "wordnet", 5, negative_prompt="lowres")
    space = result.space
    assert space.mode == "negative" and space.negative_prompt == "lowres"
    cat = next(s for s in space.slots if s.word == "cat")
    assert cat.candidates[0] == "" and "dog" in cat.candidates and len(cat.candidates) <= 6
    assert space.render(space.original_choice()) == "lowres"
    assert SearchSpace.from_json(space.to_json()) == space
    assert not result.from_cache


def test_positive_space_replaces_only_words():
    space = build_space(PROMPT, "positive", "wordnet", 3).space
    assert "".join(space.pieces) == PROMPT
    assert space.render(space.original_choice()) == PROMPT
    cat = next(s for s in space.slots if s.word == "cat")
    assert space.pieces[cat.piece - 1].endswith("(") and space.pieces[cat.piece + 1] == ":1.2) "
    rewritten = space.render([1] * len(space.slots))
    assert ":1.2)" in rewritten and rewritten.endswith(".") and rewritten != PROMPT


def test_cache_hit_and_library():
    first = build_space(PROMPT, "negative", include_library=True)
    second = build_space(PROMPT, "negative", include_library=True)
    assert second.from_cache and second.space == first.space
    assert [s.word for s in first.space.slots if s.source == "library"] == list(GROUPS)
    assert not build_space(PROMPT, "negative", include_library=False).from_cache


def test_token_budget_drops_and_warns():
    result = build_space(PROMPT, "negative", include_library=True, token_budget=12)
    space = result.space
    assert result.warnings and "dropped" in result.warnings[-1]
    worst = max((space.render(c) for c in [[len(s.candidates) - 1 for s in space.slots]]), key=len)
    assert estimate_tokens(worst) <= 12
    with pytest.raises(ValueError, match="shorten"):
        build_space(PROMPT, "positive", count_tokens=lambda text: len(text), token_budget=10)


def test_custom_token_counter_is_used():
    calls = []

    def count(text):
        calls.append(text)
        return len(text.split())

    build_space(PROMPT, "negative", count_tokens=count)
    assert calls


def test_keep_filter_removes_rewrites():
    # a whole-word test: synonyms may now contain the word ("cat" -> "wildcat")
    result = build_space(
        PROMPT, "positive", keep=lambda original, rewritten: "(cat:" in rewritten
    )
    assert not any(s.word == "cat" for s in result.space.slots)
    assert any("meaning filter" in w for w in result.warnings)


def test_override_json_and_errors():
    space = build_space(PROMPT, "negative").space
    again = build_space("", "negative", override_json=space.to_json())
    assert again.space == space
    with pytest.raises(ValueError, match="source"):
        build_space(PROMPT, "negative", "thesaurus")
    with pytest.raises(ValueError, match="non-empty prompt"):
        build_space("   ", "negative")
    assert SOURCE_NAMES == ("wordnet", "llm", "wordnet+llm")


def test_preview_lists_every_slot():
    space = build_space(PROMPT, "negative", include_library=True).space
    text = preview(space)
    assert len(text.splitlines()) == len(space.slots) + 1
    assert any(
        " ".join(line.split()).startswith("cat -> (nothing) | dog") for line in text.splitlines()
    )
