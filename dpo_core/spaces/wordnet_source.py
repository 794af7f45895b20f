"""Candidate words from WordNet 3.0: contrasts (negative prompts) and synonyms (attacks).

Sense: the sense of a prompt word is picked with the prompt as context (a simplified Lesk):
each sense of the lemma scores ``overlap + 0.8 * log(1 + SemCor count) + prior / (1 + rank)``
plus the domain and reading bonuses of ``rank_senses``, where ``overlap`` counts the other
prompt words found in the sense's gloss, examples, and the lemmas of the sense, its
hypernyms and hyponyms (half for a word found only through its other names and classes,
``_related_words``), less ``SAME_THING_PENALTY`` for a word that names the sense itself;
``SenseHints`` add the verb frames and what an adjective sense is for. Candidates come from
the best sense first; other senses add lower-ranked candidates, weighted by how far behind
they are.

Contrasts (negative mode), in this order of usefulness (the *tier*):

0. direct antonyms of the lemma in the chosen sense ("hot" -> "cold", "sit" -> "stand");
1. indirect antonyms: the antonyms of the head of an adjective's similar-to cluster and the
   common members of that antonym's cluster ("scorching" -> "cold", "chilly"); for colours
   and numbers, the other members of the same class ("red" -> "green", "two" -> "three");
   for an adjective of a named place, the adjectives of its sister places ("French" ->
   "German", "Italian");
2. values of the same attribute ("hot" -> temperature -> "cold"), and antonyms reached through
   derivation links (adverbs through their adjective: "oddly" -> "evenly");
3. co-hyponyms: things of the same kind, found by climbing one to three hypernym levels and
   coming down as far again ("cat" -> feline, carnivore -> "dog", "fox", "lion"); the climb
   stops at the first level that gives a few familiar words, so close kinds are not padded
   with far cousins ("shoes" -> "slippers", "clogs", not "roofs"). Each contrasting sense
   gives one word (its most tagged lemma): "sink" -> "toilet", not also "commode", "throne".

Before all of these, a word picture prompts are made of takes the contrasts a curated table
gives it (``picture_contrasts``: "photo" -> "painting", "spooky" -> "cheerful"), the word's
own antonyms first; a word with its own antonym takes things of the same kind only from a
small class ("man" -> "woman", not the "liberal", "type", "host" of "adult").

Synonyms (positive mode): the other lemmas of the sense, then similar-to adjectives and
verb-group members, then hypernyms ("cat" -> "feline"), then common hyponyms.

Within a tier, candidates are ranked by familiarity: ``log(1 + SemCor count of the word over
all its senses) + 0.3 * log(1 + number of senses)``, less distance penalties for co-hyponyms.
Rare or awkward lemmas are dropped: capitalised (proper nouns, instance hyponyms), with digits,
longer than ``max_length``, multiword unless common (SemCor count >= ``multiword_min_count``),
contained in or containing the original word ("cat" / "wildcat"), or naming another word of
the prompt. Candidates keep the part of speech and inflection of the prompt word.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from nltk.corpus.reader.wordnet import Lemma, Synset

from .inflection import inflect, match_case
from .picture_contrasts import picture_contrasts
from .text_similarity import TextSimilarity, candidate_bonus, sense_bonus
from .wordnet_data import lemma_count, load_wordnet, sense_total
from .words import Pos, PromptAnalysis, Word, lemma_of

_TOKEN = re.compile(r"[a-z]+")
_CANDIDATE = re.compile(r"[a-z]+(?:[ -][a-z]+)?")
_STOP = frozenset("a an the of in on or and to with for by as is be at from that which".split())
# Words that must never be suggested: slurs and dated labels for groups of people.
_BLOCKED = frozenset(
    "negro nigger negroid colored coloured redskin oriental squaw bitch fagot faggot".split()
)
_PARTICLES = frozenset("up down out off over away back about around through into".split())
_CLASS_LEXNAMES = ("noun.attribute", "noun.quantity")  # colours, numbers: class co-members
RARE_SENSE_OTHER = 5  # SemCor tags in other senses that make an untagged sense "rare"
BROADER_MIN_FAMILIARITY = 1.0  # synonyms mode: broader/narrower words at least this familiar
NEAR_TIE = 1.5  # senses this close to the best one may be reordered by a text encoder
TIE_SENSES = 3  # ... at most this many
RERANK_EXTRA = 2  # a text encoder reorders the first max_candidates + this many candidates
DOMAIN_WEIGHT = 1.0  # sense score per other prompt word in the sense's domain (at most two)
OTHER_ANTONYM_WEIGHT = 0.3  # a weaker sense gives its antonyms if at least this close
GUARD_SENSES = 6  # senses of the word (most frequent first) a contrast must not be close to
SMALL_CLASS = 6  # a hypernym with at most this many kinds: its members may be variants
# a class just below the top ("causal agent", "group") or near it ("gathering", "expert")
# holds kinds too unlike each other to be contrasts: sisters only through a class at least
# SISTER_MIN_DEPTH deep, cousins through one at least COUSIN_MIN_DEPTH deep
SISTER_MIN_DEPTH = 3
COUSIN_MIN_DEPTH = 5
OPPOSITE_SISTERS = 20  # a word with an opposite: sisters from a class of at most this many kinds
GENERAL_CLASS = 60  # a hypernym with more kinds than this is too broad for co-hyponyms
# Glosses that mark a sense as an insult: such a sense is never chosen ("queen" -> "fagot").
_OFFENSIVE_GLOSS = re.compile(r"\b(offensive|disparaging|derogatory|ethnic slur)\b")
# Positions in a picture. Read after a preposition ("on the right", "on top", "in the
# background"), these words get the other positions as contrasts: WordNet files their senses
# among hundreds of unrelated "positions" (pole position, half-mast), so its co-hyponyms are
# no use, and its antonyms cover only some of them (right/left, front/back).
SPATIAL_CONTRASTS: dict[str, tuple[str, ...]] = {
    "left": ("right", "center", "top", "bottom"),
    "right": ("left", "center", "top", "bottom"),
    "top": ("bottom", "middle", "side"),
    "bottom": ("top", "middle", "side"),
    "front": ("back", "side", "top"),
    "back": ("front", "side", "top"),
    "rear": ("front", "side"),
    "middle": ("edge", "corner", "side"),
    "center": ("edge", "corner", "side"),
    "centre": ("edge", "corner", "side"),
    "side": ("middle", "center", "front"),
    "corner": ("center", "middle"),
    "edge": ("center", "middle"),
    "foreground": ("background", "distance"),
    "background": ("foreground", "close-up"),
    "distance": ("foreground", "close-up"),
}
_SPATIAL_PREPOSITIONS = frozenset(
    "on at in to from into onto toward towards near out off by over under of".split()
)


@dataclass(frozen=True)
class WordNetSettings:
    """How many candidates, and which lemmas count as usable."""

    max_candidates: int = 5
    max_length: int = 12  # longer lemmas are mostly technical terms
    min_count: int = 1  # SemCor count (all senses) a single word needs, unless polysemous
    min_senses_if_unseen: int = 3  # ...or this many senses (WordNet's own familiarity measure)
    multiword_min_count: int = 3  # multiword lemmas must be at least this common
    max_senses: int = 3  # senses of a prompt word that contribute candidates

    def __post_init__(self) -> None:
        if self.max_candidates < 1:
            raise ValueError(f"expected max_candidates >= 1, got {self.max_candidates}")


@dataclass(frozen=True)
class _Scored:
    text: str  # base form, spaces between words
    tier: int
    score: float


# --- familiarity -----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _semcor_counts() -> dict[str, int]:
    """SemCor tag count of every lemma name, summed over its senses (from ``cntlist.rev``)."""
    root = Path(str(load_wordnet().root))
    counts: dict[str, int] = defaultdict(int)
    path = root / "cntlist.rev"
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split()
            if len(fields) == 3:
                counts[fields[0].split("%", 1)[0].lower()] += int(fields[2])
    return dict(counts)


def _senses(name: str) -> int:
    return sense_total(name)


def familiarity(name: str) -> float:
    """``log(1 + SemCor count) + 0.3 * log(1 + number of senses)`` of a lemma name."""
    key = name.lower().replace(" ", "_")
    return math.log1p(_semcor_counts().get(key, 0)) + 0.3 * math.log1p(_senses(key))


def _usable(name: str, settings: WordNetSettings) -> str | None:
    """The candidate as prompt text ("ice_cream" -> "ice cream"), or None if it is not usable."""
    if not name or name[0].isupper() or any(c.isupper() for c in name):
        return None
    text = name.replace("_", " ")
    if not _CANDIDATE.fullmatch(text) or len(text) > settings.max_length:
        return None
    count = _semcor_counts().get(name.lower(), 0)
    if " " in text or "-" in text:
        return text if count >= settings.multiword_min_count else None
    if count >= settings.min_count or _senses(name) >= settings.min_senses_if_unseen:
        return text
    base = _adjective_of_adverb(name)
    if base is not None and _usable(base, settings) is not None:
        return text  # an adverb is as familiar as its adjective ("imprecisely", "imprecise")
    return None


def _adjective_of_adverb(name: str) -> str | None:
    """The adjective an ``-ly`` adverb is made from, if WordNet knows it ("imprecisely")."""
    if not name.endswith("ly") or len(name) < 5 or not _synsets_of(name, "r"):
        return None
    stems = [name[:-2], name[:-3] + "y" if name.endswith("ily") else "", name[:-1] + "e"]
    for stem in stems:
        if stem and _senses(stem) and load_wordnet().synsets(stem, "a"):
            return stem
    return None


def _related_spelling(candidate: str, word: str) -> bool:
    """The same word, or the candidate contains it ("cat" -> "wildcat", "sit" -> "sit down")."""
    candidate = candidate.lower().replace("_", " ")
    word = word.lower().replace("_", " ")
    return candidate == word or (len(word) >= 3 and word in candidate)


# --- senses ----------------------------------------------------------------------------------
def _prefixes(words: Iterable[str]) -> set[str]:
    """Crude stems for gloss overlap: the first five letters ("spooky" ~ "spook")."""
    return {w[:5] for w in words if len(w) >= 3}


def _name_words(synsets: Iterable[Synset]) -> set[str]:
    """The words of the senses' names, lower case ("plumbing_fixture" -> plumbing, fixture)."""
    return {part for s in synsets for name in s.lemma_names() for part in name.lower().split("_")}


