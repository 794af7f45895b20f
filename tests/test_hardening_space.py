"""Hardening of the space builder: trimming to the token window (item 4), Unicode words
(item 8), and space_json candidates with prompt syntax or repeated across slots (item 10)."""

from __future__ import annotations

import json

import pytest

from dpo_core.space import SearchSpace, Slot
from dpo_core.spaces.builder import build_space, estimate_tokens, fit_token_budget
from dpo_core.spaces.words import analyze

PROMPT = "a cat sitting on a red sofa"


def _negative(*slots: tuple[str, tuple[str, ...]], base: str = "") -> SearchSpace:
    return SearchSpace(
        prompt=PROMPT,
        mode="negative",
        slots=tuple(Slot(word=w, candidates=("", *c), source="test") for w, c in slots),
        negative_prompt=base,
    )


def _worst(space: SearchSpace) -> int:
    longest = [max(range(len(s.candidates)), key=lambda k, s=s: estimate_tokens(s.candidates[k]))
               for s in space.slots]  # fmt: skip
    return estimate_tokens(space.render(longest))


# --- item 4 ----------------------------------------------------------------------------------
def test_a_candidate_too_long_for_the_window_goes_not_the_last_slot():
    too_long = " ".join(["extraordinarily"] * 40)  # 120 tokens: can never fit
    space = _negative(("cat", ("dog",)), ("sofa", (too_long,)), ("red", ("green",)))
    trimmed, notes = fit_token_budget(space, estimate_tokens, 75)
    # before: the last slot ("red") went first, then "sofa"; only "cat" was left
    assert [s.word for s in trimmed.slots] == ["cat", "red"]
    assert "'sofa'" in notes[0] and "longer than the window" in notes[0]


def test_when_nothing_can_shrink_the_costliest_slot_goes():
    space = _negative(("cat", ("dog",)), ("sofa", ("extraordinarily magnificent",)),
                      ("red", ("green",)))  # fmt: skip
    assert _worst(space) == 9
    trimmed, notes = fit_token_budget(space, estimate_tokens, 8)
    assert [s.word for s in trimmed.slots] == ["cat", "red"]  # before: ["cat", "sofa"]
    assert _worst(trimmed) <= 8 and "'sofa' (6 tokens)" in notes[0]


def test_long_candidates_are_trimmed_before_slots():
    space = _negative(("cat", ("dog", "extraordinarily magnificent creature")), ("red", ("green",)))
    assert _worst(space) == 9
    trimmed, notes = fit_token_budget(space, estimate_tokens, 8)
    assert trimmed.slots[0].candidates == ("", "dog") and len(trimmed.slots) == 2
    assert "1 of the longest candidates ('extraordinarily magnificent creature' (cat))" in notes[0]


def test_trimming_counts_each_text_once():
    words = [f"{'x' * 30}{i}" for i in range(800)]  # 800 distinct long candidates
    space = _negative(*((f"w{j}", tuple(words[j * 20 : (j + 1) * 20])) for j in range(40)))
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return estimate_tokens(text)

    trimmed, notes = fit_token_budget(space, count, 75)
    assert _worst(trimmed) <= 75 and notes
    # before: the worst case was re-rendered and re-counted after every drop (190 s at 800)
    assert len(calls) <= len(words) + 2


def test_trimming_can_be_cancelled():
    space = _negative(*((f"w{j}", tuple(f"{'y' * 30}{j}x{i}" for i in range(20)))
                        for j in range(40)))  # fmt: skip

    class Cancelled(Exception):
        pass

    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        fit_token_budget(space, estimate_tokens, 75, check)


def test_a_space_json_trimmed_to_nothing_says_why_not_which_source():
    too_long = " ".join(["extraordinarily"] * 40)
    text = _negative(("sofa", (too_long,))).to_json()
    with pytest.raises(ValueError) as info:
        build_space(PROMPT, "negative", "wordnet", override_json=text)
    message = str(info.value)
    assert "source 'wordnet'" not in message and "75-token window" in message
    empty = json.dumps({"prompt": PROMPT, "mode": "negative", "slots": []})
    with pytest.raises(ValueError, match="space_json has no slot"):
        build_space(PROMPT, "negative", override_json=empty)


# --- item 8 ----------------------------------------------------------------------------------
def test_words_are_unicode_letters():
    words = [w.text for w in analyze("café crème, a naïve Zoë").words]
    assert words == ["café", "crème", "a", "naïve", "Zoë"]  # before: "caf", "cr", "me", ...


def test_an_unknown_word_gets_no_candidates_from_a_fragment(tmp_path, monkeypatch):
    monkeypatch.setenv("DPO_DIFF_CACHE", str(tmp_path))
    result = build_space("café crème on a red sofa", "negative", use_cache=False)
    words = [s.word for s in result.space.slots]
    assert "cr" not in words and "caf" not in words and "crème" not in words  # WordNet lacks it
    assert "sofa" in words and "red" in words


def test_estimate_counts_accented_words_as_words():
    assert estimate_tokens("crème brûlée") == 2  # before: 6 (letters split at each accent)


# --- item 10 ---------------------------------------------------------------------------------
def test_space_json_candidates_lose_prompt_syntax_with_a_warning():
    text = _negative(
        ("cat", ("(green:99)", "[dog]", "embedding:bad_hands", "BREAK", "<lora:x:0.8>", "fox")),
    ).to_json()
    result = build_space(PROMPT, "negative", override_json=text)
    assert result.space.slots[0].candidates == ("", "green", "dog", "fox")
    warning = next(w for w in result.warnings if "prompt syntax" in w)
    assert "'(green:99)' -> 'green'" in warning and "3 held nothing else" in warning


def test_a_word_offered_by_two_slots_is_kept_once():
    text = _negative(("cat", ("dog", "fox")), ("sofa", ("Dog", "chair"))).to_json()
    result = build_space(PROMPT, "negative", override_json=text)
    assert [s.candidates for s in result.space.slots] == [("", "dog", "fox"), ("", "chair")]
    assert any("kept once" in w and "'Dog' (sofa; kept in cat)" in w for w in result.warnings)


def test_candidates_as_long_as_each_other_are_kept_and_slots_go_instead():
    space = _negative(*((f"w{j}", tuple(f"word{k} extraordinarily" for k in "abcd"))
                        for j in range(10)))  # fmt: skip
    trimmed, notes = fit_token_budget(space, estimate_tokens, 20)
    # dropping some of four equally long candidates gains no token; whole slots go instead
    assert all(len(s.candidates) == 5 for s in trimmed.slots) and len(trimmed.slots) < 10
    assert "longest candidates" not in notes[0] and _worst(trimmed) <= 20
