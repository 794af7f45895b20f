"""The curated contrasts of picture words (dpo_core/spaces/picture_contrasts.py), through the
WordNet source on real WordNet and on the development prompts' rows."""

import pytest

from dpo_core.spaces import picture_contrasts as table
from dpo_core.spaces.wordnet_data import load_wordnet
from dpo_core.spaces.wordnet_source import WordNetSettings, wordnet_candidates
from dpo_core.spaces.words import analyze

SETTINGS = WordNetSettings()


def _candidates(prompt, word, similarity=None):
    analysis = analyze(prompt)
    found = wordnet_candidates(analysis, "negative", SETTINGS, similarity)
    index = next(i for i, w in enumerate(analysis.words) if w.text == word)
    return found.get(index, [])


def test_every_word_of_the_table_is_a_word_wordnet_knows():
    # a typo in the table would be offered to users as a word; WordNet (with its own
    # inflection rules) knows every one but the few it is too old for
    wordnet = load_wordnet()
    words = {variant for _, variant in table._index()}
    unknown = {w for w in words if not wordnet.synsets(w.replace(" ", "_"))}
    assert unknown == set(table.NEWER_THAN_WORDNET), unknown


def test_peers_contrast_with_each_other_and_variants_are_one_thing():
    photo = table.picture_contrasts("photo", "n")
    assert photo[:3] == ["painting", "drawing", "sketch"], photo
    assert not {"photo", "photograph", "snapshot"} & set(photo)
    # any variant finds the set, and the first variant is what is offered
    assert table.picture_contrasts("photograph", "n") == photo
    assert "photo" in table.picture_contrasts("painting", "n")


def test_two_sides_contrast_across_not_within():
    spooky = table.picture_contrasts("spooky", "a")
    assert "cheerful" in spooky and not {"creepy", "eerie", "scary"} & set(spooky), spooky
    assert "spooky" in table.picture_contrasts("cheerful", "a")
    assert not {"cozy", "festive"} & set(table.picture_contrasts("cheerful", "a"))


def test_the_part_of_speech_and_the_sense_must_match():
    assert table.picture_contrasts("spooky", "n") == []
    # the materials hold for the substance only: glasses on a face are no "wood", "metal"
    assert "wood" in table.picture_contrasts("glass", "n", "noun.substance")
    assert table.picture_contrasts("glass", "n", "noun.artifact") == []
    assert "wood" in _candidates("a table made of glass", "glass")
    assert not {"wood", "metal", "woods"} & set(_candidates("a man with reading glasses", "glasses"))


@pytest.mark.parametrize(
    "line", ["x: a, b", "n a, b", "n: a", "n: a | b | c", "n: a, b |"]
)
def test_a_malformed_line_is_one_clear_error(line):
    with pytest.raises(ValueError, match="picture contrasts, line 1"):
        table._parse(line)


# --- the development prompts' rows that WordNet alone got wrong --------------------------------
def test_dev_rows_get_the_contrasts_a_picture_has():
    photo = _candidates("photo of inflatable fruits flying above city", "photo")
    assert photo[0] == "painting" and not {"set", "model", "copy"} & set(photo), photo
    cloudy = _candidates("Light breaks through a cloudy day at the pier.", "cloudy")
    assert {"clear", "sunny"} <= set(cloudy) and "distinct" not in cloudy, cloudy
    assert "cheerful" in _candidates(
        "a spooky ghost in a graveyard by justin gerard and tony sart", "spooky"
    )
    savannah = _candidates("the mona lisa dunking a basketball in the savannah", "savannah")
    assert "desert" in savannah and not {"meadow", "pasture", "prairie"} & set(savannah)
    day = _candidates("Light breaks through a cloudy day at the pier.", "day")
    assert day[0] == "night" and not {"month", "minute", "second"} & set(day), day


def test_wordnet_still_guards_the_table():
    # "child" is the class of "baby" (a hypernym): never a contrast, table or not
    baby = _candidates("Washing a baby in a purpose made basin on a kitchen countertop.", "baby")
    assert "toddler" in baby and "child" not in baby, baby
    # a table word that names another word of the prompt is left out ("tablet" ~ "table")
    laptop = _candidates("The three laptop computers are sitting together on the table.", "laptop")
    assert laptop and not {"tablet", "computer", "desktop computer"} & set(laptop), laptop
    # the near-synonym rule is WordNet's gloss heuristic, and the table overrides it: a cigar
    # is another thing than a cigarette
    assert _candidates("alien caught smoking cigarettes in rented house", "cigarettes")[:2] == [
        "cigars", "pipes"
    ]


def test_the_word_s_own_opposites_stay_first():
    donut = "A powdered and glazed donut laid out to be eaten"
    glazed = _candidates(donut, "glazed")
    assert glazed[0] == "unglazed" and "frosted" in glazed, glazed
    # and the prompt's other words are not offered ("glazed" beside "powdered")
    assert "glazed" not in _candidates(donut, "powdered")


def test_a_connected_clip_reorders_the_table_but_keeps_its_words(tiny_sd1):
    from dpo_diff.nodes.clip_similarity import clip_similarity

    random_clip = tiny_sd1[1]  # ComfyUI's SD1 CLIP class, small config, seeded random weights
    prompt = "Historical photo, of a single general and a young queen Elizabeth"
    ranked = _candidates(prompt, "photo", similarity=clip_similarity(random_clip))
    assert set(ranked) == set(_candidates(prompt, "photo")), ranked