def _signature(synset: Synset) -> set[str]:
    words = set(_TOKEN.findall(synset.definition().lower()))
    for example in synset.examples():
        words.update(_TOKEN.findall(example.lower()))
    words |= _name_words(
        [synset, *synset.hypernyms(), *synset.hyponyms()[:20], *synset.similar_tos()]
    )
    return _prefixes(words - _STOP)


@lru_cache(maxsize=20_000)
def _same_thing_names(synset: Synset) -> frozenset[str]:
    """Names of the sense itself and of its narrower senses ("toilet" the room: "bathroom",
    "washroom"). Another prompt word among them is a second thing in the picture, so it
    speaks against this sense: "a toilet in a bathroom" is the fixture, not the room."""
    related = [synset, *synset.hyponyms()]
    return frozenset(n.lower() for h in related for n in h.lemma_names())


def _lemma_in(synset: Synset, lemma: str) -> Lemma | None:
    for item in synset.lemmas():
        if item.name().lower() == lemma:
            return item
    return None


@lru_cache(maxsize=20_000)
def _related_words(lemma: str, pos: str) -> frozenset[str]:
    """What a prompt word brings to mind beyond its own spelling: the other names of its two
    most usual senses in its part of speech in the prompt, and of their direct hypernyms, as
    gloss prefixes.

    The prompt's own words rarely occur in the gloss of the sense they select ("airplane"
    never in "a strip of level paved surface where planes can take off and land"), but their
    synonyms and classes often do ("plane"; "shower" is a "plumbing fixture", as is the
    "toilet" that is no room). A match through these counts ``RELATED_WEIGHT``.
    """
    names = _name_words(
        related
        for synset in load_wordnet().synsets(lemma, pos)[:2]  # type: ignore[arg-type]
        for related in (synset, *synset.hypernyms())
        # not "object", "whole", "person": shared by half the nouns
        if not (related.pos() == "n" and related.min_depth() < 4)
    )
    # the particles of phrasal names ("sit down", "load up") are in every other gloss
    return frozenset(_prefixes(names - _STOP - _PARTICLES))


@dataclass(frozen=True)
class SenseHints:
    """What the prompt around a word says about its sense, beyond the bag of its words.

    ``related``: the other content words with their part of speech, for ``_related_words``.
    ``to_object``: a verb followed by "to" and a noun phrase ("tending to a tree"): the "to"
    is a preposition, so a sense that WordNet uses only with an infinitive ("tend to be",
    have a tendency) does not fit. ``no_object``: an active verb with no object ("posing
    towards camera", "Light breaks through"): a sense that always takes one ("pose" a
    question, "break" a record) does not fit.
    """

    related: tuple[tuple[str, str], ...] = ()
    to_object: bool = False
    no_object: bool = False  # an active verb followed by a preposition or by nothing
    head: str | None = None  # an adjective: the lemma of the noun it describes
    plural: bool = False  # a noun written in the plural


# "(of foods) covered with a shiny coating", "(used of eyes) lacking liveliness": WordNet says
# what an adjective sense applies to in a bracket at the start of its gloss
_APPLIES_TO = re.compile(r"^\((?:used |especially |usually |chiefly )?of ([^)]*)\)")
APPLIES_WEIGHT = 1.5  # sense score when the described noun is (+) or is not (-) such a thing


@lru_cache(maxsize=20_000)
def _kinds_of(noun: str) -> frozenset[str]:
    """What a noun is, as gloss prefixes: its names and those of all its broader senses, for
    its two most usual senses ("donut" -> doughnut, cake, baked goods, food, ...)."""
    names = _name_words(
        related
        for synset in load_wordnet().synsets(noun, "n")[:2]
        for related in (synset, *_ancestors(synset))
    )
    return frozenset(_prefixes(names - _STOP))


def _applies(synset: Synset, head: str) -> int:
    """+1 if the adjective sense is for things such as ``head`` ("(of foods)", a donut), -1 if
    it is for other things ("(used of eyes)"), 0 if its gloss says nothing about it."""
    found = _APPLIES_TO.match(synset.definition())
    if not found:
        return 0
    wanted = _prefixes(set(_TOKEN.findall(found.group(1).lower())) - _STOP)
    singular = {w[:-1] for w in wanted if w.endswith("s")}  # "foods" ~ "food"
    return 1 if (wanted | singular) & _kinds_of(head) else -1


SAME_THING_PENALTY = 2.0  # per other prompt word that names this very sense (or a kind of it)
RELATED_WEIGHT = 0.5  # sense score per other prompt word found only through _related_words


UNTAGGED_PRIOR = 0.5  # weight of WordNet's sense order for a word SemCor never tagged
FRAME_PENALTY = 3.0  # a verb sense whose sentence frames do not fit the prompt


# A state, a feeling or a stuff has no plural: "ruins" are ruined buildings, not states of
# devastation, and "glasses" are not kinds of the substance
_UNCOUNTABLE = frozenset(("noun.state", "noun.feeling", "noun.substance"))
PLURAL_PENALTY = 2.5

_OBJECTS = frozenset("something somebody that whether to".split())


def _object_only(item: Lemma) -> bool:
    """Every sentence frame of the verb sense has an object or a clause after the verb
    ("Somebody ----s something", "... that CLAUSE"), none ends there or goes on with a
    preposition ("Somebody ----s", "Somebody ----s PP")."""
    frames = item.frame_strings()
    if not frames:
        return False
    for frame in frames:
        words = frame.split()[1:]  # the subject ("Somebody") first
        if words and words[0] in ("is", "are"):
            words = words[1:]
        tail = words[1:]  # after the verb
        if not tail or tail[0] not in _OBJECTS:
            return False
    return True


