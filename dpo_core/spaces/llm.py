"""Candidate words from a language model behind an OpenAI-compatible chat-completions API.

Works with any server that speaks ``POST {base_url}/chat/completions`` (Ollama, LM Studio, vLLM,
llama.cpp's server, OpenAI). Only the standard library is used.

Secrets. The API key is never part of the settings: ``api_key_env`` holds the *name* of an
environment variable, and the key is read from it at request time, sent as ``Authorization:
Bearer``, and never logged, cached or written into a search space. Because a workflow is shared
and its inputs are chosen by whoever wrote it, a workflow must not be able to choose which
secret leaves the machine, nor where it goes. A key is therefore sent only when

* the variable's name ends in ``_API_KEY`` or ``_TOKEN`` (upper case), so ``PATH``, ``HOME``
  or ``AWS_SECRET_ACCESS_KEY`` can never be named;
* the server's owner lists it in ``DPO_DIFF_LLM_KEYS`` in the environment that starts ComfyUI,
  as ``NAME`` (any allowed address) or ``NAME@host`` (only to that host), comma-separated;
* and the URL is https, or http to this machine (loopback).

Redirects are never followed, so a key cannot be forwarded to another address.

Time. ``timeout_s`` is the deadline for the whole request, every attempt and backoff wait
included, and ``check_interrupt`` (a function that raises to stop, e.g. ComfyUI's Cancel check)
is called about ten times a second while waiting, so Cancel stops a request within a second.

The reply is untrusted text. It is read only up to ``MAX_REPLY_BYTES`` and parsed in linear time.
Only the words that were asked about are read from it, and a candidate is kept only if it is
one or two dictionary words (WordNet knows each, at most 30 characters) and none of them is
the vocabulary of instructions ("ignore", "previous", "system", ...), so sentences, markup and
instruction phrases are dropped.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .words import PromptAnalysis, known_word

log = logging.getLogger(__name__)

CheckInterrupt = Callable[[], None]  # raises (any exception) to stop; returns otherwise
KEYS_ALLOWED_ENV = "DPO_DIFF_LLM_KEYS"  # set by the server's owner, never by a workflow
MAX_REPLY_BYTES = 256 * 1024  # a reply for 40 words x 20 candidates is about 10 KB
MAX_CANDIDATE_CHARS = 30
MAX_CANDIDATE_WORDS = 2
POLL_S = 0.1  # how often a waiting request checks for Cancel and its deadline

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_NAME = re.compile(r"[A-Z][A-Z0-9_]*_(?:API_KEY|TOKEN)")
# one or more letters (any script), then letters, apostrophes or hyphens; single spaces between
_CANDIDATE_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\-])*")
_KEY_TEXT = re.compile(r"[^\W\d_][\w' \-]*")  # an asked word as written in a plain-text line
_SEPARATORS = ("->", "=>", "\u2192", ":")
_VALUE_SPLIT = re.compile(r"[,;/|]")
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# words of instructions to a model, never of an image; a candidate holding one is dropped
_INSTRUCTION_WORDS = frozenset(
    """ignore ignoring disregard forget instruction instructions previous prompt prompts system
    assistant override jailbreak reveal pretend""".split()
)


class LLMError(ValueError):
    """The language model could not give candidates; the message says what to check."""


class KeyRefused(ValueError):
    """The key may not be sent (see the module docs); the message says what the owner can do.
    Not an ``LLMError``: falling back to WordNet must not hide a refused key."""


@dataclass(frozen=True)
class LLMSettings:
    """Where the model is and how to talk to it. No secret is stored here."""

    base_url: str = "http://127.0.0.1:11434/v1"  # Ollama's OpenAI-compatible endpoint
    model: str = "llama3.1"
    api_key_env: str = ""  # NAME of the environment variable with the key; "" sends no key
    timeout_s: float = 60.0  # the whole request: every attempt and backoff wait included
    retries: int = 2  # extra attempts after timeouts, connection errors, 429 and 5xx
    backoff_s: float = 1.0  # wait before retry k is backoff_s * 2**k
    temperature: float = 0.2
    json_mode: bool = True  # ask for response_format json_object (servers that lack it ignore it)
    fallback_to_wordnet: bool = False  # on failure: WordNet with a warning instead of an error
    # called while waiting and parsing; raises to stop (ComfyUI's Cancel). Not a setting to cache.
    check_interrupt: CheckInterrupt | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) base URL for the LLM, got {self.base_url!r}")
        try:
            parts = urllib.parse.urlsplit(self.base_url)
            parts.port  # noqa: B018  # raises on a port that is not a number in range
        except ValueError:
            parts = None
        if parts is None or not parts.hostname:
            raise ValueError(
                "expected an http(s) base URL with a host name (and a port number, if any), "
                f"e.g. http://127.0.0.1:11434/v1, got {self.base_url!r}"
            )
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

    def interrupt_point(self) -> None:
        if self.check_interrupt is not None:
            self.check_interrupt()


# --- the key policy --------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """``host`` is this machine: localhost or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_keys(environ: dict[str, str] | None = None) -> dict[str, set[str] | None]:
    """The owner's allow-list from ``DPO_DIFF_LLM_KEYS``: name -> hosts (None: any host)."""
    text = (os.environ if environ is None else environ).get(KEYS_ALLOWED_ENV, "")
    out: dict[str, set[str] | None] = {}
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        name, _, host = entry.partition("@")
        if host:
            hosts = out.get(name, set())
            if hosts is not None:
                hosts.add(host.lower())
                out[name] = hosts
        else:
            out[name] = None
    return out


