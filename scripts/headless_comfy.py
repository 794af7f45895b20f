"""Run the real ComfyUI headless with this pack installed, and talk to it over HTTP.

Used by the integration tests and by ``make demo``. The server gets its own base directory
(custom_nodes/ holds a link to this checkout, models/checkpoints/ links to the given
checkpoints), so the ComfyUI in the cache stays untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from comfy_env import REPO_ROOT, bootstrap_comfy

PACK_FOLDER = "dpo_diff"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HeadlessComfy:
    """A ComfyUI server process on 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        checkpoints: list[Path] | None = None,
        extra_models: dict[str, list[Path]] | None = None,
        base_dir: Path | None = None,
        startup_timeout: float = 180.0,
    ) -> None:
        self.comfy_dir = bootstrap_comfy()
        self._own_base = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="dpo-comfy-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.client_id = uuid.uuid4().hex
        models = {"checkpoints": list(checkpoints or [])}
        for folder, files in (extra_models or {}).items():
            models.setdefault(folder, []).extend(files)
        self._layout(models)
        self.process: subprocess.Popen | None = None
        self.log_path = self.base_dir / "server.log"

    def _layout(self, models: dict[str, list[Path]]) -> None:
        custom = self.base_dir / "custom_nodes"
        custom.mkdir(parents=True, exist_ok=True)
        link = custom / PACK_FOLDER
        if not link.exists():
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        for folder, files in models.items():
            target = self.base_dir / "models" / folder
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                dest = target / Path(f).name
                if not dest.exists():
                    dest.symlink_to(Path(f).resolve())
        for sub in ("input", "output", "temp", "user"):
            (self.base_dir / sub).mkdir(exist_ok=True)

    @property
    def output_dir(self) -> Path:
        return self.base_dir / "output"

    def start(self) -> HeadlessComfy:
        cmd = [
            sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1",
            "--port", str(self.port), "--disable-auto-launch",
            "--base-directory", str(self.base_dir),
            # A file, not sqlite's :memory:: ComfyUI 0.16.3 then finds no tables (every new
            # connection to :memory: opens an empty database of its own).
            "--database-url", f"sqlite:///{self.base_dir / 'comfyui.db'}",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            cmd, cwd=self.comfy_dir, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.time() + self.startup_timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited during start-up:\n{self.log_tail()}")
            try:
                self.get("/system_stats")
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"ComfyUI did not answer within {self.startup_timeout}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()
        if self._own_base and os.environ.get("DPO_KEEP_SERVER_DIR") != "1":
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> HeadlessComfy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # --- HTTP --------------------------------------------------------------------------------
    def get(self, path: str, timeout: float = 10.0):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    def post(self, path: str, payload: dict | None = None, timeout: float = 30.0):
        data = json.dumps(payload or {}).encode()
        req = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"POST {path} failed ({err.code}): {err.read().decode()}") from None
        return json.loads(body) if body else None

    def submit(self, workflow: dict) -> str:
        """Queue an API-format workflow; returns the prompt id."""
        answer = self.post("/prompt", {"prompt": workflow, "client_id": self.client_id})
        return answer["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 600.0) -> dict:
        """Wait until the prompt has finished (success or error); returns its history entry."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            history = self.get(f"/history/{prompt_id}")
            entry = (history or {}).get(prompt_id)
            if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
                return entry
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI died while running the prompt:\n{self.log_tail()}")
            time.sleep(0.25)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout}s:\n{self.log_tail()}")

    def run(self, workflow: dict, timeout: float = 600.0) -> dict:
        return self.wait(self.submit(workflow), timeout)

    def interrupt(self) -> None:
        self.post("/interrupt")