def _infinitive_only(item: Lemma) -> bool:
    """Every sentence frame of the verb sense takes "to INFINITIVE" ("tend to be")."""
    frames = item.frame_strings()
    return bool(frames) and all("INFINITIVE" in f for f in frames)


SenseBonus = Callable[[list[Synset]], list[float]]  # senses -> extra score each (a text model)


def rank_senses(
    lemma: str,
    pos: Pos,
    context: Iterable[str],
    domains: Sequence[str] = (),
    bonus: SenseBonus | None = None,
    prefer: Sequence[str] = (),
    hints: SenseHints | None = None,
) -> list[tuple[Synset, float]]:
    """Senses of ``lemma`` as ``pos``, best first, with weights in (0, 1] (best = 1).

    ``domains``: lexicographer files of the other prompt words ("noun.artifact", ...); a sense
    in the same domain as other words gets a bonus ("toaster" on a counter is an appliance,
    a "witch queen" next to a "guardian" is a person). ``prefer``: domains the reading asks
    for (``_animate_domains``), worth ``AGENT_BONUS``. ``bonus``: extra score per sense, from
    a text encoder (``text_similarity.sense_bonus``), for the senses in a near tie only.
    ``hints``: what the words around it say (``SenseHints``): the other words' names and
    classes, the verb's frame, the noun an adjective describes, a plural.
    Senses whose gloss marks them as insults are never offered.
    """
    wordnet = load_wordnet()
    others = [c.lower() for c in context if c.lower() != lemma and c.lower() not in _STOP]
    context_set = _prefixes(others)
    # each other word counts once: in full if its own spelling is found, else at
    # RELATED_WEIGHT if one of its related names is
    hints = hints or SenseHints()
    related = [
        _related_words(c, p) - context_set
        for c, p in hints.related
        if c != lemma and len(c) >= 3 and c not in _STOP
    ]
    senses = wordnet.synsets(lemma, pos)
    # WordNet lists a word's senses by SemCor frequency; for a word SemCor never tagged
    # ("runway") the order is the lexicographer's, so it is worth less than a context word
    tagged = any((i := _lemma_in(s, lemma)) is not None and lemma_count(i) for s in senses)
    prior = 1.5 if tagged else UNTAGGED_PRIOR
    scored: list[tuple[float, Synset]] = []
    for rank, synset in enumerate(senses):
        if synset.instance_hypernyms() and not any(n == lemma for n in synset.lemma_names()):
            # a named individual ("Elizabeth" the queen), not a kind of thing; but one that
            # is also written in lower case is how people name it ("the sun", "the moon")
            continue
        if _OFFENSIVE_GLOSS.search(synset.definition()):
            continue
        item = _lemma_in(synset, lemma)
        count = lemma_count(item) if item is not None else 0
        signature = _signature(synset)
        overlap = float(len(signature & context_set)) if context_set else 0.0
        overlap += RELATED_WEIGHT * sum(1 for names in related if names & signature)
        overlap -= SAME_THING_PENALTY * len(_same_thing_names(synset) & set(others))
        domain = min(2, sum(1 for d in domains if d == synset.lexname()))
        score = overlap + DOMAIN_WEIGHT * domain + 0.8 * math.log1p(count) + prior / (1 + rank)
        score += AGENT_BONUS if synset.lexname() in prefer else 0.0
        if hints.head is not None and synset.pos() in ("a", "s"):
            score += APPLIES_WEIGHT * _applies(synset, hints.head)
        if hints.plural and synset.lexname() in _UNCOUNTABLE:
            score -= PLURAL_PENALTY
        if hints.to_object and item is not None and _infinitive_only(item):
            score -= FRAME_PENALTY
        if hints.no_object and item is not None and _object_only(item):
            score -= FRAME_PENALTY
        scored.append((score, synset))
    scored.sort(key=lambda pair: -pair[0])
    if bonus is not None and len(scored) > 1:
        # only the senses within a near tie of the best can change places; the others are
        # not worth encoding (a verb such as "break" has 59 senses)
        top = scored[0][0]
        close = [pair for pair in scored[:TIE_SENSES] if pair[0] >= top - NEAR_TIE]
        if len(close) > 1:
            extra = bonus([synset for _, synset in close])
            close = [(score + e, synset) for (score, synset), e in zip(close, extra, strict=True)]
            scored = sorted(close + scored[len(close) :], key=lambda pair: -pair[0])
    if not scored:
        return []
    best = scored[0][0]
    return [(synset, 1.0 / (1.0 + max(0.0, best - score))) for score, synset in scored]


# --- relations -------------------------------------------------------------------------------
def _antonym_lemmas(synset: Synset, lemma: str) -> list[Lemma]:
    item = _lemma_in(synset, lemma)
    direct = list(item.antonyms()) if item is not None else []
    others = [a for lem in synset.lemmas() if lem is not item for a in lem.antonyms()]
    return direct + others


def _cluster_antonyms(synset: Synset) -> list[tuple[Lemma, float]]:
    """Indirect antonyms of an adjective through its cluster head (tier 1)."""
    out: list[tuple[Lemma, float]] = []
    heads = synset.similar_tos() if synset.pos() == "s" else []
    for head in heads:
        for lem in head.lemmas():
            for antonym in lem.antonyms():
                out.append((antonym, 0.0))
                for satellite in antonym.synset().similar_tos():
                    out.extend((item, -0.5) for item in satellite.lemmas())
    if synset.pos() == "a":  # head adjective: satellites of its antonym's cluster
        for lem in synset.lemmas():
            for antonym in lem.antonyms():
                for satellite in antonym.synset().similar_tos():
                    out.extend((item, -0.5) for item in satellite.lemmas())
    return out


_CLASS_ROOTS = ("color.n.01", "number.n.02")  # colours and numbers: class co-members


@lru_cache(maxsize=50_000)
def _ancestors(synset: Synset) -> frozenset[Synset]:
    return frozenset(synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms()))


@lru_cache(maxsize=100_000)
def _max_depth(synset: Synset) -> int:
    """Longest hypernym path to the root (NLTK recomputes it on every call)."""
    parents = synset.hypernyms() + synset.instance_hypernyms()
    return 1 + max(_max_depth(h) for h in parents) if parents else 0


@lru_cache(maxsize=100_000)
def _kinds(synset: Synset) -> int:
    return len(synset.hyponyms())


def _in_class(noun: Synset) -> bool:
    """A colour or a number (not any other noun.quantity: "hair's-breadth" is no number)."""
    if noun.lexname() not in _CLASS_LEXNAMES:
        return False
    roots = {load_wordnet().synset(name) for name in _CLASS_ROOTS}
    return bool(roots & _ancestors(noun))


def _class_members(lemma: str, pos: Pos, sense: Synset | None = None) -> list[tuple[Lemma, float]]:
    """Colours and numbers: other members of the noun class of the same word (tier 1).

    A noun uses its chosen ``sense`` only ("hair" the body covering has no class, its
    "hair's-breadth" sense is no reason to offer "bit"); an adjective ("red") reads the
    word's colour or number nouns.
    """
    wordnet = load_wordnet()
    out: list[tuple[Lemma, float]] = []
    nouns = [sense] if pos == "n" and sense is not None else wordnet.synsets(lemma, "n")[:3]
    for noun in nouns:
        if not _in_class(noun):
            continue
        for parent in noun.hypernyms():
            siblings = parent.hyponyms()
            if len(siblings) < 3:
                continue
            for sibling in siblings:
                if sibling == noun:
                    continue
                for item in sibling.lemmas():
                    if pos != "n" and not wordnet.synsets(item.name(), pos):
                        continue  # keep the part of speech: "red" (adj) -> adjectives only
                    out.append((item, 0.0))
    return out


