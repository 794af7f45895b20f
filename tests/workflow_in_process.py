"""Run an API-format workflow in this process, with given objects in place of some nodes.

For model families whose checkpoints are too large to generate here (SDXL): the workflow's
Load Checkpoint node is replaced by small models built with ComfyUI's own classes, and every
other node runs as ComfyUI runs it (its class from ComfyUI's or this pack's registry, called
with the workflow's inputs and links, under ``torch.inference_mode()`` as ComfyUI's executor
calls every node), in dependency order.
"""

from __future__ import annotations

from collections.abc import Mapping

DISPLAY_ONLY = {"PreviewAny", "PreviewImage"}  # nothing downstream reads them


def _order(api: Mapping[str, dict]) -> list[str]:
    done: list[str] = []

    def visit(key: str) -> None:
        if key in done:
            return
        for value in api[key]["inputs"].values():
            if isinstance(value, list):
                visit(str(value[0]))
        done.append(key)

    for key in api:
        visit(key)
    return done


def run_in_process(api: Mapping[str, dict], replaced: Mapping[str, tuple]) -> dict[str, tuple]:
    """Outputs of every node by id; ``replaced`` gives the outputs of nodes not to run."""
    import torch
    from dpo_diff.nodes.registry import all_nodes

    import nodes as comfy_nodes

    pack = {cls.define_schema().node_id: cls for cls in all_nodes()}
    outputs: dict[str, tuple] = dict(replaced)
    for key in _order(api):
        if key in outputs:
            continue
        node = api[key]
        kind = node["class_type"]
        inputs = {
            name: outputs[str(value[0])][value[1]] if isinstance(value, list) else value
            for name, value in node["inputs"].items()
        }
        with torch.inference_mode():
            if kind == "PrimitiveStringMultiline":
                outputs[key] = (inputs["value"],)
            elif kind in DISPLAY_ONLY:
                outputs[key] = ()
            elif kind in pack:
                outputs[key] = tuple(pack[kind].execute(**inputs).result)
            else:
                cls = comfy_nodes.NODE_CLASS_MAPPINGS[kind]
                result = getattr(cls(), cls.FUNCTION)(**inputs)
                is_dict = isinstance(result, dict)
                outputs[key] = tuple(result.get("result", ())) if is_dict else result
    return outputs
