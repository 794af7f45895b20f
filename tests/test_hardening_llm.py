"""Hardening of the LLM source: which key may leave the machine and where to (item 1), replies
that are huge or built to make parsing slow (item 2), one deadline for every request and Cancel
within a second (item 3), and instruction phrases kept out of the space (item 10)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from dpo_core.spaces.builder import build_space
from dpo_core.spaces.llm import (
    KEYS_ALLOWED_ENV,
    KeyRefused,
    LLMError,
    LLMSettings,
    llm_candidates,
    parse_candidates,
)
from dpo_core.spaces.words import analyze
from tests.llm_server import ChatServer, answer, completion, drip, flood, redirect

SECRET = "sk-test-hardening-0123456789"
PROMPT = "a cat sitting on a red sofa"
REPLY = completion(json.dumps({"cat": ["dog", "fox"], "red": ["green"]}))


@pytest.fixture
def serve():
    servers: list[ChatServer] = []

    def start(*script):
        server = ChatServer(*script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _settings(url: str, **kw) -> LLMSettings:
    base = {"base_url": url, "model": "test-model", "timeout_s": 5.0, "backoff_s": 0.01}
    return LLMSettings(**{**base, **kw})


class Cancelled(Exception):
    """What a check_interrupt raises in these tests (ComfyUI's raises its own exception)."""


def _cancel_after(seconds: float):
    """A check_interrupt that starts raising ``seconds`` after it is made."""
    flag = threading.Event()
    threading.Timer(seconds, flag.set).start()

    def check() -> None:
        if flag.is_set():
            raise Cancelled()

    return check


# --- item 1: the key policy -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "PATH", "HOME", "my_api_key"])
def test_only_api_key_or_token_names_can_be_sent(serve, monkeypatch, name):
    monkeypatch.setenv(name, SECRET)
    monkeypatch.setenv(KEYS_ALLOWED_ENV, name)  # even the owner's list cannot open other names
    server = serve(answer(200, REPLY))
    with pytest.raises(KeyRefused, match="_API_KEY or _TOKEN") as info:
        llm_candidates(analyze(PROMPT), "negative", _settings(server.url, api_key_env=name), 5)
    assert SECRET not in str(info.value)
    assert server.requests == []  # nothing left the process


def test_a_key_is_sent_only_when_the_owner_allows_it(serve, monkeypatch):
    monkeypatch.setenv("DPO_TEST_API_KEY", SECRET)
    monkeypatch.delenv(KEYS_ALLOWED_ENV, raising=False)
    server = serve(answer(200, REPLY), answer(200, REPLY))
    settings = _settings(server.url, api_key_env="DPO_TEST_API_KEY")
    with pytest.raises(KeyRefused) as info:
        llm_candidates(analyze(PROMPT), "negative", settings, 5)
    assert f"{KEYS_ALLOWED_ENV}=DPO_TEST_API_KEY@127.0.0.1" in str(info.value)  # what to do
    assert server.requests == []
    monkeypatch.setenv(KEYS_ALLOWED_ENV, "OTHER_API_KEY, DPO_TEST_API_KEY@127.0.0.1")
    assert llm_candidates(analyze(PROMPT), "negative", settings, 5)
    assert server.requests[0][1]["Authorization"] == f"Bearer {SECRET}"


def test_an_allowed_key_goes_only_to_its_host(serve, monkeypatch):
    monkeypatch.setenv("DPO_TEST_API_KEY", SECRET)
    monkeypatch.setenv(KEYS_ALLOWED_ENV, "DPO_TEST_API_KEY@api.example.com")
    server = serve(answer(200, REPLY))
    with pytest.raises(KeyRefused, match="only to api.example.com"):
        llm_candidates(
            analyze(PROMPT), "negative", _settings(server.url, api_key_env="DPO_TEST_API_KEY"), 5
        )
    assert server.requests == []


def test_a_key_never_travels_over_plain_http_to_another_machine(monkeypatch):
    monkeypatch.setenv("DPO_TEST_API_KEY", SECRET)
    monkeypatch.setenv(KEYS_ALLOWED_ENV, "DPO_TEST_API_KEY")
    # refused before any connection is made: the address is never contacted
    settings = _settings("http://192.0.2.1/v1", api_key_env="DPO_TEST_API_KEY", timeout_s=0.5)
    with pytest.raises(KeyRefused, match="only over https or to this machine") as info:
        llm_candidates(analyze(PROMPT), "negative", settings, 5)
    assert SECRET not in str(info.value)


def test_redirects_are_not_followed_so_a_key_cannot_be_forwarded(serve, monkeypatch):
    monkeypatch.setenv("DPO_TEST_API_KEY", SECRET)
    monkeypatch.setenv(KEYS_ALLOWED_ENV, "DPO_TEST_API_KEY@127.0.0.1")
    elsewhere = serve(answer(200, REPLY))
    server = serve(redirect(elsewhere.url + "/chat/completions", 307))
    with pytest.raises(LLMError, match="redirect"):
        llm_candidates(
            analyze(PROMPT), "negative", _settings(server.url, api_key_env="DPO_TEST_API_KEY"), 5
        )
    assert elsewhere.requests == []


def test_fallback_to_wordnet_does_not_hide_a_refused_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DPO_DIFF_CACHE", str(tmp_path))
    settings = LLMSettings(base_url="http://127.0.0.1:9/v1", api_key_env="PATH",
                           fallback_to_wordnet=True, timeout_s=0.5)  # fmt: skip
    with pytest.raises(KeyRefused):
        build_space(PROMPT, "negative", "llm", llm=settings)


# --- item 2: replies --------------------------------------------------------------------------
def _finishes_within(seconds: float, work) -> object:
    """Runs ``work`` on a thread; fails if it is still running after ``seconds``."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("out", work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"parsing blocked for over {seconds} s"
    return box.get("out")


@pytest.mark.parametrize(
    "reply",
    [
        " " * 200_000,  # took 54 s at 60,000 spaces before (quadratic regular expression)
        "cat" + " " * 200_000 + "->",
        "- " * 100_000 + "cat: dog",
        ("1. " + "'" * 5000 + "cat" + " " * 5000 + "\n") * 20,
    ],
)
def test_adversarial_plain_replies_parse_in_linear_time(reply):
    out = _finishes_within(10.0, lambda: parse_candidates(reply, ["cat", "red"], 5))
    assert out in ({}, {"cat": ["dog"]})


def test_deeply_nested_json_reply_is_no_crash():
    assert parse_candidates("{" + "[" * 100_000 + "}", ["cat"], 5) == {}


def test_a_huge_reply_is_refused_without_reading_it_all(serve):
    server = serve(flood(10))
    with pytest.raises(LLMError, match="over 256 KB"):
        llm_candidates(analyze(PROMPT), "negative", _settings(server.url, retries=0), 5)


def test_parsing_checks_for_cancel():
    reply = "\n".join(f"word{i} -> a, b" for i in range(5000)) + "\ncat -> dog"
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        parse_candidates(reply, ["cat"], 5, check)


# --- item 3: one deadline, and Cancel ---------------------------------------------------------
def test_a_dripping_server_is_stopped_at_the_deadline(serve):
    # before: each read reset the socket timeout, so 1 byte per 0.2 s kept it waiting forever
    server = serve(drip(0.2), drip(0.2), drip(0.2))
    started = time.monotonic()
    with pytest.raises(LLMError, match="timed out"):
        llm_candidates(
            analyze(PROMPT), "negative", _settings(server.url, timeout_s=1.0, retries=2), 5
        )
    assert time.monotonic() - started < 3.0


def test_cancel_stops_a_waiting_request_within_a_second(serve):
    server = serve(answer(200, REPLY, delay=30))
    settings = _settings(server.url, timeout_s=60, check_interrupt=_cancel_after(0.3))
    started = time.monotonic()
    with pytest.raises(Cancelled):
        llm_candidates(analyze(PROMPT), "negative", settings, 5)
    assert time.monotonic() - started < 0.3 + 1.0


def test_cancel_stops_the_wait_between_attempts(serve):
    server = serve(answer(503, "busy"), answer(200, REPLY))
    settings = _settings(server.url, timeout_s=60, backoff_s=30,
                         check_interrupt=_cancel_after(0.3))  # fmt: skip
    started = time.monotonic()
    with pytest.raises(Cancelled):
        llm_candidates(analyze(PROMPT), "negative", settings, 5)
    assert time.monotonic() - started < 0.3 + 1.0
    assert len(server.requests) == 1


def test_the_backoff_counts_against_the_deadline(serve):
    server = serve(answer(503, "busy"), answer(200, REPLY))
    started = time.monotonic()
    with pytest.raises(LLMError, match="no time left"):
        llm_candidates(
            analyze(PROMPT), "negative", _settings(server.url, timeout_s=1.0, backoff_s=30), 5
        )
    assert time.monotonic() - started < 2.0


# --- item 10: instruction phrases -------------------------------------------------------------
def test_instruction_phrases_and_non_words_never_become_candidates():
    reply = json.dumps(
        {
            "cat": ["dog", "ignore instructions", "previous", "system prompt", "xqzv",
                    "big dog", "a small grey fox"],
        }
    )  # fmt: skip
    assert parse_candidates(reply, ["cat"], 10) == {"cat": ["dog", "big dog"]}


def test_the_node_passes_comfyui_cancel_to_the_request(comfy, serve, tmp_path, monkeypatch):
    import comfy.model_management as mm
    from dpo_diff.nodes.space_builder_node import SearchSpaceBuilder

    monkeypatch.setenv("DPO_DIFF_CACHE", str(tmp_path))
    server = serve(answer(200, REPLY, delay=30))
    threading.Timer(0.3, mm.interrupt_current_processing, args=(True,)).start()
    started = time.monotonic()
    try:
        with pytest.raises(mm.InterruptProcessingException):
            SearchSpaceBuilder.execute(PROMPT, "negative", "llm", 5, False, llm_base_url=server.url,
                                       llm_model="m", llm_timeout=60.0)  # fmt: skip
    finally:
        mm.interrupt_current_processing(False)
    assert time.monotonic() - started < 0.3 + 1.0