@lru_cache(maxsize=1)
def _pertaining_adjectives() -> dict[int, tuple[tuple[int, str], ...]]:
    """Noun synset offset -> the (adjective offset, lemma name) pairs that pertain to it,
    read once from ``data.adj`` (WordNet stores the link only from the adjective: "French"
    -> France; NLTK would read all 18 000 adjective synsets to invert it)."""
    table: dict[int, list[tuple[int, str]]] = defaultdict(list)
    path = Path(str(load_wordnet().root)) / "data.adj"
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(" ") or " \\ " not in line:
            continue
        fields = line.split(" | ", 1)[0].split()
        words = [fields[4 + 2 * k] for k in range(int(fields[3], 16))]
        at = 4 + 2 * len(words)
        for k in range(int(fields[at])):
            symbol, offset, pos, pair = fields[at + 1 + 4 * k : at + 5 + 4 * k]
            source = int(pair[:2], 16)
            if symbol == "\\" and pos == "n" and source:
                table[int(offset)].append((int(fields[0]), words[source - 1]))
    return {k: tuple(v) for k, v in table.items()}


def _sister_places(synset: Synset) -> list[tuple[Lemma, float]]:
    """An adjective of a named place or people ("French", "American"): the adjectives of the
    other members of its class ("German", "Italian"; "Mexican", "Canadian") (tier 1)."""
    wordnet = load_wordnet()
    index = _pertaining_adjectives()
    out: list[tuple[Lemma, float]] = []
    for item in synset.lemmas():
        for noun in item.pertainyms():
            for group in noun.synset().instance_hypernyms():
                for sister in group.instance_hyponyms():
                    if sister == noun.synset():
                        continue
                    for offset, name in index.get(sister.offset(), ()):
                        adjective = wordnet.synset_from_pos_and_offset("a", offset)
                        found = _lemma_in(adjective, name.lower())
                        if found is not None:
                            out.append((found, 0.0))
    return out


def _attribute_values(synset: Synset) -> list[tuple[Lemma, float]]:
    """Other adjectives that value the same attribute ("hot" -> temperature -> "cold")."""
    heads = synset.similar_tos() if synset.pos() == "s" else [synset]
    own = set(heads) | {synset}
    out: list[tuple[Lemma, float]] = []
    for head in heads:
        for attribute in head.attributes():
            for value in attribute.attributes():
                if value not in own:
                    out.extend((item, 0.0) for item in value.lemmas())
    return out


def _familiar_name(name: str) -> bool:
    """A plain lower-case word people use (SemCor count > 0 or several senses): worth keeping."""
    if not name.islower() or not name.replace("_", "").isalpha():
        return False
    return _semcor_counts().get(name, 0) > 0 or sense_total(name) >= 3


@lru_cache(maxsize=20_000)
def _co_hyponyms(
    synset: Synset, levels: int = 3, enough: int = 4, budget: int = 400, individuals: bool = False
) -> tuple[tuple[Lemma, float], ...]:
    """Things of the same kind, nearest first: up ``h`` hypernym levels, down ``h`` again.

    Sisters (h = 1) come before cousins (h = 2) and so on; the climb stops at the first level
    after which ``enough`` familiar words were found, so a close kind ("cat" -> "dog", "lion")
    is never pushed out by a far one ("cat" -> "man"). At most ``budget`` synsets are read.
    The word's own sense, its ancestors and (by not walking below it) its descendants are
    excluded. The penalty grows with the height and with a change of domain (lexicographer
    file). Cached per sense: the first look-up of a word pays the walk once.
    """
    ancestors = set(_ancestors(synset))
    excluded = ancestors | {synset}
    out: list[tuple[Lemma, float]] = []
    seen: set[Synset] = set()
    familiar: set[str] = set()
    level = [synset]
    visited = 0
    for height in range(1, levels + 1):
        level = [h for s in level for h in s.hypernyms()]
        if synset.pos() == "n":  # stop below the very general nouns (entity, object, ...)
            least = SISTER_MIN_DEPTH if height == 1 else COUSIN_MIN_DEPTH
            level = [s for s in level if s.min_depth() >= least]
            # a class of very many kinds ("collection", "substance") mixes unrelated things:
            # its members are vague contrasts ("traffic" -> "set", "law", "data")
            level = [s for s in level if _kinds(s) <= GENERAL_CLASS or s.min_depth() >= 6]
        elif synset.lexname() != "verb.motion":  # "change", "be", "make": unrelated acts
            level = [s for s in level if _kinds(s) <= GENERAL_CLASS]
        if not level or visited > budget:
            break
        for top in level:
            frontier = [top]
            general = synset.pos() == "n" and top.min_depth() < 4
            for depth in range(1, 2 if general else height + 1):
                below = [s for s in frontier if s not in excluded or s in ancestors]
                frontier = [
                    h
                    for s in below
                    if s != synset
                    for h in s.hyponyms() + (s.instance_hyponyms() if individuals else [])
                ]
                visited += len(frontier)
                for node in frontier:
                    if node in excluded or node in seen:
                        continue
                    seen.add(node)
                    if _max_depth(node) < _max_depth(synset) - 1:
                        continue  # more general than the word: vague ("photo" -> "set")
                    penalty = 3.0 * (height - 1) + 1.0 * (height - depth)
                    if node.lexname() != synset.lexname():
                        if height > 1:  # a cousin of another domain: "sky" -> "oxygen"
                            continue
                        penalty += 2.5
                    for item in node.lemmas():
                        out.append((item, -penalty))
                        if _familiar_name(item.name()):
                            familiar.add(item.name())
                if visited > budget:
                    break
            if visited > budget:
                break
        if len(familiar) >= enough:
            break
    return tuple(out)


# --- too close to be a contrast ---------------------------------------------------------------
def _gloss_words(synset: Synset) -> set[str]:
    words = set(_TOKEN.findall(synset.definition().lower())) - _STOP
    return _prefixes(w for w in words if len(w) > 3)


def near_synonym(a: Synset, b: Synset) -> bool:
    """Two senses that name variants of one thing: sisters in a small class (at most
    ``SMALL_CLASS`` kinds) whose definitions share a word that is not one of the class's own
    words, or name each other ("laptop" /
    "notebook": small portable computers; "city" / "town": "an urban area ... smaller than a
    city"). Sisters in a larger class are different kinds ("rat" / "mouse" among 35 rodents)."""
    shared = set(a.hypernyms()) & set(b.hypernyms())
    if a == b or not any(_kinds(h) <= SMALL_CLASS for h in shared):
        return False
    # words of the class itself say only that both are of that class: "sink" and "shower" are
    # both a "plumbing fixture" that has to do with "water", yet two different things
    genus = {w for h in shared for w in _gloss_words(h) | _prefixes(_name_words([h]))}
    gloss_a, gloss_b = _gloss_words(a) - genus, _gloss_words(b) - genus
    if gloss_a & gloss_b:
        return True
    return bool(_prefixes(n.lower() for n in a.lemma_names()) & gloss_b) or bool(
        _prefixes(n.lower() for n in b.lemma_names()) & gloss_a
    )


def wordnet_relation(sense: Synset, text: str) -> str | None:
    """How WordNet relates a candidate word (any of its senses in the part of speech of
    ``sense``) to ``sense``: "synonym" (a lemma of it, or a similar adjective / verb-group
    member), "hypernym", "hyponym", "near-synonym" (``near_synonym``), or None."""
    pos = "a" if sense.pos() == "s" else sense.pos()
    return _relation(sense, _synsets_of(text.replace(" ", "_").lower(), pos))


@lru_cache(maxsize=50_000)
def _synsets_of(name: str, pos: str) -> tuple[Synset, ...]:
    return tuple(load_wordnet().synsets(name, pos))  # type: ignore[arg-type]


DESCENDANTS_READ = 400  # narrower senses read per sense for the hyponym test (nearest first)


@lru_cache(maxsize=20_000)
def _descendants(sense: Synset) -> frozenset[Synset]:
    """Narrower senses, breadth first, at most ``DESCENDANTS_READ`` (a general sense has
    thousands; the near ones are those a candidate list would offer)."""
    found: list[Synset] = []
    frontier = [sense]
    while frontier and len(found) < DESCENDANTS_READ:
        frontier = [h for s in frontier for h in s.hyponyms() + s.instance_hyponyms()]
        found.extend(frontier)
    return frozenset(found[:DESCENDANTS_READ])


