"""Building search spaces for both modes from WordNet, a language model, and the term library.

``build_space(prompt, mode, source, ...)`` is the one call a node needs. The steps:

1. analyse the prompt (``words.analyze``): content words, lemmas, inflection, pieces;
2. ask the source (``SOURCES``: "wordnet", "llm", "wordnet+llm") for up to N candidates per
   content word; "wordnet+llm" puts the model's candidates first and fills up from WordNet;
3. make slots: negative mode, one slot per distinct content word, ``("", contrasts...)``, plus
   the term library's groups when asked; positive mode, one slot per content word,
   ``(original, synonyms...)``, replacing only the word (weighting syntax stays fixed text);
4. positive mode: optionally keep only the rewrites that ``keep(prompt, rewritten)`` accepts
   (e.g. a sentence-embedding cosine >= 0.9, as in the reference; no model is loaded here);
5. fit CLIP's window: the worst-case rendered text (every slot on its longest option) must
   take at most ``token_budget`` (75) BPE tokens. Over budget, candidates that can never fit
   go, then the longest candidates (lowest-ranked first among equals), then whole slots, the
   costliest first (library groups, then later words, first among equals), and a warning
   says what was dropped (``fit_token_budget``). Only when
   the fixed text alone (the user's prompt in positive mode, the user's negative prompt in
   negative mode) is over budget is a ``ValueError`` raised, because nothing can be dropped.

Spaces from steps 1-3 are cached on disk (``<cache>/spaces/<sha256>.json``, where ``<cache>``
is ``$DPO_DIFF_CACHE`` or ``~/.cache/dpo_diff``), keyed by the prompt, mode, source and
settings; steps 4-5 run on every call because they depend on the caller's functions.
"""

from __future__ import annotations

import heapq
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..space import MODES, NEGATIVE_SEPARATOR, Mode, SearchSpace, Slot
from .cache import cache_key, read_cache, write_cache
from .inflection import match_case
from .library import library_slots
from .llm import LLMError, LLMSettings, llm_candidates
from .text_similarity import TextSimilarity
from .tidy import dedupe_across_slots, strip_prompt_syntax
from .wordnet_source import WordNetSettings, wordnet_candidates
from .words import PromptAnalysis, analyze

log = logging.getLogger(__name__)

CountTokens = Callable[[str], int]  # text -> number of CLIP BPE tokens (without BOS/EOS)
KeepRewrite = Callable[[str, str], bool]  # (original prompt, rewritten prompt) -> keep it?
TOKEN_BUDGET = 75  # CLIP's 77 positions minus the start and end tokens
MAX_CANDIDATES_PER_WORD = 20
BUILDER_VERSION = 3  # bump when the candidates a source gives change, to retire old cache files


@dataclass(frozen=True)
class BuildResult:
    """A built space, the warnings to show the user, and whether it came from the cache."""

    space: SearchSpace
    warnings: tuple[str, ...] = ()
    from_cache: bool = False


@dataclass(frozen=True)
class SourceResult:
    candidates: dict[int, list[str]]  # index into analysis.words -> candidates, best first
    warnings: tuple[str, ...] = ()
    fell_back: bool = False  # the chosen source failed and WordNet stood in (not cached)


# --- sources ---------------------------------------------------------------------------------
def _from_wordnet(
    analysis: PromptAnalysis,
    mode: Mode,
    limit: int,
    llm: LLMSettings,
    similarity: TextSimilarity | None = None,
) -> SourceResult:
    settings = WordNetSettings(max_candidates=limit)
    return SourceResult(wordnet_candidates(analysis, mode, settings, similarity))


def _from_llm(
    analysis: PromptAnalysis,
    mode: Mode,
    limit: int,
    llm: LLMSettings,
    similarity: TextSimilarity | None = None,
) -> SourceResult:
    try:
        found = llm_candidates(analysis, mode, llm, limit)
    except LLMError as err:
        if not llm.fallback_to_wordnet:
            raise
        message = f"LLM source failed, WordNet candidates used instead: {err}"
        log.warning(message)
        fallback = _from_wordnet(analysis, mode, limit, llm, similarity)
        return SourceResult(fallback.candidates, (message,), fell_back=True)
    return SourceResult(found)


