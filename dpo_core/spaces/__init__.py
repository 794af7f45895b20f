"""The lexicon: building search spaces from words (the method only needs ``dpo_core.space``).

``builder.build_space`` is the one entry point; the rest are its parts:
``words`` (prompt analysis), ``inflection`` (word forms), ``wordnet_data`` (loading WordNet),
``wordnet_source`` (contrasts and synonyms from WordNet), ``text_similarity`` (ranking
senses and candidates, and the attack meaning filter, with the user's text encoder),
``llm`` (an OpenAI-compatible
chat-completions client asked for substitutes), ``library`` (common negative terms),
``cache`` (built spaces on disk).
"""

from .builder import BuildResult, build_space, preview

__all__ = ["BuildResult", "build_space", "preview"]