@lru_cache(maxsize=20_000)
def _close(sense: Synset) -> frozenset[Synset]:
    return frozenset({sense, *sense.similar_tos(), *sense.also_sees(), *sense.verb_groups()})


def _relation(sense: Synset, others: Iterable[Synset]) -> str | None:
    close = _close(sense)
    ancestors = _ancestors(sense)
    found: str | None = None
    for other in others:
        if other in close:
            return "synonym"
        if other in ancestors:
            found = found or "hypernym"
        elif other in _descendants(sense):
            found = found or "hyponym"
        elif near_synonym(sense, other):
            found = found or "near-synonym"
    return found


@lru_cache(maxsize=20_000)
def _derived_names(lemma: str) -> frozenset[str]:
    """Lemma names derived from the word ("magic" -> "magical", "magician"), any sense."""
    names: set[str] = set()
    for synset in load_wordnet().synsets(lemma):
        item = _lemma_in(synset, lemma)
        if item is not None:
            related = item.derivationally_related_forms() + item.pertainyms()
            names.update(r.name().lower() for r in related)
    return frozenset(names)


def _too_close(senses: Sequence[Synset], lemma: str, pos: Pos) -> Callable[..., bool]:
    """Negative mode: True for a candidate that WordNet relates to the chosen ``senses`` or
    to any other sense of the word (``wordnet_relation``: "peace" the treaty -> "harmony",
    the hypernym of "peace" the relation), or that is derived from the word: never a
    contrast. ``check(name, near=False)``: a near-synonym (``near_synonym``) passes."""
    derived = _derived_names(lemma)
    every = load_wordnet().synsets(lemma, pos)
    shared = {n.lower() for s in every for n in s.lemma_names()}
    senses = list(dict.fromkeys([*senses, *every[:GUARD_SENSES]]))

    def check(name: str, near: bool = True) -> bool:
        key = name.lower().replace(" ", "_")
        if key in derived or key in shared:
            return True
        others = _synsets_of(key, "a" if pos == "s" else pos)
        found = (_relation(sense, others) for sense in senses)
        return any(r is not None and (near or r != "near-synonym") for r in found)

    return check


# other parts of the same small whole come before the sisters of a class: in a picture they
# are the things seen together ("bathroom" -> the dwelling's "living room", "dining room",
# before the "hall" or "bar" of the class "room"; "tub" -> the bathroom's toilet)
MERONYM_BONUS = 2.0
SMALL_WHOLE = 12  # a whole of at most this many parts: its parts are close in kind


def _co_meronyms(synset: Synset) -> list[tuple[Lemma, float]]:
    """Other parts of the same small whole ("wall" -> room -> "floor", "ceiling"; "kitchen"
    -> dwelling -> "bedroom"; "sky" -> earth -> "land"): close in kind, different things."""
    out: list[tuple[Lemma, float]] = []
    for whole in synset.part_holonyms():
        parts = whole.part_meronyms()
        if 2 <= len(parts) <= SMALL_WHOLE:
            out.extend(
                (item, MERONYM_BONUS) for part in parts if part != synset for item in part.lemmas()
            )
    return out


def _sister_in_small_class(peer: Synset, synset: Synset) -> bool:
    shared = set(peer.hypernyms()) & set(synset.hypernyms())
    return any(_kinds(h) <= OPPOSITE_SISTERS for h in shared)


def _adverb_from(adjective: str) -> Lemma | None:
    wordnet = load_wordnet()
    stems = [adjective + "ly"]
    if adjective.endswith("y"):
        stems.append(adjective[:-1] + "ily")
    if adjective.endswith("le"):
        stems.append(adjective[:-1] + "y")
    for stem in stems:
        for synset in wordnet.synsets(stem, "r"):
            item = _lemma_in(synset, stem)
            if item is not None:
                return item
    return None


_TERM_FOR = re.compile(r"\b(?:term|name|word) for\b(.*)")


def _plural_of(synset: Synset) -> Synset | None:
    """The member that a "(plural)" group is many of ("people": person), or None."""
    members = synset.member_meronyms()
    if synset.definition().startswith("(plural)") and len(members) == 1:
        return members[0]
    return None


def _class_it_names(synset: Synset) -> Synset | None:
    """The hypernym that the sense's gloss calls it a term for ("guy": "an informal term for
    a youth or man" -> man), or None."""
    found = _TERM_FOR.search(synset.definition())
    if not found:
        return None
    said = set(_TOKEN.findall(found.group(1).lower()))
    for hypernym in synset.hypernyms():
        if _name_words([hypernym]) & said:
            return hypernym
    return None


Raw = list[tuple[Lemma, int, float]]  # (candidate lemma, tier, score bonus) before ranking


@lru_cache(maxsize=20_000)
def _raw_contrasts(synset: Synset, lemma: str, pos: Pos) -> Raw:
    """Contrasts of one sense, before filtering and ranking."""
    out: Raw = [(n, 0, 0.0) for n in _antonym_lemmas(synset, lemma)]
    if pos == "a":
        out += [(n, 1, b) for n, b in _class_members(lemma, pos)]
        out += [(n, 1, b) for n, b in _cluster_antonyms(synset)]
        out += [(n, 2, b) for n, b in _attribute_values(synset)]
        out += [(n, 1, b) for n, b in _sister_places(synset)]
    elif pos == "r":  # through the adjective: "oddly" -> odd ~ strange -> "familiarly"
        for pertainym in (p for lem in synset.lemmas() for p in lem.pertainyms()):
            adjective = pertainym.synset()
            heads = [adjective, *(adjective.similar_tos() if adjective.pos() == "s" else [])]
            for head in heads:
                for antonym in (a for lem in head.lemmas() for a in lem.antonyms()):
                    adverb = _adverb_from(antonym.name())
                    if adverb:
                        out.append((adverb, 2 if head is adjective else 3, 0.0))
    else:
        if pos == "v":  # the opposite of the broader act: "hoist" -> raise -> "lower"
            out += [(a, 2, 0.0) for h in synset.hypernyms() for lem in h.lemmas()
                    for a in lem.antonyms()]  # fmt: skip
        if pos == "n":
            out += [(n, 1, b) for n, b in _class_members(lemma, pos, synset)]
        if pos == "n":
            out += [(n, 3, b) for n, b in _co_meronyms(synset)]
        named = _class_it_names(synset) or _plural_of(synset)
        if named is not None:
            # "an informal term for a youth or man": the word is another name of its class,
            # so its contrasts are the class's ("guy" -> "woman"), and the class's other
            # kinds are kinds of it ("boy", "gentleman"), not contrasts; a plural of
            # members contrasts like its members ("people" -> "animals")
            out += [(a, 0, 0.0) for lem in named.lemmas() for a in lem.antonyms()]
            peers = _co_hyponyms(named, levels=3)
        elif synset.instance_hypernyms():
            # an individual people name in lower case ("the sun"): its peers are those of its
            # class ("star" -> "planet", "satellite") and the individuals among them ("moon");
            # the kinds of its own class are kinds of what it is ("binary star", "giant")
            peers = tuple(
                peer
                for cls in synset.instance_hypernyms()
                for peer in _co_hyponyms(cls, individuals=True)
                if peer[0].synset() != synset
            )
        else:
            peers = _co_hyponyms(synset, levels=3 if pos == "n" else 1)
        if pos == "n" and any(tier == 0 for _, tier, _ in out):
            # the word has its own opposite ("man" -> "woman"): only sisters of a small class
            # add to it; a large class's members are arbitrary next to the opposite ("adult"
            # -> "liberal", "type", "host")
            kind = named or synset
            peers = tuple(p for p in peers if _sister_in_small_class(p[0].synset(), kind))
        if synset.lexname() == "noun.Tops":  # a top class: only other top classes
            peers = tuple(p for p in peers if p[0].synset().lexname() == "noun.Tops")
        out += [(n, 3, b) for n, b in peers]
    return out