def _from_both(
    analysis: PromptAnalysis,
    mode: Mode,
    limit: int,
    llm: LLMSettings,
    similarity: TextSimilarity | None = None,
) -> SourceResult:
    first = _from_llm(analysis, mode, limit, llm, similarity)
    if first.fell_back:
        return first
    second = _from_wordnet(analysis, mode, limit, llm, similarity)
    merged: dict[int, list[str]] = {}
    for index in sorted(set(first.candidates) | set(second.candidates)):
        out: list[str] = []
        for candidate in first.candidates.get(index, []) + second.candidates.get(index, []):
            if candidate.lower() not in (c.lower() for c in out):
                out.append(candidate)
        merged[index] = out[:limit]
    return SourceResult(merged, first.warnings + second.warnings)


Source = Callable[[PromptAnalysis, Mode, int, LLMSettings, TextSimilarity | None], SourceResult]
SOURCES: dict[str, Source] = {
    "wordnet": _from_wordnet,
    "llm": _from_llm,
    "wordnet+llm": _from_both,
}
SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)  # dropdown options
_USES_LLM = frozenset({"llm", "wordnet+llm"})


# --- tokens ----------------------------------------------------------------------------------
_TOKEN_PIECE = re.compile(r"[^\W\d_]+|\d|[^\w\s]|_")  # letters of any script


def estimate_tokens(text: str) -> int:
    """A cautious estimate of CLIP BPE tokens: a word of up to 7 letters is one token, longer
    words one more per 5 further letters; every digit and punctuation mark is one token."""
    total = 0
    for piece in _TOKEN_PIECE.findall(text):
        if piece[0].isalpha():
            total += 1 + math.ceil(max(0, len(piece) - 7) / 5)
        else:
            total += 1
    return total


def worst_case_text(space: SearchSpace, count_tokens: CountTokens) -> str:
    """The rendered text with every slot on its longest option (in tokens)."""
    choice = []
    for slot in space.slots:
        lengths = [count_tokens(c) for c in slot.candidates]
        choice.append(lengths.index(max(lengths)))
    return space.render(choice)


