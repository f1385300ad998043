"""The architecture registry: named builders of classifier networks (randomly initialised).

Every builder has the signature ``builder(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module`` and
never downloads anything (timm ``pretrained=False``). ImageNet initialisation is a separate step
(:func:`facetrust.models.load_imagenet_weights`), and trained detectors are loaded from safetensors files
(:mod:`facetrust.models.weights`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import timm
from torch import nn

from facetrust.errors import ConfigError
from facetrust.registry import Registry

logger = logging.getLogger(__name__)

ModelBuilder = Callable[..., nn.Module]

ARCHITECTURES: Registry[ModelBuilder] = Registry("architecture")

NATIVE_INPUT_SIZES: dict[str, int] = {
    "efficientnet_lite0": 224,
    "efficientnet_lite1": 240,
    "efficientnet_lite2": 260,
}
"""The resolution each architecture's ImageNet weights were trained at (a sensible default input size)."""


def _check_head_args(num_outputs: int, drop_rate: float) -> None:
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ConfigError(f"num_outputs must be a positive integer, got {num_outputs!r}")
    if not 0.0 <= drop_rate < 1.0:
        raise ConfigError(f"drop_rate must be in [0, 1), got {drop_rate!r}")


def _timm_lite(variant: int, num_outputs: int, drop_rate: float) -> nn.Module:
    _check_head_args(num_outputs, drop_rate)
    return timm.create_model(
        f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=num_outputs, drop_rate=drop_rate
    )


@ARCHITECTURES.register("efficientnet_lite0")
def efficientnet_lite0(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``, TF "same" padding, ReLU6, no SE); 4.7 M params."""
    return _timm_lite(0, num_outputs, drop_rate)


@ARCHITECTURES.register("efficientnet_lite1")
def efficientnet_lite1(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite1 (timm ``tf_efficientnet_lite1``); 5.4 M params, native 240 px."""
    return _timm_lite(1, num_outputs, drop_rate)


@ARCHITECTURES.register("efficientnet_lite2")
def efficientnet_lite2(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite2 (timm ``tf_efficientnet_lite2``); 6.1 M params, native 260 px."""
    return _timm_lite(2, num_outputs, drop_rate)


__all__ = ["ARCHITECTURES", "NATIVE_INPUT_SIZES", "ModelBuilder"]