def _raw_synonyms(synset: Synset, lemma: str, pos: Pos) -> Raw:
    out: Raw = [(n, 0, 0.0) for n in synset.lemmas()]
    near = synset.similar_tos() + synset.also_sees() + synset.verb_groups()
    out += [(n, 1, 0.0) for s in near for n in s.lemmas()]
    if pos in ("n", "v"):
        broader = synset.hypernyms() + synset.instance_hypernyms()  # "sun" -> "star"
        out += [(n, 2, 0.0) for s in broader for n in s.lemmas()]
        out += [(n, 3, 0.0) for s in synset.hyponyms() for n in s.lemmas()]
    return out


@lru_cache(maxsize=50_000)
def _is_proper(lemma: str, pos: Pos | None) -> bool:
    """WordNet writes the word capitalised ("French", "American"): allow capitalised peers."""
    return any(
        item.name()[:1].isupper() and item.name().lower() == lemma
        for synset in load_wordnet().synsets(lemma, pos)
        for item in synset.lemmas()
    )


@lru_cache(maxsize=50_000)
def _usual_lexname(lemma: str, pos: Pos) -> str | None:
    """Lexicographer file of the most frequent sense (the word's domain without context)."""
    synsets = load_wordnet().synsets(lemma, pos)
    return synsets[0].lexname() if synsets else None


# --- public ----------------------------------------------------------------------------------
def _rare_sense(item: Lemma) -> bool:
    """The word is used in a sense it is (almost) never seen in: never tagged in this sense
    while tagged at least ``RARE_SENSE_OTHER`` times in others ("guy" -> "cat", "sod")."""
    return lemma_count(item) == 0 and _semcor_counts().get(item.name().lower(), 0) >= (
        RARE_SENSE_OTHER
    )


def _rank(
    raw: Iterable[tuple[Lemma, int, float, float]],
    word: Word,
    context: Sequence[str],
    settings: WordNetSettings,
    positive: bool = False,
    relaxed: bool = False,
    exclude: Callable[[str], bool] | None = None,
    rerank: Callable[[list[str]], list[float]] | None = None,
    antonyms: frozenset[str] = frozenset(),
    one_per_sense: bool = False,
) -> list[str]:
    """Filter, rank (tier, then weight * familiarity + bonus), inflect and deduplicate.

    ``antonyms`` (lower-case lemma names) pass ``exclude`` and may contain the word.
    ``exclude(text)``: True drops a candidate (negative mode: WordNet relates it to the
    word's sense). ``rerank(forms)``: a text encoder's bonus per inflected candidate; within a
    tier, the first ``max_candidates + RERANK_EXTRA`` are reordered by place minus bonus, so the encoder
    breaks ties and moves a candidate a place or two, never across tiers.

    ``positive``: synonyms may contain the word ("yellow" -> "yellowish", "laptop" ->
    "laptop computer"), and a broader or narrower word (tier >= 1) must be familiar
    (``familiarity >= BROADER_MIN_FAMILIARITY``: "red" -> "chromatic" is dropped).
    ``relaxed``: the rare-sense rule is off (a last resort when nothing else is found).
    ``one_per_sense``: the best word of each sense only (contrasts: "sink" -> "toilet", not
    also its other names "pot", "stool", "throne"; each candidate is another thing).
    """
    best: dict[str, tuple[int, float]] = {}
    names: dict[str, str] = {}
    sense_of: dict[str, Synset] = {}
    proper = word.text[:1].isupper() and _is_proper(word.lemma, word.pos)
    preference: dict[str, tuple[int, int]] = {}  # the sense's most tagged lemma, then headword
    for item, tier, bonus, weight in raw:
        name = item.name()
        text = _usable(name.lower() if proper else name, settings)
        if text is None and name.lower() in antonyms and name.isalpha() and name.islower():
            text = name  # a direct antonym is worth an unfamiliar word ("legged" -> "legless")
        if text is None:
            continue
        if _related_spelling(text, word.lemma) and (
            not (positive or name.lower() in antonyms) or text.lower() == word.lemma.lower()
        ):
            continue  # an antonym may contain the word ("male" -> "female")
        if not relaxed and _rare_sense(item):
            continue
        if positive and not relaxed and tier % 4 and familiarity(name) < BROADER_MIN_FAMILIARITY:
            continue
        if proper:
            text = name.replace("_", " ")
        if any(_related_spelling(text, other) for other in context if len(other) > 2):
            continue  # naming another word of the prompt would fight the prompt itself
        common = min(5.0, math.log1p(lemma_count(item)) + 0.4 * familiarity(name))
        score = weight * common + bonus
        key = (tier, -score)
        if text not in best or key < (best[text][0], -best[text][1]):
            best[text] = (tier, score)
            names[text] = name
            sense_of[text] = item.synset()
            preference[text] = (-lemma_count(item), item.synset().lemmas().index(item))
    ordered = sorted(best, key=lambda t: (best[t][0], -best[t][1]))
    pool = settings.max_candidates + (RERANK_EXTRA if rerank is not None else 0)
    out: list[str] = []
    tiers: list[int] = []
    name_of_sense: dict[Synset, str] = {}
    for text in sorted(best, key=lambda t: preference[t]):
        name_of_sense.setdefault(sense_of[text], text)
    for text in ordered:
        if one_per_sense and name_of_sense[sense_of[text]] != text:
            continue
        if exclude is not None and names[text].lower() not in antonyms and exclude(names[text]):
            continue  # checked here, in rank order: only the few that would be kept pay
        form = inflect(text, word.pos, word.form) if word.pos else text
        if form.lower() != word.text.lower() and form.lower() not in _BLOCKED and form not in out:
            out.append(form)
            tiers.append(best[text][0])
        if len(out) >= pool:
            break
    if rerank is not None and len(out) > 1:
        moves = rerank(out)
        place = {form: i for i, form in enumerate(out)}
        keys = {f: (t, place[f] - m) for f, t, m in zip(out, tiers, moves, strict=True)}
        out.sort(key=lambda f: keys[f])
    return out[: settings.max_candidates]


Gathered = tuple[list[tuple[Lemma, int, float, float]], list[Synset]]  # raw, senses used


def _senses_in_context(
    lemma: str,
    pos: Pos,
    context: Sequence[str],
    bonus: SenseBonus | None = None,
    prefer: Sequence[str] = (),
    hints: SenseHints | None = None,
) -> list[tuple[Synset, float]]:
    """``rank_senses`` with the domains of the other prompt words (their usual senses')."""
    domains = [d for w in context for p in ("n", "v") if (d := _usual_lexname(w, p)) is not None]
    return rank_senses(lemma, pos, context, domains, bonus, prefer, hints)


def _gather(
    word: Word,
    context: Sequence[str],
    settings: WordNetSettings,
    relation,
    bonus: SenseBonus | None = None,
    prefer: Sequence[str] = (),
    hints: SenseHints | None = None,
) -> Gathered:
    """Raw candidates of the word's best senses, and those senses (best first)."""
    if word.pos is None:
        return [], []
    raw: list[tuple[Lemma, int, float, float]] = []
    senses = _senses_in_context(word.lemma, word.pos, context, bonus, prefer, hints)
    used: list[Synset] = []
    for index, (synset, weight) in enumerate(senses[:5]):
        if index and relation is _raw_contrasts and weight >= OTHER_ANTONYM_WEIGHT:
            # other senses' direct antonyms: "day" -> "night"; not those of a sense far
            # behind ("observing the environment" is no observing of a rule: "disrespecting")
            raw.extend((a, 2, 0.0, weight) for a in _antonym_lemmas(synset, word.lemma))
        if index >= settings.max_senses or (index and weight < 0.5):
            continue  # a clearly worse sense adds noise ("cat" the guy -> "man")
        if index and relation is _raw_contrasts:
            continue  # and its things of the same kind may be the word's synonyms in the best
            # sense ("peace" the treaty: "harmony", "quiet" are other senses' peers)
        used.append(synset)
        for name, tier, extra in relation(synset, word.lemma, word.pos):
            # a close second sense: its candidates come after all of the best sense's
            raw.append((name, tier + 4 * index, extra, weight))
    return raw, used


