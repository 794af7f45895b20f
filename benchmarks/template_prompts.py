"""Held-out prompts for benchmarks/space_coverage.py: the positive prompts of ComfyUI's
workflow templates (the pip packages ``comfyui_workflow_templates*`` that ComfyUI's
requirements install), one line of 20 to 160 characters each (``--chars MIN MAX`` for
others), without the usual negative terms; prompts no rule of the search spaces was written
for.

Run: python benchmarks/template_prompts.py OUT.json [--chars MIN MAX]
"""

from __future__ import annotations

import argparse
import json
import sysconfig
from pathlib import Path

NEGATIVE_TERMS = ("blurry", "low quality", "worst", "watermark", "deformed", "bad anatomy", "ugly")


def template_prompts(shortest: int = 20, longest: int = 160) -> list[str]:
    site = Path(sysconfig.get_paths()["purelib"])
    found: dict[str, None] = {}
    for path in sorted(site.glob("comfyui_workflow_templates*/**/*.json")):
        try:
            workflow = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # media packages hold other JSON; only workflows are read
        nodes = workflow.get("nodes") if isinstance(workflow, dict) else None
        for node in nodes if isinstance(nodes, list) else []:
            if not isinstance(node, dict) or node.get("type") != "CLIPTextEncode":
                continue
            values = node.get("widgets_values") or [None]
            text = values[0]
            if not isinstance(text, str) or "\n" in text or not shortest <= len(text) <= longest:
                continue
            if "negative" in (node.get("title") or "").lower():
                continue
            if not any(term in text.lower() for term in NEGATIVE_TERMS):
                found.setdefault(text.strip(), None)
    return list(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--chars", type=int, nargs=2, default=(20, 160), metavar=("MIN", "MAX"))
    args = parser.parse_args()
    prompts = template_prompts(*args.chars)
    args.out.write_text(json.dumps(prompts, indent=0), encoding="utf-8")
    print(f"{len(prompts)} prompts written to {args.out}")


if __name__ == "__main__":
    main()
