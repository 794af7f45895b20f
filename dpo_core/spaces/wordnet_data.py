"""Finding and loading the WordNet 3.0 database (NLTK's reader), wherever it is installed.

Order of search:

1. NLTK's own data paths (``python -m nltk.downloader wordnet`` puts it there);
2. a system copy such as Debian's ``wordnet-base`` package (``/usr/share/wordnet``). NLTK only
   reads corpora below its data roots (symbolic links are resolved, so links do not help) and
   that package has no ``lexnames`` file, so the files are copied once (about 30 MB) into
   ``<cache>/nltk_data/corpora/wordnet``, the standard ``lexnames`` list is written next to them
   and ``<cache>/nltk_data`` is added to NLTK's data path (``<cache>`` is ``$DPO_DIFF_CACHE`` or
   ``~/.cache/dpo_diff``).

If neither exists, one error says how to install the data.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import warnings
from collections import defaultdict
from pathlib import Path

from nltk.corpus.reader.wordnet import WordNetCorpusReader

log = logging.getLogger(__name__)

SYSTEM_WORDNET_DIRS = (
    "/usr/share/wordnet",
    "/usr/local/share/wordnet",
    "/opt/homebrew/share/wordnet",
)
REQUIRED_FILES = (
    "data.noun", "data.verb", "data.adj", "data.adv",
    "index.noun", "index.verb", "index.adj", "index.adv",
    "noun.exc", "verb.exc", "adj.exc", "adv.exc",
)  # fmt: skip
OPTIONAL_FILES = ("cntlist.rev", "index.sense")

# The 45 lexicographer files of WordNet 3.0: number, name, syntactic category (1 n, 2 v, 3 a, 4 r).
LEXICOGRAPHER_FILES = (
    "adj.all 3", "adj.pert 3", "adv.all 4", "noun.Tops 1", "noun.act 1", "noun.animal 1",
    "noun.artifact 1", "noun.attribute 1", "noun.body 1", "noun.cognition 1",
    "noun.communication 1", "noun.event 1", "noun.feeling 1", "noun.food 1", "noun.group 1",
    "noun.location 1", "noun.motive 1", "noun.object 1", "noun.person 1", "noun.phenomenon 1",
    "noun.plant 1", "noun.possession 1", "noun.process 1", "noun.quantity 1", "noun.relation 1",
    "noun.shape 1", "noun.state 1", "noun.substance 1", "noun.time 1", "verb.body 2",
    "verb.change 2", "verb.cognition 2", "verb.communication 2", "verb.competition 2",
    "verb.consumption 2", "verb.contact 2", "verb.creation 2", "verb.emotion 2", "verb.motion 2",
    "verb.perception 2", "verb.possession 2", "verb.social 2", "verb.stative 2", "verb.weather 2",
    "adj.ppl 3",
)  # fmt: skip

INSTALL_HINT = (
    "WordNet 3.0 was not found. Install it with `apt-get install wordnet-base` (Debian/Ubuntu) "
    "or `python -m nltk.downloader wordnet`, or point $DPO_DIFF_WORDNET to a directory that "
    "holds the WordNet dict files (data.noun, index.noun, ...)."
)

_lock = threading.Lock()
_reader: WordNetCorpusReader | None = None


class WordNetNotFoundError(LookupError):
    """WordNet data is not installed; the message says how to install it."""


def cache_dir() -> Path:
    """Root of this package's on-disk cache: ``$DPO_DIFF_CACHE`` or ``~/.cache/dpo_diff``."""
    root = os.environ.get("DPO_DIFF_CACHE", "").strip()
    return Path(root).expanduser() if root else Path.home() / ".cache" / "dpo_diff"


def _has_dict_files(directory: Path) -> bool:
    return all((directory / name).is_file() for name in REQUIRED_FILES)


def _nltk_wordnet_dir() -> Path | None:
    import nltk.data

    try:
        found = nltk.data.find("corpora/wordnet")
    except LookupError:
        return None
    path = Path(str(found))
    return path if path.is_dir() and _has_dict_files(path) else None