@dataclass(frozen=True)
class Ranking:
    """A text encoder's part in one word's candidates (``wordnet_candidates`` makes these)."""

    senses: SenseBonus | None = None
    prefer: tuple[str, ...] = ()  # domains the reading asks for ("queen Elizabeth": a person)
    candidates: Callable[[list[str]], list[float]] | None = None
    hints: SenseHints | None = None  # what the words around it say (``_hints``)


def contrasts(
    word: Word, context: Sequence[str], settings: WordNetSettings, ranking: Ranking = Ranking()
) -> list[str]:
    """Antonyms and contrasting words for a negative prompt, best first (see module docs).

    Never a word that WordNet relates to a used sense as a synonym, hypernym, hyponym or
    near-synonym, nor a derivation of the word (``_too_close``); antonyms always pass.
    """
    raw, senses = _gather(
        word, context, settings, _raw_contrasts, ranking.senses, ranking.prefer, ranking.hints
    )
    pos = word.pos
    if pos is None:
        return []
    # antonyms pass every filter and are worth an unfamiliar word: the direct antonyms of any
    # sense that gave candidates, its own or a close one's ("glazed" -> "unglazed"); not the
    # indirect ones of a cluster's head ("spooky" ~ nervous -> "unexcitable")
    every = {a for s in load_wordnet().synsets(word.lemma, word.pos) for a in
             _antonym_lemmas(s, word.lemma)}  # fmt: skip
    antonym_names = frozenset(item.name().lower() for item, *_ in raw if item in every)
    # a sense that is a term for its class ("guy": man) is as close to the class's kinds
    named = [c for s in senses if (c := _class_it_names(s) or _plural_of(s)) is not None]
    guard = _too_close([*senses, *named], word.lemma, pos)
    if senses and _plural_of(senses[0]) is not None and word.form == "base":
        word = replace(word, form="plural")  # "people" -> "animals", not "animal"
    curated = _curated(word, pos, context, guard, senses[0].lexname() if senses else None)
    if curated and ranking.candidates is not None:
        # the connected text encoder reorders the table's words as it does WordNet's tiers:
        # by place minus its bonus, so it moves a word a place or two
        moves = ranking.candidates(curated)
        keys = {form: place - move for place, (form, move) in enumerate(zip(curated, moves))}
        curated.sort(key=lambda form: keys[form])
    found = _rank(
        raw, word, context, settings, exclude=guard, rerank=ranking.candidates,
        antonyms=antonym_names, one_per_sense=True,
    )  # fmt: skip
    if len(curated) >= CURATED_ENOUGH:
        # the word's own opposites stay, first ("glazed" -> "unglazed", then the toppings)
        opposites = {inflect(a.replace("_", " "), pos, word.form) for a in antonym_names}
        ordered = [form for form in found if form.lower() in opposites] + curated
    else:
        ordered = curated + found
    return list(dict.fromkeys(ordered))[: settings.max_candidates]


CURATED_ENOUGH = 2  # a word with this many picture contrasts takes no WordNet peers


def _curated(
    word: Word, pos: Pos, context: Sequence[str], guard: Callable[..., bool], lexname: str | None
) -> list[str]:
    """The word's ``picture_contrasts``, inflected like it, less those WordNet relates to
    its senses (``guard``, without its near-synonym rule: the table knows "cigar" and
    "cigarette" are two things) and those that name another word of the prompt."""
    out: list[str] = []
    for text in picture_contrasts(word.lemma, pos, lexname):
        if guard(text, near=False) or any(_related_spelling(text, o) for o in context if len(o) > 2):
            continue
        form = inflect(text, pos, word.form)
        if form.lower() != word.text.lower() and form not in out:
            out.append(form)
    return out


def synonyms(
    word: Word, context: Sequence[str], settings: WordNetSettings, ranking: Ranking = Ranking()
) -> list[str]:
    """Synonyms (then hypernyms, hyponyms) that can replace the word in the prompt, best first."""
    every, senses = _gather(
        word, context, settings, _raw_synonyms, ranking.senses, ranking.prefer, ranking.hints
    )
    # the best sense's words first: a second sense's words change the meaning ("queen" the
    # ruler is no "insect"); they are the last resort, when the best sense gives nothing
    found = _rank(_best_only(every), word, context, settings, True, rerank=ranking.candidates)
    if found or word.pos is None:
        return found
    # nothing usable: allow rare and multiword lemmas of the sense and its broader and
    # narrower words (any familiarity); only if that gives fewer than two, add the sense's
    # sisters (same hypernym, same domain, familiar words: "laptop" -> "notebook")
    loose = replace(
        settings, min_count=0, min_senses_if_unseen=0, multiword_min_count=0, max_length=20
    )
    raw, senses = _gather(
        word, context, loose, _raw_synonyms, ranking.senses, ranking.prefer, ranking.hints
    )
    raw = _best_only(raw)
    found = _rank(raw, word, context, loose, positive=True, relaxed=True)
    if len(found) < 2 and senses and word.pos in ("n", "v"):
        # sisters only when they are variants of the same thing ("laptop" -> "notebook"); a
        # sister of another kind changes the meaning ("rats" -> "mice")
        best = senses[0]
        raw += [(item, 8, bonus, 1.0) for item, bonus in _co_hyponyms(best, levels=1)
                if near_synonym(best, item.synset()) and _familiar_name(item.name())]  # fmt: skip
        found = _rank(raw, word, context, loose, positive=True, relaxed=True)
    return found or _rank(every, word, context, settings, True, rerank=ranking.candidates)


def _best_only(raw: list[tuple[Lemma, int, float, float]]) -> list[tuple[Lemma, int, float, float]]:
    return [r for r in raw if r[1] < 4]  # tiers 4 and up come from the second sense on


def antonyms(lemma: str, pos: Pos, settings: WordNetSettings | None = None) -> list[str]:
    """Direct and indirect antonyms of a lemma (no context), best first."""
    settings = settings or WordNetSettings()
    word = Word(lemma, 0, len(lemma), lemma, pos, "base", True, True)
    raw = [r for r in _gather(word, (), settings, _raw_contrasts)[0] if r[1] <= 2]
    return _rank(raw, word, (), settings)


def warm_up() -> None:
    """Load WordNet and the tables built from it (counts, exception lists) ahead of use."""
    from .inflection import inflect as _inflect

    load_wordnet()
    _semcor_counts()
    _inflect("stand", "v", "ing")


def _context(analysis: PromptAnalysis, skip: Word) -> list[str]:
    return [w.lemma for w in analysis.content_words if w is not skip]


def spatial_reading(analysis: PromptAnalysis, index: int) -> bool:
    """The word names a position in the picture: a ``SPATIAL_CONTRASTS`` word right after a
    preposition, or after a preposition and a determiner ("on top", "on the right")."""
    words = analysis.words
    if words[index].text.lower() not in SPATIAL_CONTRASTS:
        return False
    before = [w.text.lower() for w in words[max(0, index - 2) : index]]
    if before and before[-1] in _SPATIAL_PREPOSITIONS:
        return True
    return len(before) == 2 and before[0] in _SPATIAL_PREPOSITIONS and before[1] in (
        "the", "a", "its", "their", "his", "her", "this", "that"
    )  # fmt: skip


_ANIMATE = ("noun.person", "noun.animal")
AGENT_BONUS = 3.0  # a noun that does something ("two models hoist a flag") is a being


def _animate_domains(analysis: PromptAnalysis, index: int) -> tuple[str, ...]:
    """Domains the context asks of a noun: a person next to a name ("queen Elizabeth"); an
    amount in "a ... of" ("a couple of people"); a being right before a verb that is not a
    participle (its subject: "two models hoist")."""
    words = analysis.words
    if words[index].pos != "n":
        return ()
    if any(0 <= j < len(words) and words[j].name for j in (index - 1, index + 1)):
        return ("noun.person",)
    before = words[index - 1].text.lower() if index else ""
    after = words[index + 1].text.lower() if index + 1 < len(words) else ""
    if before == "a" and after == "of":  # "a couple of people", "a bunch of planes"
        return ("noun.quantity", "noun.group")
    if index + 1 < len(words):
        following = words[index + 1]
        if following.pos == "v" and following.form in ("base", "third", "past"):
            return _ANIMATE
    return ()


