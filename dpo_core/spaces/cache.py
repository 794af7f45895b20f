"""On-disk cache of built search spaces: ``<cache>/spaces/<sha256 of the settings>.json``.

``<cache>`` is ``$DPO_DIFF_CACHE`` or ``~/.cache/dpo_diff``. An unreadable file is ignored with a
warning (the space is then rebuilt); a file that cannot be written only costs the rebuild next time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..space import SearchSpace
from .wordnet_data import cache_dir

log = logging.getLogger(__name__)

def cache_key(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(key: str) -> Path:
    return cache_dir() / "spaces" / f"{key}.json"


def read_cache(key: str) -> tuple[SearchSpace, tuple[str, ...]] | None:
    path = cache_path(key)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SearchSpace.from_dict(data["space"]), tuple(data.get("warnings", ()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable cached search space %s: %s", path, err)
        return None


def write_cache(key: str, space: SearchSpace, warnings: tuple[str, ...]) -> None:
    path = cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        data = {"space": space.to_dict(), "warnings": list(warnings)}
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        log.warning("could not cache the search space in %s: %s", path, err)
