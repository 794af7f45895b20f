"""The pack's ComfyUI extension: the list of node classes, in the order the editor shows them."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .evaluator_loader import EvaluatorLoader
from .gradient_node import ShortcutGradientOptimizer
from .record_node import LoadRunRecord
from .search_node import EvolutionarySearch
from .space_builder_node import SearchSpaceBuilder
from .tiny_world_loader import DPOTinyWorldLoader

NODE_CLASSES: tuple[type[io.ComfyNode], ...] = (
    SearchSpaceBuilder,
    EvaluatorLoader,
    ShortcutGradientOptimizer,
    EvolutionarySearch,
    LoadRunRecord,
    DPOTinyWorldLoader,
)


def all_nodes() -> list[type[io.ComfyNode]]:
    return list(NODE_CLASSES)


class DPODiffExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return all_nodes()
