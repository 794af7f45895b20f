"""A small chat-completions server on 127.0.0.1 for the LLM tests: each POST gets the next
scripted answer, and every request is recorded (path, headers, body)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(content: str | None, refusal: str | None = None) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if refusal:
        message["refusal"] = refusal
    return {"choices": [{"index": 0, "message": message}]}


def answer(status: int, body: object = "", delay: float = 0.0) -> Callable:
    """A script step: wait ``delay`` seconds, then answer ``status`` with ``body``."""

    def step(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        if stop.wait(delay):
            return
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode()
        )
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return step


def redirect(location: str, status: int = 307) -> Callable:
    def step(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return step


def drip(interval: float, total_s: float = 30.0) -> Callable:
    """A 200 answer that sends one byte every ``interval`` seconds and never completes."""

    def step(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        end = time.monotonic() + total_s
        while time.monotonic() < end and not stop.wait(interval):
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return step


def flood(megabytes: int) -> Callable:
    """A 200 answer of ``megabytes`` MB of JSON-ish text."""
    chunk = b'{"cat": ["dog"]} ' * 4096

    def step(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        size = megabytes * 1024 * 1024
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(size - size % len(chunk)))
        handler.end_headers()
        for _ in range(size // len(chunk)):
            if stop.is_set():
                return
            handler.wfile.write(chunk)

    return step


class ChatServer:
    """Answers each POST with the next step of ``script`` (then HTTP 500) on 127.0.0.1."""

    def __init__(self, *script: Callable) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict, dict]] = []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append((self.path, dict(self.headers), body))
                step = server.script.pop(0) if server.script else answer(500, "")
                try:
                    step(self, server.stop)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
