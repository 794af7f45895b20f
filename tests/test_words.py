"""Word analysis against the real WordNet data."""

from dpo_core.inflection import inflect
from dpo_core.words import analyze


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