def fit_token_budget(
    space: SearchSpace,
    count_tokens: CountTokens,
    budget: int = TOKEN_BUDGET,
    check_interrupt: Callable[[], None] | None = None,
) -> tuple[SearchSpace, tuple[str, ...]]:
    """Make the worst case (every slot on its longest option) fit ``budget`` tokens.

    In order: candidates that alone cannot fit beside the fixed text are dropped (and a slot
    left with no alternative); then the longest candidates of the slots that can shrink
    (lowest-ranked first among equals); then whole slots, the costliest first (library groups,
    then later words, first among equals). Each distinct text is counted once, so the work is
    linear in the candidates; ``check_interrupt`` (raises to stop) is called as it goes. The
    returned warning says what was dropped and why.
    """

    counted: dict[str, int] = {}

    def tokens(text: str) -> int:
        text = text.strip()
        if text not in counted:
            if check_interrupt is not None and len(counted) % 32 == 0:
                check_interrupt()
            counted[text] = count_tokens(text) if text else 0
        return counted[text]

    negative = space.mode == "negative"
    fixed = space.negative_prompt if negative else space.render(space.original_choice())
    fixed_tokens = tokens(fixed)
    if fixed_tokens > budget:
        what = "negative prompt" if negative else "prompt"
        raise ValueError(
            f"the {what} alone takes {fixed_tokens} tokens, over the {budget}-token window; "
            "shorten it"
        )
    # the relaxation tokenizes each rendered segment on its own, so the worst case is a sum:
    # fixed text + per slot (its longest option, plus a separator in negative mode)
    separator = tokens(NEGATIVE_SEPARATOR) if negative else 0
    if negative:
        base = tokens(space.negative_prompt)
    else:
        replaced = {slot.piece for slot in space.slots}
        base = sum(tokens(p) for i, p in enumerate(space.pieces) if i not in replaced)
    # alternatives per slot, shortest first, so pop() takes the longest (lowest-ranked on ties)
    def shortest_first(slot: Slot) -> list[int]:
        return sorted(range(1, len(slot.candidates)),
                      key=lambda k: (tokens(slot.candidates[k]), -k))  # fmt: skip

    options = [shortest_first(slot) for slot in space.slots]
    option0 = [tokens(s.candidates[0]) for s in space.slots]
    alive = [True] * len(space.slots)

    def longest(i: int) -> int:
        top = tokens(space.slots[i].candidates[options[i][-1]]) if options[i] else 0
        return max(top, option0[i])

    def cost(i: int) -> int:
        words = longest(i)
        return words + (separator if negative and words else 0)

    def total() -> int:
        costs = [cost(i) for i in range(len(space.slots)) if alive[i]]
        lead = separator if negative and not space.negative_prompt.strip() and any(costs) else 0
        return base + sum(costs) - lead

    start = total()
    if start <= budget:
        return space, ()
    too_long: list[str] = []  # candidates that can never fit
    trimmed: list[str] = []  # long candidates dropped to make room
    dropped: list[str] = []  # whole slots
    room = budget - fixed_tokens - separator  # the most one candidate may take
    for i, slot in enumerate(space.slots):
        keep = [k for k in options[i] if tokens(slot.candidates[k]) <= room]
        too_long += [f"{_short(slot.candidates[k])} ({slot.word or 'library'})"
                     for k in options[i] if k not in keep]  # fmt: skip
        options[i] = keep
        if not keep:
            alive[i] = False
            dropped.append(f"{slot.word or 'library group'!r} (no candidate fits)")
    current = total()
    # shrink: a slot with two or more alternatives whose longest is longer than one token and
    # than its option 0 gives up its longest candidate; the longest such candidate goes first
    heap = [(-longest(i), -i) for i in range(len(space.slots)) if alive[i]]
    heapq.heapify(heap)
    while current > budget and heap:
        size, i = heapq.heappop(heap)
        i = -i
        if -size != longest(i) or len(options[i]) < 2 or longest(i) <= max(1, option0[i]):
            continue  # stale entry, or this slot cannot shrink
        before, slot = cost(i), space.slots[i]
        # the slot's longest candidates (all of them, when several are as long) go together:
        # dropping only some of them would lose candidates and gain no token
        popped = []
        while len(options[i]) > 1 and tokens(slot.candidates[options[i][-1]]) == -size:
            popped.append(options[i].pop())
        if cost(i) >= before:  # every alternative is that long: leave it whole
            options[i].extend(reversed(popped))
            continue
        trimmed += [f"{_short(slot.candidates[k])} ({slot.word or 'library'})" for k in popped]
        current -= before - cost(i)
        heapq.heappush(heap, (-longest(i), -i))
        if check_interrupt is not None and len(trimmed) % 64 == 0:
            check_interrupt()
    # drop slots: the costliest first; among equals library groups, then the later words
    order = sorted((i for i in range(len(space.slots)) if alive[i]),
                   key=lambda i: (cost(i), space.slots[i].source == "library", i), reverse=True)  # fmt: skip
    for i in order:
        if current <= budget:
            break
        alive[i] = False
        dropped.append(f"{space.slots[i].word or 'library group'!r} ({cost(i)} tokens)")
        current = total()
    slots = []
    for i, slot in enumerate(space.slots):
        if alive[i]:
            kept = sorted(options[i])
            slots.append(replace(slot, candidates=(slot.candidates[0],
                                                   *(slot.candidates[k] for k in kept))))  # fmt: skip
    space = replace(space, slots=tuple(slots))
    parts = []
    if too_long:
        parts.append(f"{len(too_long)} candidates longer than the window allows "
                     f"({_first(too_long)})")  # fmt: skip
    if trimmed:
        parts.append(f"{len(trimmed)} of the longest candidates ({_first(trimmed)})")
    if dropped:
        parts.append(f"{len(dropped)} slots ({_first(dropped)})")
    message = (
        f"search space trimmed to fit the {budget}-token window (worst case was {start} tokens, "
        f"now {current}): dropped " + "; ".join(parts)
    )
    log.warning(message)
    return space, (message,)


def _short(text: str, most: int = 40) -> str:
    return repr(text if len(text) <= most else text[: most - 3].rstrip() + "...")


