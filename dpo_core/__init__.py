"""DPO-Diff, the method, in plain torch (this package never imports ComfyUI).

Read the method in this order, the order in which a prompt becomes a chosen negative prompt:

1. prompt -> space   ``space``       slots of candidate words, the mode's rules, rendering text
                     ``spaces/``     (the lexicon) building spaces from WordNet, an LLM, a library
2. space -> logits   ``config``      the knobs: ``GPOConfig``, ``EPOConfig``, ``SearchConfig``
3. logits -> relaxed conditioning
                     ``relaxation``  Gumbel-softmax weights mixing token rows, through the encoder
4. conditioning -> images
                     ``shortcut``    sample without gradient to step t, K steps with gradient, x0
                     ``evaluation``  fully sampled images of a choice, scored per seed
5. images -> loss    ``losses``, ``scorers``  spherical CLIP distance; the judges' loaders
6. loss -> choice    ``gpo``         the gradient phase (learned distribution over candidates)
                     ``distribution``  what it hands a search: ``LearnedDistribution``
                     ``sampling``, ``evolution``  drawing and evolving choices
                     ``run``, ``search``  one run's budget, record and the four methods
7. results           ``record``      run records that serialise to JSON and load again

``protocols`` is the one interface to a diffusion model (``DiffusionBackend``) and to a judge
(``ImageTextScorer``); ``nodes/`` implements the first on top of ComfyUI.
"""

from .config import EPOConfig, GPOConfig, SearchConfig
from .distribution import LearnedDistribution
from .losses import spherical_distance
from .protocols import DiffusionBackend, ImageTextScorer
from .record import Candidate, HoldoutComparison, RunRecord
from .search import optimize
from .space import MODES, Mode, SearchSpace, Slot

__all__ = [
    "MODES",
    "Candidate",
    "DiffusionBackend",
    "EPOConfig",
    "GPOConfig",
    "HoldoutComparison",
    "ImageTextScorer",
    "LearnedDistribution",
    "Mode",
    "RunRecord",
    "SearchConfig",
    "SearchSpace",
    "Slot",
    "optimize",
    "spherical_distance",
]
