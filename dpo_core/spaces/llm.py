"""Candidate words from a language model behind an OpenAI-compatible chat-completions API.

Works with any server that speaks ``POST {base_url}/chat/completions`` (Ollama, LM Studio, vLLM,
llama.cpp's server, OpenAI). Only the standard library is used.

The API key is never part of the settings: ``api_key_env`` holds the *name* of an environment
variable, and the key is read from it at request time, sent as ``Authorization: Bearer``, and
never logged, cached or written into a search space.

The reply is untrusted text. Only the words that were asked about are read from it, and only
candidates that look like words (letters, at most three words, at most 30 characters) are
kept, so nothing in a reply (sentences, instructions, markup) can reach the search space.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .words import PromptAnalysis

log = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CANDIDATE = re.compile(r"[A-Za-z][A-Za-z'\-]*(?: [A-Za-z][A-Za-z'\-]*){0,2}")
_PLAIN_LINE = re.compile(r"^\s*[-*\d.)\s]*[\"'`*]*([A-Za-z][\w' -]*?)[\"'`*]*\s*(?:->|=>|:|\u2192)\s*(.+)$")
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_CANDIDATE_CHARS = 30


class LLMError(ValueError):
    """The language model could not give candidates; the message says what to check."""


@dataclass(frozen=True)
class LLMSettings:
    """Where the model is and how to talk to it. No secret is stored here."""

    base_url: str = "http://127.0.0.1:11434/v1"  # Ollama's OpenAI-compatible endpoint
    model: str = "llama3.1"
    api_key_env: str = ""  # NAME of the environment variable with the key; "" sends no key
    timeout_s: float = 60.0  # per request
    retries: int = 2  # extra attempts after timeouts, connection errors, 429 and 5xx
    backoff_s: float = 1.0  # wait before retry k is backoff_s * 2**k
    temperature: float = 0.2
    json_mode: bool = True  # ask for response_format json_object (servers that lack it ignore it)
    fallback_to_wordnet: bool = False  # on failure: WordNet with a warning instead of an error

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) base URL for the LLM, got {self.base_url!r}")
        if not self.model.strip():
            raise ValueError("expected an LLM model name, got an empty one")
        if self.api_key_env and not _ENV_NAME.fullmatch(self.api_key_env):
            # never echo the value: it may be a key pasted into the wrong field
            raise ValueError(
                "api_key_env expects the NAME of an environment variable that holds the key "
                "(e.g. OPENAI_API_KEY), not the key itself; set the key in that variable"
            )
        if self.timeout_s <= 0 or self.retries < 0 or self.backoff_s < 0:
            raise ValueError(
                f"expected timeout_s > 0, retries >= 0, backoff_s >= 0, got "
                f"{self.timeout_s}, {self.retries}, {self.backoff_s}"
            )

    def public_dict(self) -> dict:
        """Settings that may be cached or shown (the variable's name, never its value)."""
        return {
            "base_url": self.base_url,
            "model": self.model,
            "api_key_env": self.api_key_env,
            "temperature": self.temperature,
            "json_mode": self.json_mode,
        }


def _api_key(settings: LLMSettings) -> str | None:
    if not settings.api_key_env:
        return None
    key = os.environ.get(settings.api_key_env, "").strip()
    if not key:
        raise LLMError(
            f"the environment variable {settings.api_key_env} is not set; put the API key "
            "there, or clear api_key_env for a local server that needs no key"
        )
    return key


def chat(settings: LLMSettings, messages: Sequence[dict]) -> str:
    """One chat completion; returns the reply text. Retries with exponential backoff."""
    url = settings.base_url.rstrip("/") + "/chat/completions"
    body: dict = {
        "model": settings.model,
        "messages": list(messages),
        "temperature": settings.temperature,
    }
    if settings.json_mode:
        body["response_format"] = {"type": "json_object"}
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = _api_key(settings)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode("utf-8")
    last = ""
    for attempt in range(settings.retries + 1):
        if attempt:
            time.sleep(settings.backoff_s * 2 ** (attempt - 1))
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
                payload = response.read()
            return _reply_text(payload)
        except urllib.error.HTTPError as err:
            status = err.code
            if status in (401, 403):
                raise LLMError(
                    f"the LLM server at {settings.base_url} refused the request (HTTP {status}); "
                    f"check the key in ${settings.api_key_env or '<api_key_env not set>'}"
                ) from None
            if status not in _RETRY_STATUS:
                raise LLMError(
                    f"the LLM server at {settings.base_url} answered HTTP {status} for model "
                    f"{settings.model!r}; check base_url and model"
                ) from None
            last = f"HTTP {status}"
        except TimeoutError:
            last = f"timed out after {settings.timeout_s:g} s"
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                last = f"timed out after {settings.timeout_s:g} s"
            else:
                last = f"could not connect ({err.reason})"
        except (ConnectionError, http.client.HTTPException) as err:
            last = f"connection failed ({type(err).__name__})"
        log.warning(
            "LLM request to %s failed (%s), attempt %d of %d",
            url,
            last,
            attempt + 1,
            settings.retries + 1,
        )
    raise LLMError(
        f"the LLM server at {settings.base_url} did not answer ({last}) after "
        f"{settings.retries + 1} attempts; check that it runs and that base_url is right"
    )


def _reply_text(payload: bytes) -> str:
    try:
        data = json.loads(payload.decode("utf-8", errors="replace"))
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError(
            "the LLM server's answer is not a chat completion; check that base_url points to "
            "an OpenAI-compatible API (it usually ends in /v1)"
        ) from None
    refusal = message.get("refusal") if isinstance(message, dict) else None
    if refusal:
        raise LLMError("the model refused to suggest words; try another model or prompt")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise LLMError("the model returned an empty answer; try another model")
    return content


# --- parsing ---------------------------------------------------------------------------------
def clean_candidate(text: object) -> str | None:
    """A candidate if it looks like a word or a short phrase, else None."""
    if not isinstance(text, str):
        return None
    text = " ".join(text.strip().strip("\"'`.,;").split())
    if not text or len(text) > MAX_CANDIDATE_CHARS or not _CANDIDATE.fullmatch(text):
        return None
    return text


def _json_object(text: str) -> dict | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for wrapper in ("candidates", "words", "result", "results"):
        inner = data.get(wrapper)
        if isinstance(inner, dict) and len(data) == 1:
            return inner
    return data


def _plain_pairs(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _PLAIN_LINE.match(line)
        if match:
            out[match.group(1).strip().lower()] = re.split(r"[,;/|]", match.group(2))
    return out


def parse_candidates(text: str, words: Iterable[str], limit: int) -> dict[str, list[str]]:
    """Candidates per asked word from a reply: JSON ``{"word": [...]}`` or ``word -> a, b``.

    Keys that were not asked about are ignored; values that are not words are dropped; at most
    ``limit`` per word; a word's own spelling is never a candidate of it.
    """
    asked = {w.lower(): w for w in words}
    raw: dict[str, object] = {}
    data = _json_object(text)
    if data is not None:
        raw = {str(k).strip().lower(): v for k, v in data.items()}
    else:
        raw = dict(_plain_pairs(text))
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        if key not in asked:
            continue
        if isinstance(values, str):
            values = re.split(r"[,;/|]", values)
        if not isinstance(values, list):
            continue
        kept: list[str] = []
        for value in values:
            candidate = clean_candidate(value)
            if candidate is None or candidate.lower() == key:
                continue
            if candidate.lower() not in (k.lower() for k in kept):
                kept.append(candidate)
            if len(kept) >= limit:
                break
        if kept:
            out[asked[key]] = kept
    return out


# --- the source ------------------------------------------------------------------------------
_TASKS = {
    "negative": (
        "For each word below, give up to {n} words that CONTRAST with it in this prompt, to be "
        "used in a negative prompt: antonyms, or other things of the same kind that should not "
        "appear instead (examples: cat -> dog, fox; red -> green, blue; sitting -> standing; "
        "hot -> cold; day -> night)."
    ),
    "positive": (
        "For each word below, give up to {n} SYNONYMS that can replace it in this prompt "
        "without changing its meaning (examples: big -> large, huge; car -> automobile)."
    ),
}


def build_messages(prompt: str, words: Sequence[str], mode: str, limit: int) -> list[dict]:
    """The chat messages that ask for candidates (exposed for tests and for inspection)."""
    if mode not in _TASKS:
        raise ValueError(f"expected mode in {tuple(_TASKS)}, got {mode!r}")
    task = _TASKS[mode].format(n=limit)
    user = (
        f'Prompt: "{prompt}"\n\n{task} Use single common words (two-word phrases only when '
        "needed), in the same part of speech and grammatical form as the word (plural for "
        "plural, -ing for -ing).\n\n"
        f"Words: {json.dumps(list(words))}\n\n"
        'Answer with one JSON object only, mapping each word to a list: {"word": ["a", "b"]}'
    )
    return [
        {
            "role": "system",
            "content": "You suggest replacement words for text-to-image prompts. "
            "You answer with one JSON object and nothing else.",
        },
        {"role": "user", "content": user},
    ]


def llm_candidates(
    analysis: PromptAnalysis, mode: str, settings: LLMSettings, limit: int
) -> dict[int, list[str]]:
    """Candidates for every content word: ``{index into analysis.words: [candidates]}``."""
    content = [(i, w) for i, w in enumerate(analysis.words) if w.content]
    if not content:
        return {}
    unique = list(dict.fromkeys(w.text for _, w in content))
    reply = chat(settings, build_messages(analysis.prompt, unique, mode, limit))
    parsed = parse_candidates(reply, unique, limit)
    if not parsed:
        raise LLMError(
            "the model's answer held no usable candidates (expected JSON such as "
            '{"cat": ["dog", "fox"]}); try another model'
        )
    lowered = {k.lower(): v for k, v in parsed.items()}
    return {i: lowered[w.text.lower()] for i, w in content if w.text.lower() in lowered}