def api_key(settings: LLMSettings) -> str | None:
    """The key to send to ``settings.base_url``, or None when none is asked for.

    Raises ``KeyRefused`` when the policy in the module docs forbids it, ``LLMError`` when the
    variable is allowed but empty. Messages name the variable, never its value.
    """
    name = settings.api_key_env
    if not name:
        return None
    parts = urllib.parse.urlsplit(settings.base_url)
    host = (parts.hostname or "").lower()
    if not _KEY_NAME.fullmatch(name):
        raise KeyRefused(
            f"llm_api_key_env names {name}, but only variables whose names end in _API_KEY or "
            "_TOKEN (upper case) can be sent, so a shared workflow cannot send other secrets; "
            "put the key in such a variable (e.g. OPENAI_API_KEY), or clear llm_api_key_env"
        )
    if parts.scheme != "https" and not is_loopback(host):
        raise KeyRefused(
            f"the key in ${name} is sent only over https or to this machine, and "
            f"{settings.base_url} is plain http to {host}; use an https:// base URL, or clear "
            "llm_api_key_env for a server that needs no key"
        )
    allowed = allowed_keys()
    if name not in allowed:
        raise KeyRefused(
            f"the workflow asks to send the key in ${name} to {host}, and the server's owner has "
            f"not allowed that variable; to allow it, start ComfyUI with the environment "
            f"variable {KEYS_ALLOWED_ENV}={name}@{host} (or {KEYS_ALLOWED_ENV}={name} for any "
            "https host); or clear llm_api_key_env"
        )
    hosts = allowed[name]
    if hosts is not None and host not in hosts:
        raise KeyRefused(
            f"the key in ${name} may be sent only to {', '.join(sorted(hosts))} "
            f"({KEYS_ALLOWED_ENV}), not to {host}; fix llm_base_url, or ask the server's owner "
            f"to add {name}@{host} to {KEYS_ALLOWED_ENV}"
        )
    key = os.environ.get(name, "").strip()
    if not key:
        raise LLMError(
            f"the environment variable {name} is not set; put the API key there, or clear "
            "api_key_env for a local server that needs no key"
        )
    return key


# --- the request -----------------------------------------------------------------------------
class _ReplyTooLarge(Exception):
    pass


class _Exchange:
    """One POST on its own thread, so the caller can wait in short steps (Cancel, deadline)
    and abort it by closing the socket. http.client is used directly: it follows no redirect."""

    def __init__(self, url: str, data: bytes, headers: dict[str, str], timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
        self.connection: http.client.HTTPConnection
        if parts.scheme == "https":
            self.connection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            self.connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.data, self.headers = data, headers
        self.status = 0
        self.body = b""
        self.error: BaseException | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, name="dpo-llm-request", daemon=True).start()

    def _run(self) -> None:
        try:
            self.connection.request("POST", self.path, body=self.data, headers=self.headers)
            response = self.connection.getresponse()
            self.status = response.status
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read1(65536):
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise _ReplyTooLarge()
                chunks.append(chunk)
            self.body = b"".join(chunks)
        except BaseException as err:  # handed to the waiting thread, which decides
            self.error = err
        finally:
            self.done.set()

    def abort(self) -> None:
        sock = self.connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connection.close()


