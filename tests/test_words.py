"""Word analysis against the real WordNet data."""

from dpo_core.spaces.inflection import inflect
from dpo_core.spaces.words import analyze


def _word(analysis, text):
    return next(w for w in analysis.words if w.text == text)


def test_lemma_pos_and_form():
    analysis = analyze("Two dogs sitting on a red sofa, observing the birds.")
    dogs = _word(analysis, "dogs")
    assert (dogs.lemma, dogs.pos, dogs.form) == ("dog", "n", "plural")
    sitting = _word(analysis, "sitting")
    assert (sitting.lemma, sitting.pos, sitting.form) == ("sit", "v", "ing")
    assert _word(analysis, "red").pos == "a"
    assert not _word(analysis, "on").content and not _word(analysis, "a").content
    assert _word(analysis, "sofa").content


def test_weighting_syntax_round_trips():
    prompt = "a (red:1.2) cat, [blurry] ((dog)) <lora:style_x:0.5> embedding:neg_1 (two words:0.8)"
    analysis = analyze(prompt)
    pieces, index = analysis.pieces()
    assert "".join(pieces) == prompt
    assert [w.text for w in analysis.words] == ["a", "red", "cat", "blurry", "dog", "two", "words"]
    assert pieces[index[1]] == "red" and "(" in pieces[index[1] - 1]
    assert _word(analysis, "red").weight == 1.2
    assert _word(analysis, "cat").weight is None
    assert abs(_word(analysis, "blurry").weight - 1 / 1.1) < 1e-3
    assert abs(_word(analysis, "dog").weight - 1.21) < 1e-3
    assert _word(analysis, "words").weight == 0.8


def test_inflection_rules():
    assert inflect("stand", "v", "ing") == "standing"
    assert inflect("lie", "v", "ing") == "lying"
    assert inflect("sit", "v", "ing") == "sitting"
    assert inflect("go", "v", "third") == "goes"
    assert inflect("stand", "v", "past") == "stood"
    assert inflect("mouse", "n", "plural") == "mice"
    assert inflect("box", "n", "plural") == "boxes"
    assert inflect("sit down", "v", "ing") == "sitting down"


def _content(prompt):
    return [w.text for w in analyze(prompt).words if w.content]


def test_names_and_technical_tokens_are_not_content_words():
    assert _content("a spooky ghost in a graveyard by justin gerard and tony sart") == [
        "spooky", "ghost", "graveyard"
    ]  # fmt: skip
    assert _content("8k UHD photo of a castle, hdr, 35mm") == ["photo", "castle"]
    assert "Elizabeth" not in _content("a young queen Elizabeth signing a treaty")
    assert "fonzareli" not in _content("arthur fonzareli, a great guy")
    # "by" followed by ordinary words is a preposition, not a credit
    assert _content("a house by the sea") == ["house", "sea"]
    assert "hand" in _content("a chair made by hand")
    # proper adjectives are still content words
    assert "French" in _content("a French village")
    names = [w.text for w in analyze("art by sung choi").words if w.name]
    assert names == ["sung", "choi"]


def test_noun_compounds_are_nouns():
    analysis = analyze("a bathroom sink counter with toothpaste")
    assert _word(analysis, "sink").pos == "n"
    assert _word(analyze("A red stop sign sitting in the street."), "sign").pos == "n"
    assert _word(analyze("a doctor's mask on a table"), "mask").pos == "n"
    assert _word(analyze("a skeleton with a doctors coat"), "coat").pos == "n"
    # an inflected verb after a noun stays a verb
    assert _word(analyze("a cat lays down on a mat"), "lays").pos == "v"
    assert _word(analyze("two models hoist a flag"), "hoist").pos == "v"