def _system_wordnet_dir() -> Path | None:
    explicit = os.environ.get("DPO_DIFF_WORDNET", "").strip()
    candidates = ([explicit] if explicit else []) + list(SYSTEM_WORDNET_DIRS)
    for name in candidates:
        path = Path(name).expanduser()
        if _has_dict_files(path):
            return path
    return None


def _lay_out(source: Path) -> Path:
    """Make ``<cache>/nltk_data/corpora/wordnet`` from a system dict directory."""
    import nltk.data

    data_root = cache_dir() / "nltk_data"
    target = data_root / "corpora" / "wordnet"
    target.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        src, dst = source / name, target / name
        if not src.is_file():
            continue
        if dst.is_file() and not dst.is_symlink() and dst.stat().st_size == src.stat().st_size:
            continue
        tmp = dst.with_name(dst.name + ".part")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)  # atomic: a concurrent reader never sees half a file
    lexnames = target / "lexnames"
    if not lexnames.is_file():
        lines = [
            f"{i:02d}\t{entry.replace(' ', chr(9))}" for i, entry in enumerate(LEXICOGRAPHER_FILES)
        ]
        tmp = lexnames.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(lexnames)
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))
    return target


class _EnglishWordNetReader(WordNetCorpusReader):
    """NLTK's reader without the version mapping for multilingual data (it needs ``index.sense``,
    which system packages may lack, and only serves the Open Multilingual Wordnet)."""

    def map_wn(self, version: str = "wordnet") -> None:
        return None

    def _synset_from_pos_and_line(self, pos, data_file_line):
        # NLTK keeps a synset's relations in sets, so hypernyms(), hyponyms(), ... come back in
        # an order that changes with Python's string hash seed; sorted by (part of speech,
        # offset) they come back in data-file order, and candidates are the same in every run.
        synset = super()._synset_from_pos_and_line(pos, data_file_line)
        pointers = defaultdict(set)  # type: ignore[var-annotated]
        pointers.update({k: sorted(v) for k, v in synset._pointers.items()})
        synset._pointers = pointers
        return synset


def _open_reader(directory: Path) -> WordNetCorpusReader:
    with warnings.catch_warnings():  # "multilingual functions are not available": expected
        warnings.simplefilter("ignore")
        return _EnglishWordNetReader(str(directory), None)


def load_wordnet() -> WordNetCorpusReader:
    """The shared WordNet reader (loaded once per process, a few seconds the first time)."""
    global _reader
    with _lock:
        if _reader is not None:
            return _reader
        directory = _nltk_wordnet_dir()
        if directory is None:
            system = _system_wordnet_dir()
            if system is None:
                raise WordNetNotFoundError(INSTALL_HINT)
            directory = _lay_out(system)
            log.info("using WordNet from %s (laid out under %s)", system, directory)
        try:
            _reader = _open_reader(directory)
        except (OSError, LookupError, ValueError, AssertionError) as err:
            message = f"{INSTALL_HINT} (reading {directory} failed: {err})"
            raise WordNetNotFoundError(message) from err
        return _reader


# --- fast look-ups (no synset is read from the data files) -----------------------------------
_counts: dict[str, int] | None = None


def sense_key_counts() -> dict[str, int]:
    """SemCor tag count of every sense key (``cntlist.rev``), read once; empty if absent.

    NLTK's ``Lemma.count()`` searches the file on disk at every call; building spaces asks for
    thousands of counts, so the whole list is held in memory instead (about 30 000 keys).
    """
    global _counts
    if _counts is None:
        table: dict[str, int] = {}
        path = Path(str(load_wordnet().root)) / "cntlist.rev"
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                fields = line.split()
                if len(fields) == 3 and fields[2].isdigit():
                    table[fields[0].lower()] = int(fields[2])
        _counts = table
    return _counts


def lemma_count(lemma) -> int:
    """SemCor count of one sense of a word (same number as ``Lemma.count()``, from memory)."""
    return sense_key_counts().get(lemma.key().lower(), 0)


def sense_total(name: str) -> int:
    """Number of senses of a lemma name over all parts of speech, from the index in memory."""
    entry = load_wordnet()._lemma_pos_offset_map.get(name.lower().replace(" ", "_"), {})
    return sum(len(entry.get(pos, ())) for pos in ("n", "v", "a", "r"))
