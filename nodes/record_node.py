"""DPO Load Run Record: reuses a finished or interrupted search without recomputing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comfy_api.latest import io

from dpo_core.record import RunRecord

from .io_types import CATEGORY
from .run_files import RECORD_FOLDER, list_records, record_folder
from .run_report import report
from .shared_inputs import encode_conditioning

if TYPE_CHECKING:  # ComfyUI's CLIP object, for the signature only
    from comfy.sd import CLIP

# The optimizer nodes' files: search_*.json hold scored candidates; gradient_*.json only a
# learned distribution (the gradient node scores none), so there is no best prompt to load.
LOADABLE_PREFIX = "search_"


def loadable_records() -> list[str]:
    """The run records this node can load, newest first."""
    return [name for name in list_records() if name.startswith(LOADABLE_PREFIX)]


class LoadRunRecord(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DPOLoadRunRecord",
            display_name="DPO Load Run Record",
            category=CATEGORY,
            description="Reuses a finished (or interrupted) search: outputs its best prompt and "
            "conditioning from the saved run record, without recomputing anything.",
            inputs=[
                io.Combo.Input(
                    "record", options=loadable_records(),
                    tooltip="A search record from output/dpo_diff/ (search_*.json, written by "
                    "DPO Evolutionary Search after every batch; finished or interrupted).",
                ),
                io.Clip.Input("clip", tooltip="The CLIP that encodes the prompt (the checkpoint's)."),
            ],
            outputs=[
                io.Conditioning.Output("conditioning", tooltip="The best prompt, encoded like CLIPTextEncode."),
                io.String.Output("prompt", tooltip="The best prompt of the record."),
                io.String.Output("report", tooltip="The record's summary."),
            ],
        )  # fmt: skip

    @classmethod
    def execute(cls, record: str, clip: CLIP) -> io.NodeOutput:
        path = record_folder() / record
        if not path.is_file():
            raise ValueError(f"run record {record!r} not found in output/{RECORD_FOLDER}/")
        loaded = RunRecord.load(path)
        if loaded.best is None:
            raise ValueError(f"run record {record!r} has no evaluated candidate yet")
        text = loaded.best.text
        return io.NodeOutput(encode_conditioning(clip, text), text, report(loaded, path))

    @classmethod
    def fingerprint_inputs(cls, record: str, clip: CLIP) -> float:
        path = record_folder() / record
        return path.stat().st_mtime if path.is_file() else float("nan")
