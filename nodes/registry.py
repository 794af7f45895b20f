"""The pack's ComfyUI extension: the list of node classes, gathered from the node modules."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

# Node modules of this package, each exposing NODES: list[type[io.ComfyNode]].
NODE_MODULES: tuple[str, ...] = (
    "space_builder_node",
    "evaluator_loader",
    "optimizer_nodes",
    "tiny_world_loader",
)


def all_nodes() -> list[type[io.ComfyNode]]:
    import importlib

    found: list[type[io.ComfyNode]] = []
    for name in NODE_MODULES:
        found.extend(importlib.import_module(f"{__package__}.{name}").NODES)
    return found


class DPODiffExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return all_nodes()
