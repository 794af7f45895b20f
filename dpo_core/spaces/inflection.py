"""Putting a base form back into the inflection of the word it replaces.

Rule: a candidate takes the form of the prompt word it stands for: plural nouns become plural
("dogs" -> "cats"), "-ing" verbs become "-ing" ("sitting" -> "standing"), "-s" verbs take "-s",
past forms take the past form. Irregular forms come from WordNet's own exception lists read
backwards ("lie" -> "lying", "mouse" -> "mice", "stand" -> "stood"), regular ones from the
usual spelling rules. For a multiword candidate the head is inflected: the last word of a
noun ("ice cream" -> "ice creams"), the first word of a verb ("sit down" -> "sitting down").
Adjectives and adverbs are used in their base form.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from .wordnet_data import load_wordnet
from .words import Form, Pos

_VOWELS = "aeiou"
# Verbs whose past is the base form and that double no consonant, so that WordNet's verb.exc
# has no line for them at all (it lists only forms morphy cannot undo): "burst" -> "burst".
_UNCHANGED_PAST = frozenset(
    "burst cast cost hurt spread thrust broadcast forecast outcast read".split()
)


@lru_cache(maxsize=1)
def _irregular() -> dict[str, dict[str, list[str]]]:
    """``{"n"|"v": {base: [inflected forms, in file order]}}`` from ``noun.exc``/``verb.exc``."""
    wordnet = load_wordnet()
    root = Path(str(wordnet.root))
    table: dict[str, dict[str, list[str]]] = {"n": defaultdict(list), "v": defaultdict(list)}
    for pos, name in (("n", "noun.exc"), ("v", "verb.exc")):
        path = root / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 2 and "_" not in fields[0]:
                for base in fields[1:]:
                    table[pos][base].append(fields[0])
    return table


def _short_stressed(word: str) -> bool:
    """Consonant-vowel-consonant ending of a one-syllable word ("sit", "run"): double the last."""
    if len(word) < 3 or word[-1] in _VOWELS + "wxy":
        return False
    vowels = sum(1 for c in word if c in _VOWELS)
    return word[-2] in _VOWELS and word[-3] not in _VOWELS and vowels == 1


def _regular_ing(word: str) -> str:
    if word.endswith("ie"):
        return word[:-2] + "ying"
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and len(word) > 2:
        return word[:-1] + "ing"
    if _short_stressed(word):
        return word + word[-1] + "ing"
    return word + "ing"


def _regular_s(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def _regular_past(word: str) -> str:
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
        return word[:-1] + "ied"
    if _short_stressed(word):
        return word + word[-1] + "ed"
    return word + "ed"


def _inflect_word(word: str, pos: Pos, form: Form) -> str:
    irregular = _irregular()
    if pos == "n" and form == "plural":
        if word.endswith("s") and not word.endswith("ss"):
            return word  # already plural ("clothes", "glasses")
        # a Latin plural of an "-a" word is a scholar's form ("camerae", "formulae"); prompts
        # write the English one
        forms = [f for f in irregular["n"].get(word, []) if f != word + "e"]
        return forms[0] if forms else _regular_s(word)
    if pos != "v" or form == "base":
        return word
    forms = irregular["v"].get(word, [])
    if form == "ing":
        ing = [f for f in forms if f.endswith("ing")]
        return ing[0] if ing else _regular_ing(word)
    if form == "third":
        third = [f for f in forms if f.endswith("s")]
        if third:
            return third[0]
        return word + "es" if word.endswith("o") else _regular_s(word)  # "go" -> "goes"
    past = [f for f in forms if not f.endswith(("ing", "s"))]
    if past:
        return past[0]
    if word in _UNCHANGED_PAST or (word[-1] in "dt" and word + word[-1] + "ing" in forms):
        # "putting put", "setting set", "cutting cut": WordNet lists the doubled "-ing" but no
        # past, because the past is the word itself (morphy needs no entry for it); a verb
        # with a regular past lists it ("stopped stop", "patted pat")
        return word
    return _regular_past(word)


def inflect(base: str, pos: Pos, form: Form) -> str:
    """``base`` (a WordNet lemma, words separated by spaces) in ``form``."""
    if form == "base":
        return base
    parts = base.split(" ")
    head = len(parts) - 1 if pos == "n" else 0
    parts[head] = _inflect_word(parts[head], pos, form)
    return " ".join(parts)


def match_case(candidate: str, original: str) -> str:
    """Write ``candidate`` in the case pattern of ``original`` ("Sitting" -> "Standing")."""
    if original.isupper() and len(original) > 1:
        return candidate.upper()
    if original[:1].isupper():
        return candidate[:1].upper() + candidate[1:]
    return candidate
