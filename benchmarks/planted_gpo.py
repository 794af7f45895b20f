"""How often GPO finds a planted word on the tests' tiny backend (issue: gradient to every slot).

The planted problem of ``tests/test_search.py``: a 5-option negative-mode slot whose prompt
embedding is the mean image embedding of option 3, so option 3 has the lowest loss. For each of
``--runs`` search random states, GPO runs with the default ``GPOConfig`` (the reference's step
range unless ``--late``) and we count how often the learned argmax is the planted word, and how
many slot-iterations reached the optimizer without a gradient.

Run: python benchmarks/planted_gpo.py [--runs 30] [--late]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from dpo_core.config import GPOConfig  # noqa: E402
from dpo_core.evaluation import generate_images  # noqa: E402
from dpo_core.gpo import learn_distribution  # noqa: E402
from dpo_core.optimizers import OPTIMIZERS  # noqa: E402
from tests.tiny_backend import TinyBackend, TinyScorer, negative_space  # noqa: E402

SEARCH_SEEDS = (0, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--late", action="store_true", help="step range 0.7-0.9 instead of the default")
    p.add_argument("--seeds-per-iteration", type=int, default=None,
                   help="override GPOConfig.seeds_per_iteration (0: all search seeds)")  # fmt: skip
    args = p.parse_args()
    torch.set_num_threads(1)
    backend, scorer, space = TinyBackend(), TinyScorer(), negative_space(sizes=(5,))
    images = generate_images(backend, [space.prompt] * 2, [space.render((3,))] * 2, SEARCH_SEEDS)
    scorer.targets[space.prompt] = scorer.embed_images(images).mean(0)
    target = scorer.embed_texts([space.prompt])
    config = GPOConfig()
    if args.late:
        config = dataclasses.replace(config, step_start_fraction=0.7, step_end_fraction=0.9)
    if args.seeds_per_iteration is not None:
        config = dataclasses.replace(config, seeds_per_iteration=args.seeds_per_iteration)

    without = [0, 0]  # slot-iterations without a gradient, all slot-iterations
    kind = OPTIMIZERS[config.optimizer]

    def counting(params, lr, momentum):
        optimizer = kind.make(params, lr, momentum)
        step = optimizer.step

        def counted_step(*a, **k):
            for q in params:
                without[0] += q.grad is None or not bool(q.grad.abs().sum() > 0)
                without[1] += 1
            return step(*a, **k)

        optimizer.step = counted_step  # type: ignore[method-assign]
        return optimizer

    OPTIMIZERS[config.optimizer] = dataclasses.replace(kind, make=counting)
    hits, start = 0, time.perf_counter()
    for seed in range(args.runs):
        result = learn_distribution(backend, scorer, space, config, SEARCH_SEEDS, target,
                                    generator=torch.Generator().manual_seed(seed))  # fmt: skip
        row = result.logits[0]
        hits += max(range(len(row)), key=row.__getitem__) == 3
    print(f"planted word is GPO's argmax in {hits}/{args.runs} runs; "
          f"{without[0]}/{without[1]} slot-iterations without a gradient "
          f"({time.perf_counter() - start:.0f}s)")  # fmt: skip


if __name__ == "__main__":
    main()
