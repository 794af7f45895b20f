"""DPO-Diff for ComfyUI: registers the pack's nodes with ComfyUI (nothing else happens here)."""

import os
import sys

# The method lives in the top-level package ``dpo_core`` beside this file; make it importable
# without installing the pack. Appended, so that ComfyUI's own modules always win.
_PACK_DIR = os.path.dirname(os.path.abspath(__file__))
if _PACK_DIR not in sys.path:
    sys.path.append(_PACK_DIR)


async def comfy_entrypoint():
    """ComfyUI's V3 entry point. Imported lazily so that this file also imports without ComfyUI
    (test runners and packaging tools import it)."""
    from .nodes.registry import DPODiffExtension

    return DPODiffExtension()