def _wait(seconds: float, deadline: float, settings: LLMSettings) -> bool:
    """Sleep ``seconds`` in short steps (Cancel works); False if the deadline comes first."""
    end = time.monotonic() + seconds
    if end >= deadline:
        return False
    while (left := end - time.monotonic()) > 0:
        settings.interrupt_point()
        time.sleep(min(POLL_S, left))
    return True


def chat(settings: LLMSettings, messages: Sequence[dict]) -> str:
    """One chat completion; returns the reply text. Retries with exponential backoff, all
    within ``settings.timeout_s``; ``settings.check_interrupt`` can stop it at any moment."""
    url = settings.base_url.rstrip("/") + "/chat/completions"
    body: dict = {
        "model": settings.model,
        "messages": list(messages),
        "temperature": settings.temperature,
    }
    if settings.json_mode:
        body["response_format"] = {"type": "json_object"}
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = api_key(settings)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode("utf-8")
    deadline = time.monotonic() + settings.timeout_s
    timed_out = f"timed out: no complete answer within {settings.timeout_s:g} s, all attempts included"
    last = timed_out
    attempts = 0
    for attempt in range(settings.retries + 1):
        if attempt and not _wait(settings.backoff_s * 2 ** (attempt - 1), deadline, settings):
            last = f"{last}; no time left for another attempt within {settings.timeout_s:g} s"
            break
        settings.interrupt_point()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            last = timed_out
            break
        attempts += 1
        exchange = _Exchange(url, data, headers, timeout=remaining)
        aborted = False
        try:
            while not exchange.done.wait(min(POLL_S, max(0.0, deadline - time.monotonic()))):
                settings.interrupt_point()  # raises on Cancel; the finally closes the socket
                if time.monotonic() >= deadline:
                    break
        finally:
            if not exchange.done.is_set():
                aborted = True
                exchange.abort()
        if aborted:
            last = timed_out
            break
        error, status = exchange.error, exchange.status
        if isinstance(error, _ReplyTooLarge):
            raise LLMError(
                f"the LLM server at {settings.base_url} sent a reply over "
                f"{MAX_REPLY_BYTES // 1024} KB; a list of words is far smaller, so check "
                "base_url and model"
            )
        if error is not None:
            if isinstance(error, (TimeoutError, socket.timeout)):
                last = timed_out if time.monotonic() >= deadline else "a read timed out"
            elif isinstance(error, (ConnectionError, OSError, http.client.HTTPException)):
                last = f"could not connect or the connection broke ({error})"
            else:
                raise error
        elif 200 <= status < 300:
            return _reply_text(exchange.body)
        elif status in (401, 403):
            hint = (
                f"check the key in ${settings.api_key_env}"
                if settings.api_key_env
                else "it needs an API key: put it in an environment variable and set "
                "llm_api_key_env to that variable's NAME"
            )
            raise LLMError(
                f"the LLM server at {settings.base_url} refused the request (HTTP {status}); "
                + hint
            )
        elif 300 <= status < 400:
            raise LLMError(
                f"the LLM server at {settings.base_url} answered with a redirect (HTTP "
                f"{status}); redirects are not followed (a key must not be forwarded), so set "
                "base_url to the final address"
            )
        elif status not in _RETRY_STATUS:
            raise LLMError(
                f"the LLM server at {settings.base_url} answered HTTP {status} for model "
                f"{settings.model!r}; check base_url and model"
            )
        else:
            last = f"HTTP {status}"
        log.warning(
            "LLM request to %s failed (%s), attempt %d of %d",
            url,
            last,
            attempt + 1,
            settings.retries + 1,
        )
        if time.monotonic() >= deadline:
            break
    raise LLMError(
        f"the LLM server at {settings.base_url} did not answer ({last}) after {attempts} "
        f"attempt{'s' if attempts != 1 else ''}; check that it runs and that base_url is right, "
        "or raise llm_timeout"
    )


