"""The real ComfyUI web editor in headless Chromium, for the editor test and the workflow
generator (which measures node sizes as the frontend computes them).

Debian's ``chromium`` (``make setup`` installs it) is driven by the pip package ``playwright``;
``playwright install`` (a browser download) is never needed. The page talks to a running
``HeadlessComfy``; everything is read from the editor's own objects (``window.app``).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("DPO_CHROMIUM", "/usr/bin/chromium"))
# No sandbox (CI runs as root in a container); nothing that reaches out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-gpu",
]  # fmt: skip
VIEWPORT = {"width": 1920, "height": 1080}
# The editor's settings for an unattended session: no first-run template dialog, and text drawn
# at every zoom level (screenshots of a whole workflow are zoomed out).
SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "LiteGraph.Canvas.MinFontSizeForLOD": 0,
    "LiteGraph.Canvas.LowQualityRenderingZoomThreshold": 0.1,
    "Comfy.Minimap.Visible": False,
}

# Collects what the server sends while a prompt runs, per node: progress, previews, outputs.
_WATCH_EVENTS = """() => {
  const seen = window.__dpo = {progress: {}, previews: {}, executed: {}, errors: [], done: false};
  const api = window.app.api;
  api.addEventListener('progress', e => {
    const d = e.detail, p = seen.progress[d.node] ??= {updates: 0, value: 0, max: 0};
    p.updates += 1; p.value = Math.max(p.value, d.value); p.max = Math.max(p.max, d.max); p.last = [d.value, d.max];
  });
  api.addEventListener('b_preview_with_metadata', e => {
    const id = String(e.detail.displayNodeId ?? e.detail.nodeId);
    seen.previews[id] = (seen.previews[id] ?? 0) + 1;
  });
  api.addEventListener('executed', e => { seen.executed[e.detail.node] = e.detail.output; });
  api.addEventListener('execution_error', e => {
    seen.errors.push(e.detail.exception_message || 'error'); seen.done = true;
  });
  api.addEventListener('execution_success', () => { seen.done = true; });
}"""

_NODES = """() => window.app.graph._nodes.map(n => ({
  id: String(n.id), type: n.type, title: n.title, pos: [...n.pos], size: [...n.size],
  min_size: [...n.computeSize()], box: [...n.getBounding()],
  registered: !!LiteGraph.registered_node_types[n.type], has_errors: !!n.has_errors,
  widgets: (n.widgets ?? []).map(w => ({name: w.name, value: w.value})),
  images: (n.imgs ?? []).length,
}))"""


class Editor:
    """One page of the editor; ``load`` a UI workflow, read its nodes, press Run."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))

    def open(self, url: str, timeout: float = 180.0) -> Editor:
        self.page.goto(url)
        self.page.wait_for_function(
            "window.app && window.app.graph && window.app.api", timeout=timeout * 1000
        )
        self.page.wait_for_timeout(500)  # the extensions finish registering node types
        return self

    def load(self, workflow: dict) -> None:
        self.console.clear()
        self.page.evaluate("async wf => { await window.app.loadGraphData(wf); }", workflow)
        self.page.wait_for_timeout(800)  # DOM widgets take their sizes after a frame or two

    def nodes(self) -> list[dict]:
        return self.page.evaluate(_NODES)

    def groups(self) -> list[dict]:
        return self.page.evaluate(
            "() => window.app.graph._groups.map(g => ({title: g.title, box: [...g._bounding]}))"
        )

    def dialogs(self) -> list[str]:
        """Texts of the dialogs and toasts on screen (missing nodes, missing models, errors)."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('.p-dialog, .p-toast-message')]
                 .map(d => d.innerText.trim()).filter(t => t)"""
        )

    def error_panel(self) -> str:
        """The text of the editor's error details (missing nodes, missing models and their
        folders), or "" when it reports no error."""
        overlay = self.page.locator("[data-testid=error-overlay]")
        if not overlay.count() or not overlay.first.is_visible():
            return ""
        self.page.click("[data-testid=error-overlay-see-errors]")
        self.page.wait_for_timeout(800)
        text = self.page.evaluate("() => document.body.innerText")
        start = text.find("Errors detected")
        self.page.evaluate(
            "() => window.app.extensionManager.setting.set('Comfy.RightSidePanel.IsOpen', false)"
        )
        return text[start:] if start >= 0 else text

    def prompt(self) -> dict:
        """The API-format prompt the editor would queue for the loaded graph."""
        return self.page.evaluate("async () => (await window.app.graphToPrompt()).output")

    def set_widgets(self, values: dict[str, dict[str, Any]]) -> None:
        """``{node id: {widget name: value}}`` as if typed into the widgets."""
        self.page.evaluate(
            """values => { for (const [id, named] of Object.entries(values)) {
                 const node = window.app.graph.getNodeById(Number(id)) ?? window.app.graph.getNodeById(id);
                 for (const [name, value] of Object.entries(named)) {
                   const w = node.widgets.find(w => w.name === name);
                   if (!w) throw new Error(`node ${id} (${node.type}) has no widget ${name}`);
                   w.value = value; w.callback?.(value);
                 } } window.app.graph.setDirtyCanvas(true, true); }""",
            values,
        )

    def run(self, timeout: float = 600.0) -> dict:
        """Press the editor's Run button and wait for the prompt to end; returns what was seen."""
        self.page.evaluate(_WATCH_EVENTS)
        button = self.page.locator("[data-testid='queue-button'], button:has-text('Run')").first
        button.click()
        self.page.wait_for_function("window.__dpo.done", timeout=timeout * 1000, polling=500)
        self.page.wait_for_timeout(1000)  # the last outputs reach their nodes
        return self.page.evaluate("() => window.__dpo")

    def fit_view(self) -> None:
        """The whole graph (nodes and groups) in view, without the error toast over it."""
        dismiss = self.page.locator("[data-testid=error-overlay-dismiss]")
        if dismiss.count() and dismiss.first.is_visible():
            dismiss.first.click()
        self.page.evaluate(
            """() => { const c = window.app.canvas, g = window.app.graph;
                 let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
                 for (const b of [...g._nodes.map(n => n.getBounding()), ...g._groups.map(g => g._bounding)]) {
                   x0 = Math.min(x0, b[0]); y0 = Math.min(y0, b[1]);
                   x1 = Math.max(x1, b[0] + b[2]); y1 = Math.max(y1, b[1] + b[3]); }
                 c.ds.fitToBounds([x0 - 20, y0 - 20, x1 - x0 + 40, y1 - y0 + 40], {zoom: 0.92});
                 c.setDirty(true, true); }"""
        )
        self.page.wait_for_timeout(600)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))


@contextmanager
def editor(server: Any, viewport: dict | None = None):
    """An ``Editor`` on a running ``HeadlessComfy`` in headless Chromium; closes the browser
    afterwards."""
    from playwright.sync_api import sync_playwright

    server.post("/settings", SETTINGS)

    if not CHROMIUM.is_file():
        raise RuntimeError(f"{CHROMIUM} not found: `make setup` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport=viewport or VIEWPORT)
            yield Editor(page).open(server.url)
        finally:
            browser.close()


def overlaps(boxes: dict[str, list[float]], gap: float = 0.0) -> list[tuple[str, str]]:
    """Pairs of ``[x, y, w, h]`` boxes that overlap (``gap`` apart counts as touching)."""
    keys = sorted(boxes)
    pairs = []
    for i, a in enumerate(keys):
        ax, ay, aw, ah = boxes[a]
        for b in keys[i + 1 :]:
            bx, by, bw, bh = boxes[b]
            if ax < bx + bw + gap and bx < ax + aw + gap and ay < by + bh + gap and by < ay + ah + gap:
                pairs.append((a, b))
    return pairs
