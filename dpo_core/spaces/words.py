"""Word analysis of a prompt: tokens, part of speech, lemma, inflection and content words.

The prompt is cut into pieces that join back to the exact text: every word is its own piece
and everything between words (spaces, punctuation, weighting syntax such as ``(word:1.2)``,
``<lora:name:0.8>`` tags, ``embedding:name`` references) is kept as fixed text. A weighted
word's slot therefore replaces only the word inside the parentheses.

Part of speech comes from WordNet (which parts of speech a form can have, and how often each
was seen in the SemCor sense counts) plus a few left-to-right context rules (a determiner is
followed by a noun or an adjective, a noun followed by a "-s"/"-ing"/past form is a verb, an
adjective-capable word before a noun is an adjective, ...). It is not a full tagger, but it
needs no model download and is right on the short noun phrases that prompts are made of.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .wordnet_data import lemma_count, load_wordnet

Pos = Literal["n", "v", "a", "r"]  # WordNet's noun, verb, adjective, adverb
Form = Literal["base", "plural", "ing", "past", "third"]
CONTENT_POS: tuple[Pos, ...] = ("n", "v", "a", "r")

# letters of any script ("café", "crème", "naïve"), an apostrophe inside ("don't", "dog's")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_WEIGHT = re.compile(r":\s*(" + _NUMBER + r")\s*$")

# Closed-class words (determiners, pronouns, prepositions, conjunctions, auxiliaries and a few
# grammatical adverbs): never slots.
FUNCTION_WORDS = frozenset(
    """
    a an the this that these those some any each every no all both either neither another such
    what which who whom whose whatever whichever
    i me my mine myself you your yours yourself we us our ours they them their theirs he him his
    she her hers it its itself themselves himself herself one's
    of in on at by for with without from to into onto upon over under above below beneath
    between among through throughout across along around about against behind beside besides
    beyond near toward towards within via per off out up down than like unlike during until till
    since before after inside outside underneath atop amid amidst
    and or but nor so yet if then else because while whereas though although unless whether as
    is am are was were be been being do does did done doing have has had having will would shall
    should can could may might must ought get got gets
    not very too also only just even still quite rather really there here where when how why
    other others next
    s t d ll re ve m
    """.split()
)
_DETERMINERS = frozenset(
    """a an the this that these those some any each every no my your our their his her its
    two three four five six seven eight nine ten several many few""".split()
)
_BE_FORMS = frozenset("is am are was were be been being".split())
_PREPOSITIONS = frozenset(
    """of in on at by for with without from into onto upon over under above below beneath
    between among through across along around about against behind beside near toward towards
    within via per inside outside underneath atop amid""".split()
)
_SUBJECT_PRONOUNS = frozenset("i you we they he she it who that which".split())


@dataclass(frozen=True)
class Word:
    """One word of a prompt, where it is, and what WordNet knows about it."""

    text: str  # exactly as written in the prompt
    start: int  # character offsets into the prompt: prompt[start:end] == text
    end: int
    lemma: str  # base form, lower case ("dogs" -> "dog", "sitting" -> "sit")
    pos: Pos | None  # None: function word, or a word WordNet does not know
    form: Form  # inflection of the written word relative to the lemma
    content: bool  # open-class word (noun, verb, adjective, adverb, or an unknown word)
    known: bool  # WordNet has the lemma with this part of speech
    weight: float | None = None  # from (word:1.2) / (word) / [word] syntax; None if unweighted
    name: bool = False  # a name or technical token (see ``analyze``): never a content word


@dataclass(frozen=True)
class PromptAnalysis:
    """A prompt, its words, and the pieces (words and fixed text) that join back to it."""

    prompt: str
    words: tuple[Word, ...]

    @property
    def content_words(self) -> tuple[Word, ...]:
        return tuple(w for w in self.words if w.content)

    def pieces(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """``(pieces, word_piece)``: pieces join to the prompt; word i is pieces[word_piece[i]]."""
        pieces: list[str] = []
        index: list[int] = []
        cursor = 0
        for word in self.words:
            if word.start > cursor:
                pieces.append(self.prompt[cursor : word.start])
            index.append(len(pieces))
            pieces.append(word.text)
            cursor = word.end
        if cursor < len(self.prompt):
            pieces.append(self.prompt[cursor:])
        return tuple(pieces), tuple(index)


# --- weighting syntax ------------------------------------------------------------------------
def _skipped_spans(prompt: str) -> list[tuple[int, int]]:
    """Character spans that hold no prompt words: ``<...>`` tags and ``embedding:name``."""
    spans = [m.span() for m in re.finditer(r"<[^<>]*>", prompt)]
    spans += [m.span() for m in re.finditer(r"\bembedding:[^\s,()\[\]]+", prompt, re.IGNORECASE)]
    return spans


def _weights(prompt: str) -> list[tuple[int, int, float]]:
    """Spans of ``( )``/``[ ]`` groups and the attention weight each gives its inside.

    ``(text:1.3)`` sets 1.3; ``(text)`` multiplies by 1.1, ``[text]`` divides by 1.1
    (the usual convention of Stable Diffusion front ends); ``\\(`` is a literal bracket.
    """
    groups: list[tuple[int, int, float]] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(prompt):
        char = prompt[i]
        if char == "\\":
            i += 2
            continue
        if char in "([":
            stack.append((char, i))
        elif char in ")]" and stack:
            opener, start = stack.pop()
            inside = prompt[start + 1 : i]
            if opener == "(":
                match = _WEIGHT.search(inside)
                factor = float(match.group(1)) if match else 1.1
                groups.append((start, i, factor if match else -factor))
            else:
                groups.append((start, i, -1 / 1.1))
        i += 1
    return groups


def _weight_at(position: int, groups: list[tuple[int, int, float]]) -> float | None:
    """Weight at a character: the innermost explicit weight times the plain-bracket factors."""
    enclosing = sorted(
        (g for g in groups if g[0] < position < g[1]), key=lambda g: g[1] - g[0]
    )  # innermost first
    if not enclosing:
        return None
    weight = 1.0
    for _, _, factor in enclosing:
        if factor > 0:  # explicit (text:w) overrides everything outside it
            return round(weight * factor, 4)
        weight *= -factor
    return round(weight, 4)


# --- WordNet look-ups ------------------------------------------------------------------------
@lru_cache(maxsize=100_000)
def lemma_of(word: str, pos: Pos) -> str | None:
    """WordNet's base form of ``word`` as ``pos`` (morphy), or None if WordNet lacks it.

    When the written form is itself a rarer lemma ("shoes" as in "in his shoes"), the more
    common base form wins ("shoes" -> "shoe").
    """
    wordnet = load_wordnet()
    forms = wordnet._morphy(word.lower(), pos)
    if not forms:
        return None
    if len(forms) > 1 and forms[0] == word.lower():
        counts = {f: sum(lemma_count(lem) for s in wordnet.synsets(f, pos) for lem in s.lemmas()
                         if lem.name().lower() == f) for f in forms}  # fmt: skip
        best = max(forms[1:], key=lambda f: counts[f])
        if counts[best] > 2 * counts[forms[0]] + 2:
            return best
    return forms[0]


@lru_cache(maxsize=100_000)
def pos_prior(word: str, pos: Pos) -> float:
    """How usual ``word`` is as ``pos``: log(1 + SemCor count of its senses) + a small bonus."""
    lemma = lemma_of(word, pos)
    if lemma is None:
        return -math.inf
    wn = load_wordnet()
    count = 0
    synsets = wn.synsets(lemma, pos)
    for synset in synsets:
        for lem in synset.lemmas():
            if lem.name().lower() == lemma:
                count += lemma_count(lem)
    return math.log1p(count) + 0.1 * math.log1p(len(synsets))


def _form(text: str, lemma: str, pos: Pos | None) -> Form:
    lower = text.lower()
    if pos is None or lower == lemma:
        return "base"
    if pos == "n":
        return "plural"
    if pos == "v":
        if lower.endswith("ing"):
            return "ing"
        if lower.endswith("s") and not lower.endswith("ss"):
            return "third"
        return "past"
    return "base"


@dataclass(frozen=True)
class _Context:
    prev: str  # previous word, lower case ("" at the start)
    prev_pos: Pos | None
    prev_plural: bool
    next: str  # next word, lower case ("" at the end)
    boundary_after: bool  # punctuation or the end of the prompt follows the word
    modifier_before: bool = False  # a singular noun or a possessive is right before the word


def _choose_pos(lower: str, ctx: _Context) -> Pos | None:
    """Most likely part of speech: WordNet prior plus context rules (a small hand-made tagger)."""
    scores: dict[Pos, float] = {}
    next_can_be_noun = (
        ctx.next not in FUNCTION_WORDS and not ctx.boundary_after and pos_prior(ctx.next, "n") > 0
    )
    for pos in CONTENT_POS:
        prior = pos_prior(lower, pos)
        if prior == -math.inf:
            continue
        lemma = lemma_of(lower, pos) or lower
        score = prior
        inflected = lemma != lower
        ing = lower.endswith("ing") and inflected
        if pos == "v":
            if ctx.prev in _DETERMINERS or ctx.prev_pos == "a":
                score -= 2 if ing or lower.endswith("ed") else 6
            if ctx.prev in _PREPOSITIONS and not ing:
                score -= 4
            if ctx.prev in _BE_FORMS:
                score += 3 if ing or lower.endswith("ed") else -3
            if ctx.prev == "to":
                score += 2
            if ctx.modifier_before and not inflected:
                score -= 5  # noun compound: "bathroom sink", "stop sign", "doctor's mask"
            if ing:
                score += 2.5
            if ctx.prev_pos == "n" or ctx.prev in _SUBJECT_PRONOUNS:
                if inflected or ctx.prev_plural:
                    score += 1.5 if ctx.boundary_after else 3
        elif pos == "n":
            if ctx.prev in _DETERMINERS:
                score += 1
            if lower.endswith("ing") and not inflected:
                score -= 1
        elif pos == "a":
            if ctx.prev in _BE_FORMS:
                score += 1.5
            if next_can_be_noun:
                score += 2
        elif pos == "r":
            score += 2 if lower.endswith("ly") else -1
        scores[pos] = score
    if not scores:
        return None
    return max(scores, key=lambda p: scores[p])


def _is_function(lower: str) -> bool:
    return lower in FUNCTION_WORDS or len(lower) < 2 or "'" in lower or "\u2019" in lower


_BOUNDARY = re.compile(r"[,.;:!?()\[\]|]")
TITLE_CASE_SHARE = 0.8  # a prompt with this share of capitalised words is written in title case
_VOWEL = re.compile(r"[aeiouy]", re.IGNORECASE)


@lru_cache(maxsize=100_000)
def known_word(word: str) -> bool:
    """WordNet has the word (any form, any part of speech)."""
    return any(lemma_of(word, pos) is not None for pos in CONTENT_POS)


@lru_cache(maxsize=50_000)
def proper_noun_only(word: str) -> bool:
    """WordNet knows the word only as the name of an individual ("Elizabeth", "Arthur").

    Every entry spelled like it is capitalised and names an instance (a person, a place), so
    "French" and "American" (a language, a people) are not names by this rule.
    """
    wordnet = load_wordnet()
    lower = word.lower()
    spellings = {lower} | {lemma_of(lower, pos) for pos in CONTENT_POS} - {None}
    entries = [
        (synset, item)
        for pos in CONTENT_POS
        for synset in wordnet.synsets(lower, pos)
        for item in synset.lemmas()
        if item.name().lower() in spellings
    ]
    return bool(entries) and all(
        item.name()[:1].isupper() and synset.instance_hypernyms() for synset, item in entries
    )


def _names(prompt: str, matches: list[re.Match], lowers: list[str]) -> list[bool]:
    """Which words are names or technical tokens rather than words to rewrite.

    A word is a name if it touches a digit ("8k", "35mm"); if WordNet does not know it and it
    is capitalised or has no vowel ("UHD", "Rutkowski", "hdr"); if WordNet knows it only as an
    individual ("Elizabeth"); if it is an unknown word next to a name ("arthur fonzareli"); or
    if it is part of a credit: the words right after "by" (no determiner) up to the next
    punctuation, when one of them is a name or unknown ("by justin gerard and tony sart").
    """
    n = len(matches)
    names = [False] * n
    unknown = [False] * n
    for i, (match, lower) in enumerate(zip(matches, lowers, strict=True)):
        if _is_function(lower):
            continue
        start, end = match.span()
        if (start > 0 and prompt[start - 1].isdigit()) or prompt[end : end + 1].isdigit():
            names[i] = True
            continue
        unknown[i] = not known_word(lower)
        text = match.group(0)
        if unknown[i] and (text != lower or not _VOWEL.search(lower)):
            names[i] = True
        elif not unknown[i] and proper_noun_only(lower):
            names[i] = True

    def joined(i: int, j: int) -> bool:  # no punctuation between words i < j
        return not _BOUNDARY.search(prompt[matches[i].end() : matches[j].start()])

    # capitalised words run together in a prompt that is not written in title case are one
    # name ("Jackson River RD", "Octane Render", "Ready Player One"), whatever WordNet knows
    # of each ("river", "render", "player"); a capitalised word alone is a word ("Knights")
    capital = [m.group(0)[:1].isupper() and not _is_function(lower)
               for m, lower in zip(matches, lowers, strict=True)]  # fmt: skip
    if sum(capital) < TITLE_CASE_SHARE * max(1, sum(not _is_function(w) for w in lowers)):
        for i in range(n - 1):
            if capital[i] and capital[i + 1] and prompt[matches[i].end() : matches[i + 1].start()] == " ":
                names[i] = names[i + 1] = True

    changed = True
    while changed:  # unknown words next to a name belong to it
        changed = False
        for i in range(n):
            if names[i] or not unknown[i]:
                continue
            if (i > 0 and names[i - 1] and joined(i - 1, i)) or (
                i + 1 < n and names[i + 1] and joined(i, i + 1)
            ):
                names[i] = changed = True
    for i in range(n - 1):
        if lowers[i] != "by" or _is_function(lowers[i + 1]):
            continue
        run = [i + 1]
        while run[-1] + 1 < n and joined(run[-1], run[-1] + 1):
            run.append(run[-1] + 1)
        if any(names[j] or unknown[j] for j in run):
            for j in run:
                names[j] = not _is_function(lowers[j])
    return names


# --- phrase rules, after the word-by-word pass -----------------------------------------------
HEAD_MIN_PRIOR = 1.0  # a noun reading at least this usual (``pos_prior``) may head a phrase
_PHRASE_ENDERS = _PREPOSITIONS | _BE_FORMS | {"that", "which", "who", "while", "as"}
_PARTICLES = _PREPOSITIONS | {"up", "down", "out", "off", "away", "back"}


def _gap(prompt: str, matches: list[re.Match], i: int) -> str:
    """The text between word i and word i + 1."""
    return prompt[matches[i].end() : matches[i + 1].start()]


def _phrase_ends_after(
    prompt: str, matches: list[re.Match], lowers: list[str], tags: list[Pos | None], i: int
) -> bool:
    """Nothing of word i's noun phrase follows it: the end of the prompt, punctuation (a comma
    only if no adjective comes next: "a great, loveable guy" goes on), a preposition, a verb
    "be", a relative pronoun, or "and"/"or" before a new determiner ("a general and a queen")."""
    if i + 1 >= len(matches):
        return True
    gap = _gap(prompt, matches, i)
    if _BOUNDARY.search(gap):
        return gap.strip() != "," or tags[i + 1] != "a"
    after = lowers[i + 1]
    if after in _PHRASE_ENDERS:
        return True
    return after in ("and", "or") and i + 2 < len(lowers) and lowers[i + 2] in _DETERMINERS


def _phrase_heads(
    prompt: str, matches: list[re.Match], lowers: list[str], tags: list[Pos | None]
) -> None:
    """A determiner opens a noun phrase, so the phrase has a noun: when the words after it are
    all read as adjectives or verbs up to the end of the phrase, the last one is the noun if
    WordNet has it as a common noun ("a single general and a young queen", "a building with
    two towers", "some cleaning supplies on it"), and an "-ing" verb before it is its modifier
    ("cleaning")."""
    n = len(lowers)
    for j in range(n - 1):
        if lowers[j] not in _DETERMINERS or _BOUNDARY.search(_gap(prompt, matches, j)):
            continue
        k = j + 1
        while k < n and tags[k] in ("a", "v"):
            if _phrase_ends_after(prompt, matches, lowers, tags, k):
                if pos_prior(lowers[k], "n") >= HEAD_MIN_PRIOR:
                    for m in range(j + 1, k):
                        if tags[m] == "v" and lowers[m].endswith("ing"):
                            tags[m] = "a" if pos_prior(lowers[m], "a") > -math.inf else "n"
                    tags[k] = "n"
                break
            if k + 1 >= n or _BOUNDARY.search(_gap(prompt, matches, k)):
                break
            k += 1


def _subject_and_verb(
    prompt: str, matches: list[re.Match], lowers: list[str], tags: list[Pos | None]
) -> None:
    """At the start of a phrase, "Light breaks through" is a noun and its verb, not an
    adjective and a plural noun: the first word is more usual as a noun than as an adjective,
    the second is an "-s" form WordNet has as a verb, a particle or preposition follows, and
    the two words are more usual read as noun + verb than as adjective + noun."""
    for i in range(len(lowers) - 2):
        first, second = lowers[i], lowers[i + 1]
        if tags[i] not in ("a", "n") or tags[i + 1] != "n" or lowers[i + 2] not in _PARTICLES:
            continue
        if i > 0 and not _BOUNDARY.search(_gap(prompt, matches, i - 1)):
            continue  # not the start of a phrase ("the light rays through ...")
        if not second.endswith("s") or lemma_of(second, "v") in (None, second):
            continue
        if _BOUNDARY.search(_gap(prompt, matches, i)):
            continue
        noun_first, adjective_first = pos_prior(first, "n"), pos_prior(first, "a")
        if noun_first <= adjective_first:
            continue  # "Green leaves on the ground": green is an adjective first
        if noun_first + pos_prior(second, "v") > adjective_first + pos_prior(second, "n"):
            tags[i], tags[i + 1] = "n", "v"


@lru_cache(maxsize=50_000)
def _names_people(plural: str) -> bool:
    """The plural's usual sense is a person ("doctors", "farmers")."""
    lemma = lemma_of(plural, "n")
    synsets = load_wordnet().synsets(lemma, "n") if lemma else []
    return bool(synsets) and synsets[0].lexname() == "noun.person"


def _apostrophe_dropped(plural: str, lower: str, following: str, lowers: list[str], i: int) -> bool:
    """A people noun in the plural before a word that is as usual a noun as a verb, with no
    object after it, is a possessive written without its apostrophe ("doctors mask on");
    "two models hoist a flag" keeps its verb (an object follows)."""
    if not _names_people(plural) or lemma_of(lower, "n") is None:
        return False
    after = lowers[i + 1] if i + 1 < len(lowers) else ""
    if after in _DETERMINERS and not _BOUNDARY.search(following):
        return False
    return pos_prior(lower, "n") >= pos_prior(lower, "v") - 0.5


def analyze(prompt: str) -> PromptAnalysis:
    """Tokens, part of speech, lemma, inflection and weight of every word of a prompt.

    Content words are the open-class words (nouns, verbs, adjectives, adverbs, and unknown
    words) that are not names or technical tokens (see ``_names``).
    """
    skipped = _skipped_spans(prompt)
    groups = _weights(prompt)
    matches = [
        m
        for m in _WORD.finditer(prompt)
        if not any(a <= m.start() < b for a, b in skipped)
    ]
    lowers = [m.group(0).lower() for m in matches]
    names = _names(prompt, matches, lowers)
    tags: list[Pos | None] = []
    for i, lower in enumerate(lowers):
        if _is_function(lower) or names[i]:
            tags.append(None)
            continue
        end = matches[i].end()
        following = prompt[end : matches[i + 1].start()] if i + 1 < len(matches) else ""
        between = prompt[matches[i - 1].end() : matches[i].start()] if i > 0 else ""
        prev_pos = tags[-1] if tags else None
        prev_plural = i > 0 and prev_pos == "n" and lemma_of(lowers[i - 1], "n") != lowers[i - 1]
        attached = i > 0 and not _BOUNDARY.search(between)
        possessive = attached and (
            lowers[i - 1].endswith(("'s", "\u2019s")) or between.startswith(("'", "\u2019"))
        )
        modifier = attached and (
            (prev_pos == "n" and not prev_plural)
            or possessive
            or (prev_plural and i > 1 and lowers[i - 2] in ("a", "an"))  # "a doctors coat"
            or (prev_plural and _apostrophe_dropped(lowers[i - 1], lower, following, lowers, i))
        )
        ctx = _Context(
            prev=lowers[i - 1] if i > 0 else "",
            prev_pos=prev_pos,
            prev_plural=prev_plural,
            next=lowers[i + 1] if i + 1 < len(lowers) else "",
            boundary_after=i + 1 == len(matches) or bool(_BOUNDARY.search(following)),
            modifier_before=modifier,
        )
        tags.append(_choose_pos(lower, ctx))
    _subject_and_verb(prompt, matches, lowers, tags)
    # second pass: a word that can be an adjective, right before a noun or coordinated with an
    # adjective ("orange and brown cat"), is an adjective
    for i in range(len(tags) - 1):
        if tags[i] not in ("n", "v") or pos_prior(lowers[i], "a") == -math.inf:
            continue
        if _BOUNDARY.search(prompt[matches[i].end() : matches[i + 1].start()]):
            continue  # "wisps of magic, forest": the comma ends the phrase
        before_noun = tags[i + 1] == "n" and not (
            tags[i] == "v" and lowers[i].endswith("ing") and i > 0 and tags[i - 1] == "n"
        )
        coordinated = (
            lowers[i + 1] in ("and", "or") and i + 2 < len(tags) and tags[i + 2] == "a"
        )
        if before_noun or coordinated:
            tags[i] = "a"
    _phrase_heads(prompt, matches, lowers, tags)
    words = []
    for match, lower, pos, name in zip(matches, lowers, tags, names, strict=True):
        function = _is_function(lower)
        lemma = (lemma_of(lower, pos) if pos else None) or lower
        words.append(
            Word(
                text=match.group(0),
                start=match.start(),
                end=match.end(),
                lemma=lemma,
                pos=pos,
                form=_form(lower, lemma, pos),
                content=not function and not name,
                known=pos is not None,
                weight=_weight_at(match.start(), groups),
                name=name,
            )
        )
    return PromptAnalysis(prompt=prompt, words=tuple(words))