def _first(items: list[str], shown: int = 4) -> str:
    more = f", and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


# --- assembling ------------------------------------------------------------------------------
def _negative_space(
    analysis: PromptAnalysis,
    candidates: dict[int, list[str]],
    source: str,
    base: str,
    include_library: bool,
    limit: int,
) -> SearchSpace:
    slots: list[Slot] = []
    seen: set[tuple[str, str | None]] = set()
    for index, word in enumerate(analysis.words):
        key = (word.lemma, word.pos)
        if index not in candidates or key in seen:
            continue  # one slot per distinct word: "bathroom ... bathroom" gives one slot
        seen.add(key)
        options = [c for c in dict.fromkeys(candidates[index]) if c]
        if options:
            slots.append(Slot(word=word.text, candidates=("", *options), source=source))
    if include_library:
        exclude = frozenset(w.text.lower() for w in analysis.words)
        slots.extend(library_slots(max_terms=limit, exclude=exclude))
    return SearchSpace(prompt=analysis.prompt, mode="negative", slots=tuple(slots), negative_prompt=base)


def _positive_space(
    analysis: PromptAnalysis, candidates: dict[int, list[str]], source: str
) -> SearchSpace:
    pieces, word_piece = analysis.pieces()
    slots: list[Slot] = []
    for index, word in enumerate(analysis.words):
        cased = [match_case(c, word.text) for c in candidates.get(index, [])]
        options = [c for c in dict.fromkeys(cased) if c and c != word.text]
        if options:
            slots.append(
                Slot(
                    word=word.text,
                    candidates=(word.text, *options),
                    piece=word_piece[index],
                    source=source,
                )
            )
    return SearchSpace(
        prompt=analysis.prompt, mode="positive", slots=tuple(slots), pieces=pieces
    )


def filter_rewrites(space: SearchSpace, keep: KeepRewrite) -> tuple[SearchSpace, tuple[str, ...]]:
    """Positive mode: keep a candidate only if ``keep(prompt, prompt with it)`` says so."""
    if space.mode != "positive":
        return space, ()
    slots: list[Slot] = []
    removed = 0
    for i, slot in enumerate(space.slots):
        kept = [slot.candidates[0]]
        for k in range(1, len(slot.candidates)):
            choice = [0] * len(space.slots)
            choice[i] = k
            if keep(space.prompt, space.render(choice)):
                kept.append(slot.candidates[k])
            else:
                removed += 1
        if len(kept) > 1:
            slots.append(replace(slot, candidates=tuple(kept)))
    if not removed:
        return space, ()
    message = f"the meaning filter removed {removed} synonym candidates"
    log.info(message)
    return replace(space, slots=tuple(slots)), (message,)


