"""Search Space Builder: candidate words for each word of the prompt, as a node."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import comfy.model_management
from comfy_api.latest import io

from dpo_core.space import MODES, Mode
from dpo_core.spaces.builder import SOURCE_NAMES, build_space, preview
from dpo_core.spaces.llm import LLMSettings
from dpo_core.spaces.text_similarity import (
    DEFAULT_MEANING_THRESHOLD,
    KeepRewrite,
    TextSimilarity,
    keep_meaning,
)

from .clip_similarity import clip_similarity
from .io_types import CATEGORY, SearchSpaceIO

if TYPE_CHECKING:  # ComfyUI's CLIP object, for the signature only
    from comfy.sd import CLIP

log = logging.getLogger(__name__)
_DEFAULT_LLM = LLMSettings()


class SearchSpaceBuilder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DPOSearchSpaceBuilder",
            display_name="DPO Search Space Builder",
            category=CATEGORY,
            description=(
                "Finds candidate words for each content word of the prompt: contrasting words "
                "(antonyms, other things of the same kind) that fill the negative prompt, or "
                "synonyms that rewrite the prompt (attack mode)."
            ),
            inputs=[
                io.String.Input("prompt", multiline=True, tooltip="Your positive prompt, as in CLIPTextEncode."),
                io.Combo.Input(
                    "mode", options=list(MODES), default="negative",
                    tooltip="negative: contrasting words for the negative prompt (enhancement); "
                    "positive: synonym rewrites of the prompt (robustness attack).",
                ),
                io.Combo.Input(
                    "source", options=list(SOURCE_NAMES), default="wordnet",
                    tooltip="wordnet: offline dictionary; llm: an OpenAI-compatible chat server; "
                    "wordnet+llm: the model's words first, filled up from WordNet.",
                ),
                io.Int.Input("candidates_per_word", default=5, min=1, max=20, tooltip="Most candidates kept per word, best first."),
                io.Boolean.Input(
                    "include_library", default=False,
                    tooltip="Negative mode: add slots of common negative terms (quality, anatomy, artefacts).",
                ),
                io.String.Input(
                    "negative_prompt", default="", multiline=True, optional=True,
                    tooltip="Negative mode: your own negative prompt, always kept in front of the chosen words.",
                ),
                io.Clip.Input(
                    "clip", optional=True,
                    tooltip="Optional: its tokenizer counts tokens for the 77-token limit (otherwise estimated); its "
                    "text encoder helps choose each word's sense, orders the candidates, and checks that attack "
                    "rewrites keep the meaning.",
                ),
                io.Float.Input(
                    "meaning_threshold", default=DEFAULT_MEANING_THRESHOLD, min=0.0, max=1.0, step=0.01, optional=True,
                    tooltip="Positive mode with a CLIP: keep a rewrite only if the CLIP text similarity (cosine of the "
                    "pooled outputs) of the rewritten prompt to yours is at least this; 0 keeps every rewrite.",
                ),
                io.String.Input("llm_base_url", default=_DEFAULT_LLM.base_url, optional=True, tooltip="OpenAI-compatible base URL (Ollama, LM Studio, vLLM, OpenAI), ending in /v1."),
                io.String.Input("llm_model", default=_DEFAULT_LLM.model, optional=True, tooltip="Model name on that server."),
                io.String.Input(
                    "llm_api_key_env", default="", optional=True,
                    tooltip="NAME of the environment variable holding the API key (e.g. OPENAI_API_KEY); "
                    "the key itself never goes into the workflow. Empty: no key. The name must end in "
                    "_API_KEY or _TOKEN, and whoever runs ComfyUI must allow it in DPO_DIFF_LLM_KEYS "
                    "(NAME or NAME@host); it is sent only over https or to this machine.",
                ),
                io.Float.Input("llm_timeout", default=_DEFAULT_LLM.timeout_s, min=1.0, max=600.0, optional=True, tooltip="Seconds for the whole LLM request, retries included (Cancel stops it at once)."),
                io.Boolean.Input(
                    "llm_fallback_to_wordnet", default=False, optional=True,
                    tooltip="If the LLM fails: use WordNet and show a warning instead of stopping.",
                ),
                io.String.Input(
                    "space_json", default="", multiline=True, optional=True,
                    tooltip="Paste or edit a saved space (JSON) to use it instead of building one.",
                ),
            ],
            outputs=[
                SearchSpaceIO.Output("space", tooltip="Connect to the DPO optimizer nodes."),
                io.String.Output("preview", tooltip="One line per slot: word -> candidates; warnings first."),
                # Not "space_json": older ComfyUI (0.3.64, for one) refuses a node whose input and output share an
                # id, and this node is registered first, so the whole pack would be missing there.
                io.String.Output("space_as_json", tooltip="The space as JSON, to save, edit and paste back into space_json."),
            ],
        )  # fmt: skip

    @classmethod
    def execute(
        cls, prompt: str, mode: Mode, source: str, candidates_per_word: int,
        include_library: bool, negative_prompt: str = "", clip: CLIP | None = None,
        llm_base_url: str = _DEFAULT_LLM.base_url, llm_model: str = _DEFAULT_LLM.model,
        llm_api_key_env: str = "", llm_timeout: float = _DEFAULT_LLM.timeout_s,
        llm_fallback_to_wordnet: bool = False, space_json: str = "",
        meaning_threshold: float = DEFAULT_MEANING_THRESHOLD,
    ) -> io.NodeOutput:  # fmt: skip
        interrupted = comfy.model_management.throw_exception_if_processing_interrupted
        llm = LLMSettings(
            base_url=llm_base_url, model=llm_model, api_key_env=llm_api_key_env.strip(),
            timeout_s=llm_timeout, fallback_to_wordnet=llm_fallback_to_wordnet,
            check_interrupt=interrupted,
        )  # fmt: skip
        count_tokens = None
        similarity: TextSimilarity | None = None
        keep: KeepRewrite | None = None
        if clip is not None:
            similarity = clip_similarity(clip)
            if mode == "positive" and meaning_threshold > 0:
                keep = keep_meaning(similarity, meaning_threshold)
            from .clip_tokens import count_clip_tokens

            def count_tokens(text: str) -> int:
                return count_clip_tokens(clip, text)

        result = build_space(
            prompt, mode, source, candidates_per_word, include_library=include_library,
            llm=llm, negative_prompt=negative_prompt or "", override_json=space_json or "",
            count_tokens=count_tokens, check_interrupt=interrupted, similarity=similarity, keep=keep,
        )  # fmt: skip
        for warning in result.warnings:
            log.warning("Search Space Builder: %s", warning)
        lines = [f"warning: {w}" for w in result.warnings] + [preview(result.space)]
        return io.NodeOutput(result.space, "\n".join(lines), result.space.to_json())
