"""The pack's own ComfyUI types, declared once: they carry our objects between our nodes."""

from __future__ import annotations

from comfy_api.latest import io

CATEGORY = "DPO-Diff"

SearchSpaceIO = io.Custom("DPO_SEARCH_SPACE")  # dpo_core.space.SearchSpace
# a dpo_core ImageTextScorer (CLIP, HPSv2, the tiny world's judge)
EvaluatorIO = io.Custom("DPO_EVALUATOR")
# dpo_core.distribution.LearnedDistribution: the gradient node's logits over a space, with the
# space, their charge in evaluations and the GPO settings (what the search node uses)
DistributionIO = io.Custom("DPO_DISTRIBUTION")