# --- public ----------------------------------------------------------------------------------
def build_space(
    prompt: str,
    mode: Mode = "negative",
    source: str = "wordnet",
    candidates_per_word: int = 5,
    *,
    include_library: bool = False,
    llm: LLMSettings | None = None,
    negative_prompt: str = "",
    override_json: str = "",
    count_tokens: CountTokens | None = None,
    keep: KeepRewrite | None = None,
    token_budget: int = TOKEN_BUDGET,
    use_cache: bool = True,
    check_interrupt: Callable[[], None] | None = None,
    similarity: TextSimilarity | None = None,
) -> BuildResult:
    """The search space of a prompt for one mode (see the module docs for every step).

    ``negative_prompt`` is the user's own negative prompt, kept in front of the chosen words
    (negative mode). ``override_json`` (a saved space) replaces the built one when not empty.
    ``count_tokens`` should be the text encoder's tokenizer; without it ``estimate_tokens``.
    ``check_interrupt`` (raises to stop, e.g. ComfyUI's Cancel) is called by the LLM request
    and the trimming. ``similarity`` (the user's text encoder, ``text_similarity``) helps
    WordNet choose senses and order candidates; spaces it ranked are cached apart.
    """
    if mode not in MODES:
        raise ValueError(f"expected mode in {MODES}, got {mode!r}")
    if source not in SOURCES:
        raise ValueError(f"expected source in {SOURCE_NAMES}, got {source!r}")
    if not 1 <= candidates_per_word <= MAX_CANDIDATES_PER_WORD:
        raise ValueError(
            f"expected candidates_per_word in [1, {MAX_CANDIDATES_PER_WORD}], "
            f"got {candidates_per_word}"
        )
    counter = count_tokens or estimate_tokens
    llm = llm or LLMSettings()
    if check_interrupt is not None and llm.check_interrupt is None:
        llm = replace(llm, check_interrupt=check_interrupt)
    warnings: list[str] = []
    from_cache = False
    if override_json.strip():
        space = SearchSpace.from_json(override_json)
        if prompt.strip() and space.prompt != prompt:
            warnings.append("the override JSON was built for another prompt; it is used as is")
        if space.mode != mode:
            warnings.append(f"the override JSON is a {space.mode}-mode space; it is used as is")
        space, notes = strip_prompt_syntax(space)
        warnings.extend(notes)
    else:
        if not prompt.strip():
            raise ValueError("expected a non-empty prompt, got an empty one")
        if include_library and mode == "positive":
            warnings.append("the negative-term library only applies to negative mode; ignored")
        settings = {
            "version": BUILDER_VERSION,
            "prompt": prompt,
            "mode": mode,
            "source": source,
            "candidates_per_word": candidates_per_word,
            "include_library": include_library and mode == "negative",
            "negative_prompt": negative_prompt,
            "llm": llm.public_dict() if source in _USES_LLM else None,
            "ranked_by": similarity.fingerprint() if similarity is not None else None,
        }
        key = cache_key(settings)
        cached = read_cache(key) if use_cache else None
        if cached is not None:
            space, cached_warnings = cached
            warnings.extend(cached_warnings)
            from_cache = True
        else:
            analysis = analyze(prompt)
            found = SOURCES[source](analysis, mode, candidates_per_word, llm, similarity)
            warnings.extend(found.warnings)
            if mode == "negative":
                space = _negative_space(
                    analysis,
                    found.candidates,
                    source,
                    negative_prompt.strip(),
                    include_library,
                    candidates_per_word,
                )
            else:
                space = _positive_space(analysis, found.candidates, source)
            if use_cache and not found.fell_back:
                write_cache(key, space, found.warnings)
    space, notes = dedupe_across_slots(space)
    warnings.extend(notes)
    if keep is not None:
        space, notes = filter_rewrites(space, keep)
        warnings.extend(notes)
    had_slots = bool(space.slots)
    space, notes = fit_token_budget(space, counter, token_budget, check_interrupt)
    warnings.extend(notes)
    if not space.slots:
        if had_slots:
            raise ValueError(
                f"no slot fits the {token_budget}-token window beside the fixed text ("
                + "; ".join(notes) + "); shorten the prompt or the candidates"
            )
        if override_json.strip():
            raise ValueError(
                "the space_json has no slot with a candidate to choose; add candidates to its "
                "slots, or clear space_json to build a space from the prompt"
            )
        raise ValueError(
            f"no candidates were found for any word of the prompt with source {source!r}; try "
            "another source, include_library=True (negative mode), or an override JSON"
        )
    return BuildResult(space=space, warnings=tuple(warnings), from_cache=from_cache)


def preview(space: SearchSpace) -> str:
    """Readable text: a header, then one line per slot, ``word -> option | option | ...``."""
    lines = [
        f"{space.mode} space: {len(space.slots)} slots, {space.num_choices:.3g} choices"
        + (f', negative prompt "{space.negative_prompt}"' if space.negative_prompt else "")
    ]
    width = max((len(s.word or "(library)") for s in space.slots), default=0)
    for slot in space.slots:
        options = " | ".join(c if c else "(nothing)" for c in slot.candidates)
        label = slot.word or "(library)"
        tag = f"  [{slot.source}]" if slot.source else ""
        lines.append(f"{label:<{width}} -> {options}{tag}")
    return "\n".join(lines)


__all__ = [
    "SOURCES",
    "SOURCE_NAMES",
    "TOKEN_BUDGET",
    "BuildResult",
    "LLMSettings",
    "NEGATIVE_SEPARATOR",
    "build_space",
    "estimate_tokens",
    "filter_rewrites",
    "fit_token_budget",
    "preview",
]
