"""Candidate words from WordNet 3.0: contrasts (negative prompts) and synonyms (attacks).

Sense: the sense of a prompt word is picked with the prompt as context (a simplified Lesk):
each sense of the lemma scores ``overlap + 0.6 * log(1 + SemCor count) + 1 / (1 + rank)``,
where ``overlap`` counts the other prompt words found in the sense's gloss, examples, and the
lemmas of the sense, its hypernyms and hyponyms. Candidates come from the best sense first;
other senses add lower-ranked candidates, weighted by how far behind they are.

Contrasts (negative mode), in this order of usefulness (the *tier*):

0. direct antonyms of the lemma in the chosen sense ("hot" -> "cold", "sit" -> "stand");
1. indirect antonyms: the antonyms of the head of an adjective's similar-to cluster and the
   common members of that antonym's cluster ("scorching" -> "cold", "chilly"); for colours
   and numbers, the other members of the same class ("red" -> "green", "two" -> "three");
2. values of the same attribute ("hot" -> temperature -> "cold"), and antonyms reached through
   derivation links (adverbs through their adjective: "oddly" -> "evenly");
3. co-hyponyms: things of the same kind, found by climbing one to three hypernym levels and
   coming down as far again ("cat" -> feline, carnivore -> "dog", "fox", "lion").

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from nltk.corpus.reader.wordnet import Lemma, Synset

from .inflection import inflect
from .wordnet_data import lemma_count, load_wordnet, sense_total
from .words import Pos, PromptAnalysis, Word, lemma_of

_TOKEN = re.compile(r"[a-z]+")
_CANDIDATE = re.compile(r"[a-z]+(?:[ -][a-z]+)?")
_STOP = frozenset("a an the of in on or and to with for by as is be at from that which".split())
# Words that must never be suggested: slurs and dated labels for groups of people.
_BLOCKED = frozenset("negro nigger negroid colored coloured redskin oriental squaw".split())
_CLASS_LEXNAMES = ("noun.attribute", "noun.quantity")  # colours, numbers: class co-members
RARE_SENSE_OTHER = 5  # SemCor tags in other senses that make an untagged sense "rare"
BROADER_MIN_FAMILIARITY = 1.0  # synonyms mode: broader/narrower words at least this familiar


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


def _signature(synset: Synset) -> set[str]:
    words = set(_TOKEN.findall(synset.definition().lower()))
    for example in synset.examples():
        words.update(_TOKEN.findall(example.lower()))
    for related in [synset, *synset.hypernyms(), *synset.hyponyms()[:20], *synset.similar_tos()]:
        for name in related.lemma_names():
            words.update(name.lower().split("_"))
    return _prefixes(words - _STOP)


def _lemma_in(synset: Synset, lemma: str) -> Lemma | None:
    for item in synset.lemmas():
        if item.name().lower() == lemma:
            return item
    return None


def rank_senses(
    lemma: str, pos: Pos, context: Iterable[str], domains: Sequence[str] = ()
) -> list[tuple[Synset, float]]:
    """Senses of ``lemma`` as ``pos``, best first, with weights in (0, 1] (best = 1).

    ``domains``: lexicographer files of the other prompt words ("noun.artifact", ...); a sense
    in the same domain as other words gets a bonus ("toaster" on a counter is an appliance).
    """
    wordnet = load_wordnet()
    context_set = _prefixes({c.lower() for c in context} - {lemma} - _STOP)
    scored: list[tuple[float, Synset]] = []
    for rank, synset in enumerate(wordnet.synsets(lemma, pos)):
        if synset.instance_hypernyms():
            continue  # a named individual ("Elizabeth" the queen), not a kind of thing
        item = _lemma_in(synset, lemma)
        count = lemma_count(item) if item is not None else 0
        overlap = len(_signature(synset) & context_set) if context_set else 0
        domain = min(2, sum(1 for d in domains if d == synset.lexname()))
        score = overlap + 0.75 * domain + 0.8 * math.log1p(count) + 1.5 / (1 + rank)
        scored.append((score, synset))
    scored.sort(key=lambda pair: -pair[0])
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


def _class_members(lemma: str, pos: Pos) -> list[tuple[Lemma, float]]:
    """Colours and numbers: other members of the noun class of the same word (tier 1)."""
    wordnet = load_wordnet()
    out: list[tuple[Lemma, float]] = []
    for noun in wordnet.synsets(lemma, "n")[:3]:
        if noun.lexname() not in _CLASS_LEXNAMES:
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
    synset: Synset, levels: int = 3, enough: int = 10, budget: int = 400
) -> tuple[tuple[Lemma, float], ...]:
    """Things of the same kind, nearest first: up ``h`` hypernym levels, down ``h`` again.

    Sisters (h = 1) come before cousins (h = 2) and so on; the climb stops at the first level
    after which ``enough`` familiar words were found, so a close kind ("cat" -> "dog", "lion")
    is never pushed out by a far one ("cat" -> "man"). At most ``budget`` synsets are read.
    The word's own sense, its ancestors and (by not walking below it) its descendants are
    excluded. The penalty grows with the height and with a change of domain (lexicographer
    file). Cached per sense: the first look-up of a word pays the walk once.
    """
    ancestors = set(synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms()))
    excluded = ancestors | {synset}
    out: list[tuple[Lemma, float]] = []
    seen: set[Synset] = set()
    familiar: set[str] = set()
    level = [synset]
    visited = 0
    for height in range(1, levels + 1):
        level = [h for s in level for h in s.hypernyms()]
        if synset.pos() == "n":  # stop below the very general nouns (entity, object, ...)
            level = [s for s in level if s.min_depth() >= (2 if height == 1 else 4)]
        if not level or visited > budget:
            break
        for top in level:
            frontier = [top]
            general = synset.pos() == "n" and top.min_depth() < 4
            for depth in range(1, 2 if general else height + 1):
                below = [s for s in frontier if s not in excluded or s in ancestors]
                frontier = [h for s in below if s != synset for h in s.hyponyms()]
                visited += len(frontier)
                for node in frontier:
                    if node in excluded or node in seen:
                        continue
                    seen.add(node)
                    penalty = 3.0 * (height - 1) + 1.0 * (height - depth)
                    if node.lexname() != synset.lexname():
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


Raw = list[tuple[Lemma, int, float]]  # (candidate lemma, tier, score bonus) before ranking


@lru_cache(maxsize=20_000)
def _raw_contrasts(synset: Synset, lemma: str, pos: Pos) -> Raw:
    """Contrasts of one sense, before filtering and ranking."""
    out: Raw = [(n, 0, 0.0) for n in _antonym_lemmas(synset, lemma)]
    if pos == "a":
        out += [(n, 1, b) for n, b in _class_members(lemma, pos)]
        out += [(n, 1, b) for n, b in _cluster_antonyms(synset)]
        out += [(n, 2, b) for n, b in _attribute_values(synset)]
    elif pos == "r":
        for pertainym in (p for lem in synset.lemmas() for p in lem.pertainyms()):
            for adjective in pertainym.synset().lemmas():
                for antonym in adjective.antonyms():
                    adverb = _adverb_from(antonym.name())
                    if adverb:
                        out.append((adverb, 2, 0.0))
    else:
        if pos == "n":
            out += [(n, 1, b) for n, b in _class_members(lemma, pos)]
        out += [(n, 3, b) for n, b in _co_hyponyms(synset, levels=3 if pos == "n" else 1)]
    return out


def _raw_synonyms(synset: Synset, lemma: str, pos: Pos) -> Raw:
    out: Raw = [(n, 0, 0.0) for n in synset.lemmas()]
    near = synset.similar_tos() + synset.also_sees() + synset.verb_groups()
    out += [(n, 1, 0.0) for s in near for n in s.lemmas()]
    if pos in ("n", "v"):
        out += [(n, 2, 0.0) for s in synset.hypernyms() for n in s.lemmas()]
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
) -> list[str]:
    """Filter, rank (tier, then weight * familiarity + bonus), inflect and deduplicate.

    ``positive``: synonyms may contain the word ("yellow" -> "yellowish", "laptop" ->
    "laptop computer"), and a broader or narrower word (tier >= 1) must be familiar
    (``familiarity >= BROADER_MIN_FAMILIARITY``: "red" -> "chromatic" is dropped).
    ``relaxed``: the rare-sense rule is off (a last resort when nothing else is found).
    """
    best: dict[str, tuple[int, float]] = {}
    proper = word.text[:1].isupper() and _is_proper(word.lemma, word.pos)
    for item, tier, bonus, weight in raw:
        name = item.name()
        text = _usable(name.lower() if proper else name, settings)
        if text is None:
            continue
        if _related_spelling(text, word.lemma) and (
            not positive or text.lower() == word.lemma.lower()
        ):
            continue
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
    ordered = sorted(best, key=lambda t: (best[t][0], -best[t][1]))
    out: list[str] = []
    for text in ordered:
        form = inflect(text, word.pos, word.form) if word.pos else text
        if form.lower() != word.text.lower() and form.lower() not in _BLOCKED and form not in out:
            out.append(form)
        if len(out) >= settings.max_candidates:
            break
    return out


def _gather(
    word: Word,
    context: Sequence[str],
    settings: WordNetSettings,
    relation,
) -> list[tuple[Lemma, int, float, float]]:
    if word.pos is None:
        return []
    raw: list[tuple[Lemma, int, float, float]] = []
    domains = [
        d for w in context for p in ("n", "v") if (d := _usual_lexname(w, p)) is not None
    ]
    senses = rank_senses(word.lemma, word.pos, context, domains)
    for index, (synset, weight) in enumerate(senses[:5]):
        if index and relation is _raw_contrasts:  # other senses' direct antonyms: "day" -> "night"
            raw.extend((a, 2, 0.0, weight) for a in _antonym_lemmas(synset, word.lemma))
        if index >= settings.max_senses or (index and weight < 0.5):
            continue  # a clearly worse sense adds noise ("cat" the guy -> "man")
        for name, tier, bonus in relation(synset, word.lemma, word.pos):
            # a close second sense: its candidates come after all of the best sense's
            raw.append((name, tier + 4 * index, bonus, weight))
    return raw


def contrasts(word: Word, context: Sequence[str], settings: WordNetSettings) -> list[str]:
    """Antonyms and contrasting words for a negative prompt, best first (see module docs)."""
    return _rank(_gather(word, context, settings, _raw_contrasts), word, context, settings)


def synonyms(word: Word, context: Sequence[str], settings: WordNetSettings) -> list[str]:
    """Synonyms (then hypernyms, hyponyms) that can replace the word in the prompt, best first."""
    found = _rank(_gather(word, context, settings, _raw_synonyms), word, context, settings, True)
    if found or word.pos is None:
        return found
    # nothing usable: allow rare and multiword lemmas of the sense and its broader and
    # narrower words (any familiarity); only if that gives fewer than two, add the sense's
    # sisters (same hypernym, same domain, familiar words: "laptop" -> "notebook")
    loose = replace(
        settings, min_count=0, min_senses_if_unseen=0, multiword_min_count=0, max_length=20
    )
    raw = _gather(word, context, loose, _raw_synonyms)
    found = _rank(raw, word, context, loose, positive=True, relaxed=True)
    senses = rank_senses(word.lemma, word.pos, context)
    if len(found) >= 2 or not senses or word.pos not in ("n", "v"):
        return found
    best = senses[0][0]
    raw += [(item, 8, bonus, 1.0) for item, bonus in _co_hyponyms(best, levels=1)
            if item.synset().lexname() == best.lexname() and _familiar_name(item.name())]  # fmt: skip
    return _rank(raw, word, context, loose, positive=True, relaxed=True)


def antonyms(lemma: str, pos: Pos, settings: WordNetSettings | None = None) -> list[str]:
    """Direct and indirect antonyms of a lemma (no context), best first."""
    settings = settings or WordNetSettings()
    word = Word(lemma, 0, len(lemma), lemma, pos, "base", True, True)
    raw = [r for r in _gather(word, (), settings, _raw_contrasts) if r[1] <= 2]
    return _rank(raw, word, (), settings)


def warm_up() -> None:
    """Load WordNet and the tables built from it (counts, exception lists) ahead of use."""
    from .inflection import inflect as _inflect

    load_wordnet()
    _semcor_counts()
    _inflect("stand", "v", "ing")


def _context(analysis: PromptAnalysis, skip: Word) -> list[str]:
    return [w.lemma for w in analysis.content_words if w is not skip]


def wordnet_candidates(
    analysis: PromptAnalysis, mode: str, settings: WordNetSettings
) -> dict[int, list[str]]:
    """Candidates for every content word: ``{index into analysis.words: [candidates]}``.

    ``mode`` "negative" gives contrasts, "positive" synonyms; words without candidates are
    left out. A word whose own part of speech gives nothing falls back to its other readings
    ("parked" the adjective -> "park" the verb) in the same written form, unless it is a
    capitalised word that WordNet also writes capitalised ("French" is never "to french").
    """
    relation = contrasts if mode == "negative" else synonyms
    out: dict[int, list[str]] = {}
    for index, word in enumerate(analysis.words):
        if not word.content or word.pos is None:
            continue
        context = _context(analysis, word)
        found = relation(word, context, settings)
        proper = word.text[:1].isupper() and _is_proper(word.lemma, word.pos)
        if not found and word.pos in ("a", "v") and not proper:  # participles: "parked"
            for alternative in _other_readings(word):
                for extra in relation(alternative, context, settings):
                    if extra not in found and len(found) < settings.max_candidates:
                        found.append(extra)
        if found:
            out[index] = found
    return out


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