def _ranking(similarity: TextSimilarity | None, analysis: PromptAnalysis, index: int) -> Ranking:
    word = analysis.words[index]
    prompt = analysis.prompt
    animate = _animate_domains(analysis, index)
    hints = _hints(analysis, index)
    if similarity is None:
        return Ranking(prefer=animate, hints=hints)

    def senses(synsets: list[Synset]) -> list[float]:
        glosses = [s.definition() for s in synsets]
        return sense_bonus(similarity, prompt, word.start, word.end, glosses)

    def candidates(forms: list[str]) -> list[float]:
        cased = [match_case(f, word.text) for f in forms]
        return candidate_bonus(similarity, prompt, word.start, word.end, cased)

    return Ranking(senses, prefer=animate, candidates=candidates, hints=hints)


_PREPOSITIONS = frozenset(
    "in into on onto at through across over under beneath below above beyond behind near "
    "along around between among within by with from for towards toward to out off away up "
    "down".split()
)
_DETERMINERS = frozenset(
    "a an the this that these those his her its their my our your some".split()
)


def _hints(analysis: PromptAnalysis, index: int) -> SenseHints:
    """``SenseHints`` of one word: the other content words with their part of speech, and
    whether a verb is followed by "to" and a noun phrase (a determiner or a noun after it)."""
    words = analysis.words
    word = words[index]
    related = tuple(
        (w.lemma.lower(), w.pos) for w in analysis.content_words if w is not word and w.pos
    )
    to_object = no_object = False
    if word.pos == "v" and index + 2 < len(words) and words[index + 1].text.lower() == "to":
        after = words[index + 2]
        to_object = after.text.lower() in _DETERMINERS or after.pos in ("n", "a")
    if word.pos == "v" and word.form in ("ing", "third", "base") and not to_object:
        following = words[index + 1].text.lower() if index + 1 < len(words) else ""
        no_object = not following or following in _PREPOSITIONS
    head = None
    if word.pos == "a":  # the noun it describes: "glazed donut", "powdered and glazed donut"
        for after in words[index + 1 : index + 4]:
            if after.pos == "n":
                head = after.lemma.lower()
                break
            if after.pos != "a" and after.text.lower() not in ("and", "or", ","):
                break
    plural = word.pos == "n" and word.form == "plural"
    return SenseHints(related, to_object, no_object, head, plural)


def wordnet_candidates(
    analysis: PromptAnalysis,
    mode: str,
    settings: WordNetSettings,
    similarity: TextSimilarity | None = None,
) -> dict[int, list[str]]:
    """Candidates for every content word: ``{index into analysis.words: [candidates]}``.

    ``mode`` "negative" gives contrasts, "positive" synonyms; words without candidates are
    left out. A word whose own part of speech gives nothing falls back to its other readings
    ("parked" the adjective -> "park" the verb) in the same written form, unless it is a
    capitalised word that WordNet also writes capitalised ("French" is never "to french").
    Negative mode: a word read as a position (``spatial_reading``) gets other positions.
    ``similarity`` (the user's text encoder) breaks ties between senses and reorders
    candidates within a tier (``text_similarity``); without it, WordNet alone decides.
    """
    relation = contrasts if mode == "negative" else synonyms
    out: dict[int, list[str]] = {}
    for index, word in enumerate(analysis.words):
        if not word.content or word.pos is None:
            continue
        if mode == "negative" and spatial_reading(analysis, index):
            out[index] = list(SPATIAL_CONTRASTS[word.text.lower()][: settings.max_candidates])
            continue
        if split_word(analysis, index):
            continue
        context = _context(analysis, word)
        ranking = _ranking(similarity, analysis, index)
        word = _noun_before_verb(analysis, index) or word
        found = relation(word, context, settings, ranking)
        proper = word.text[:1].isupper() and _is_proper(word.lemma, word.pos)
        # participles ("parked"); not for contrasts of a word WordNet has as an adjective:
        # its verb's co-hyponyms are no opposites ("menacing" -> "lying", "holding")
        own_adjective = mode == "negative" and word.pos == "a" and word.known
        if not found and word.pos in ("a", "v") and not proper and not own_adjective:
            # another reading's contrasts must not be kinds of the word as read ("laid" the
            # participle -> "misplaced", a kind of putting)
            close = _too_close([], word.lemma, word.pos) if mode == "negative" else None
            for alternative in _other_readings(word):
                for extra in relation(alternative, context, settings, ranking):
                    if close is not None and close(extra):
                        continue
                    if extra not in found and len(found) < settings.max_candidates:
                        found.append(extra)
        if found:
            out[index] = found
    return out


def chosen_sense(analysis: PromptAnalysis, index: int) -> Synset | None:
    """The sense ``wordnet_candidates`` reads the word in (WordNet alone, no text encoder),
    or None: for benchmarks that check the candidates against it."""
    word = analysis.words[index]
    if word.pos is None:
        return None
    ranking = _ranking(None, analysis, index)
    context = _context(analysis, word)  # as wordnet_candidates: before the noun-verb reading
    word = _noun_before_verb(analysis, index) or word
    if word.pos is None:
        return None
    senses = _senses_in_context(word.lemma, word.pos, context, None, ranking.prefer, ranking.hints)
    return senses[0][0] if senses else None


def split_word(analysis: PromptAnalysis, index: int) -> bool:
    """The word is half of one word and alone means something else, so it gets no slot:
    the first half of a noun written in two ("air plane", "sun glasses": alone the gas, the
    star; the second half, the head, carries the thing), or the second half of a hyphenated
    word ("one-way": the "way" alone is a manner; "one" may vary: "two-way")."""
    words = analysis.words
    if index + 1 < len(words) and words[index + 1].content:
        first, second = words[index], words[index + 1]
        joined = (first.text + second.text).lower()
        if analysis.prompt[first.end : second.start] == " " and joined.isalpha():
            if _known_as(joined, ("n",)):
                return True
    if index >= 1 and words[index - 1].content:
        first, second = words[index - 1], words[index]
        # the second half of any hyphenated word: alone it is another word ("time-lapse",
        # "Origami-style", "long-haired"); the first half varies the whole ("two-way")
        return analysis.prompt[first.end : second.start] == "-"
    return False


def _known_as(name: str, parts: tuple[str, ...]) -> bool:
    """WordNet has ``name`` as a lemma of its own (not only a form of a shorter one)."""
    return any(
        _lemma_in(synset, name) is not None for pos in parts for synset in _synsets_of(name, pos)
    )


def _noun_before_verb(analysis: PromptAnalysis, index: int) -> Word | None:
    """An adjective reading right before a verb is the subject noun ("Light breaks through",
    "alien caught smoking"): the noun reading of the same form, if WordNet has one."""
    words = analysis.words
    word = words[index]
    if word.pos != "a" or index + 1 >= len(words) or words[index + 1].pos != "v":
        return None
    if (
        words[index + 1].form == "base"
        or " " not in analysis.prompt[word.end : words[index + 1].start]
    ):
        return None  # "a clean shave" is no verb after all; "light-blue" is one word
    lemma = lemma_of(word.text, "n")
    if lemma is None:
        return None
    form = "plural" if lemma != word.text.lower() else "base"
    return replace(word, lemma=lemma, pos="n", form=form)  # type: ignore[arg-type]


def _other_readings(word: Word) -> list[Word]:
    """The same written word read as another part of speech (base form stays base form)."""
    readings = []
    for pos in ("v", "a"):
        if pos == word.pos:
            continue
        lemma = lemma_of(word.text, pos)  # type: ignore[arg-type]
        if lemma is None:
            continue
        lower = word.text.lower()
        form = word.form
        if lemma != lower:
            if pos == "n":
                form = "plural"
            elif lower.endswith("ing"):
                form = "ing"
            elif lower.endswith("s"):
                form = "third"
            else:
                form = "past"
        elif pos != word.pos:
            form = "base"
        readings.append(
            Word(word.text, word.start, word.end, lemma, pos, form, True, True)  # type: ignore[arg-type]
        )
    return readings