def _reply_text(payload: bytes) -> str:
    try:
        data = json.loads(payload.decode("utf-8", errors="replace"))
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
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


# --- parsing (linear time: no regular expression with nested or overlapping repeats) ----------
def clean_candidate(text: object) -> str | None:
    """A candidate if it is one or two dictionary words, else None (see the module docs)."""
    if not isinstance(text, str) or len(text) > 4 * MAX_CANDIDATE_CHARS:
        return None
    text = " ".join(text.strip().strip("\"'`.,;").split())
    if not text or len(text) > MAX_CANDIDATE_CHARS:
        return None
    words = text.split(" ")
    if len(words) > MAX_CANDIDATE_WORDS:
        return None
    for word in words:
        if not _CANDIDATE_WORD.fullmatch(word):
            return None
        for part in word.lower().replace("'s", "").split("-"):
            if not part or part in _INSTRUCTION_WORDS or not known_word(part):
                return None
    return text


def _json_object(text: str) -> dict | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    for wrapper in ("candidates", "words", "result", "results"):
        inner = data.get(wrapper)
        if isinstance(inner, dict) and len(data) == 1:
            return inner
    return data


def _plain_pair(line: str) -> tuple[str, str] | None:
    """``word -> a, b`` (or ``=>``, ``→``, ``:``), after bullets and quotes; None otherwise."""
    found = [(i, sep) for sep in _SEPARATORS if (i := line.find(sep)) > 0]
    if not found:
        return None
    index, sep = min(found)
    key = line[:index].strip().lstrip("-*\u2022 \t0123456789.)").strip().strip("\"'`*").strip()
    if not key or len(key) > 4 * MAX_CANDIDATE_CHARS or not _KEY_TEXT.fullmatch(key):
        return None
    return key.lower(), line[index + len(sep) :]


def _plain_pairs(text: str, interrupt_point: Callable[[], None]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines()):
        if number % 256 == 0:
            interrupt_point()
        pair = _plain_pair(line)
        if pair is not None:
            out[pair[0]] = _VALUE_SPLIT.split(pair[1])
    return out


def parse_candidates(
    text: str,
    words: Iterable[str],
    limit: int,
    check_interrupt: CheckInterrupt | None = None,
) -> dict[str, list[str]]:
    """Candidates per asked word from a reply: JSON ``{"word": [...]}`` or ``word -> a, b``.

    Keys that were not asked about are ignored; values that are not words are dropped; at most
    ``limit`` per word; a word's own spelling is never a candidate of it. The work is linear in
    the length of ``text``, and ``check_interrupt`` is called every few hundred lines or values.
    """

    def interrupt_point() -> None:
        if check_interrupt is not None:
            check_interrupt()

    if len(text.encode("utf-8", errors="replace")) > MAX_REPLY_BYTES:
        raise LLMError(f"the model's answer is over {MAX_REPLY_BYTES // 1024} KB; try another model")
    asked = {w.lower(): w for w in words}
    data = _json_object(text)
    raw: dict[str, object]
    if data is not None:
        raw = {str(k).strip().lower(): v for k, v in data.items()}
    else:
        raw = dict(_plain_pairs(text, interrupt_point))
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        if key not in asked:
            continue
        interrupt_point()
        if isinstance(values, str):
            values = _VALUE_SPLIT.split(values)
        if not isinstance(values, list):
            continue
        kept: list[str] = []
        seen: set[str] = set()
        for value in values[: 20 * max(limit, 1)]:
            candidate = clean_candidate(value)
            if candidate is None or candidate.lower() == key or candidate.lower() in seen:
                continue
            kept.append(candidate)
            seen.add(candidate.lower())
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
    parsed = parse_candidates(reply, unique, limit, settings.check_interrupt)
    if not parsed:
        raise LLMError(
            "the model's answer held no usable candidates (expected JSON such as "
            '{"cat": ["dog", "fox"]}); try another model'
        )
    lowered = {k.lower(): v for k, v in parsed.items()}
    return {i: lowered[w.text.lower()] for i, w in content if w.text.lower() in lowered}
