"""Draw a UI-format workflow as a PNG (boxes, widget values and links), for the README.

python scripts/render_workflow.py workflows/NAME.json docs/NAME.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw

HEADER = {"DPO": (70, 110, 190)}  # our nodes stand out; others are grey
ROW = 16


def _colour(node_type: str) -> tuple[int, int, int]:
    return HEADER["DPO"] if node_type.startswith("DPO") else (90, 90, 90)


def render(ui: dict, scale: float = 0.6) -> Image.Image:
    """Nodes at their editor positions and sizes; the picture is scaled down at the end."""
    boxes = {}
    for node in ui["nodes"]:
        x, y = node["pos"]
        w, h = node["size"]
        rows = len(node["inputs"]) + len(node["widgets_values"]) + len(node["outputs"])
        boxes[node["id"]] = (x, y, w, max(h, 24 + ROW * rows), node)
    width = int(max(b[0] + b[2] for b in boxes.values()) + 40)
    height = int(max(b[1] + b[3] for b in boxes.values()) + 40)
    image = Image.new("RGB", (width, height), (38, 38, 38))
    draw = ImageDraw.Draw(image)
    for x, y, w, h, node in boxes.values():
        draw.rectangle([x, y, x + w, y + h], fill=(58, 58, 58), outline=(20, 20, 20))
        draw.rectangle([x, y, x + w, y + 20], fill=_colour(node["type"]))
        draw.text((x + 6, y + 4), node["type"], fill=(255, 255, 255))
        line = y + 24
        for inp in node["inputs"]:
            draw.text((x + 8, line), f"> {inp['name']}", fill=(200, 200, 200))
            line += ROW
        for value in node["widgets_values"]:
            text = str(value).replace("\n", " ")
            draw.text(
                (x + 8, line), text[:34] + ("..." if len(text) > 34 else ""), fill=(170, 170, 170)
            )
            line += ROW
        for out in node["outputs"]:
            label = f"{out['name']} >"
            draw.text((x + w - 8 - 6 * len(label), line), label, fill=(220, 220, 160))
            line += ROW
    for _, src, src_slot, dst, dst_slot, _kind in ui["links"]:
        sx, sy, sw, _, snode = boxes[src]
        dx, dy, _, _, _ = boxes[dst]
        rows_before = len(snode["inputs"]) + len(snode["widgets_values"])
        start = (sx + sw, sy + 24 + ROW * (rows_before + src_slot) + ROW / 2)
        end = (dx, dy + 24 + ROW * dst_slot + ROW / 2)
        draw.line([start, end], fill=(150, 200, 120), width=2)
    size = (int(width * scale), int(height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workflow", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    render(json.loads(args.workflow.read_text())).save(args.output)


if __name__ == "__main__":
    main()
