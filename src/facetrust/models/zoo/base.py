"""The architecture registry and its metadata: :class:`ArchitectureInfo` and :func:`register_architecture`.

A builder has the signature ``builder(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module`` (extra
keyword-only options with defaults are allowed) and never downloads anything. :func:`register_architecture`
records it in :data:`ARCHITECTURES` together with an :class:`ArchitectureInfo`, and checks ``num_outputs``
and ``drop_rate`` before the builder runs, so every architecture rejects bad head arguments the same way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import torch
from torch import nn

from facetrust.errors import ConfigError
from facetrust.registry import Registry

logger = logging.getLogger(__name__)

ModelBuilder = Callable[..., nn.Module]
InputKind = Literal["frame", "clip"]
CamLayout = Literal["NCHW", "NHWC", "NLC"]


@dataclass(frozen=True)
class ArchitectureInfo:
    """What a registered architecture is and how to feed and explain it.

    ``input`` is ``"frame"`` (``(B, 3, H, W)`` → ``(B, num_outputs)``) or ``"clip"`` (``(B, T, 3, H, W)``,
    ``T >= 1`` → ``(B, num_outputs)``). ``gradcam_layer(model)`` returns the module whose output a Grad-CAM
    should use; ``gradcam_layout`` says how that output is laid out: ``"NCHW"`` feature maps, ``"NHWC"``
    (Swin), or ``"NLC"`` tokens (ViT: ``model.num_prefix_tokens`` class tokens, then an h×w grid row by
    row). Clip models give one map per frame, ``(B*T, C, h, w)``. ``imagenet_init`` is True where
    :func:`facetrust.models.load_imagenet_weights` can initialise the model offline; all others start from
    random weights. ``timm_name`` is the timm model it is (frame models) or runs on every frame (clip
    models); None for networks written here. ``params`` counts parameters with a 1-logit head.
    """

    name: str
    family: str
    input: InputKind
    native_input_size: int
    min_input_size: int
    imagenet_init: bool
    description: str
    gradcam_layer: Callable[[nn.Module], nn.Module] = field(repr=False, compare=False)
    builder: ModelBuilder = field(repr=False, compare=False)
    gradcam_layout: CamLayout = "NCHW"
    timm_name: str | None = None

    @functools.cached_property
    def params(self) -> int:
        """Parameters with a 1-logit head, counted on the meta device (no memory, no init cost)."""
        with torch.device("meta"):
            model = self.builder(num_outputs=1)
        return sum(p.numel() for p in model.parameters())


ARCHITECTURES: Registry[ModelBuilder] = Registry("architecture")
"""name → builder. Look-ups that miss raise :class:`UnknownNameError` with close names."""

_INFOS: Registry[ArchitectureInfo] = Registry("architecture")
_native_sizes: dict[str, int] = {}

NATIVE_INPUT_SIZES: Mapping[str, int] = MappingProxyType(_native_sizes)
"""architecture → the resolution it was designed (and, for ImageNet-initialised ones, pretrained) at: a
sensible default input size. Read-only; filled by :func:`register_architecture`."""


def check_head_args(num_outputs: int, drop_rate: float) -> None:
    """Raise :class:`ConfigError` unless ``num_outputs`` is a positive int and ``drop_rate`` is in [0, 1)."""
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ConfigError(f"num_outputs must be a positive integer, got {num_outputs!r}")
    if isinstance(drop_rate, bool) or not isinstance(drop_rate, int | float) or not 0.0 <= drop_rate < 1.0:
        raise ConfigError(f"drop_rate must be a number in [0, 1), got {drop_rate!r}")


def register_architecture(
    name: str,
    *,
    family: str,
    input: InputKind,
    native_input_size: int,
    gradcam_layer: Callable[[nn.Module], nn.Module],
    min_input_size: int = 32,
    imagenet_init: bool = False,
    description: str | None = None,
    gradcam_layout: CamLayout = "NCHW",
    timm_name: str | None = None,
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: register ``builder`` as architecture ``name`` with its :class:`ArchitectureInfo`.

    ``description`` defaults to the first line of the builder's docstring. The registered builder checks
    ``num_outputs`` and ``drop_rate`` (→ :class:`ConfigError`) before building. A taken name, an unknown
    ``input`` kind or inconsistent sizes → :class:`ConfigError`.
    """
    if input not in ("frame", "clip"):
        raise ConfigError(f"architecture {name!r}: input must be 'frame' or 'clip', got {input!r}")
    if not 1 <= min_input_size <= native_input_size:
        raise ConfigError(
            f"architecture {name!r}: need 1 <= min_input_size ({min_input_size}) <= "
            f"native_input_size ({native_input_size})"
        )

    def deco(builder: ModelBuilder) -> ModelBuilder:
        @functools.wraps(builder)
        def checked(num_outputs: int = 1, drop_rate: float = 0.2, **options: Any) -> nn.Module:
            check_head_args(num_outputs, drop_rate)
            return builder(num_outputs=num_outputs, drop_rate=drop_rate, **options)

        doc = (builder.__doc__ or "").strip()
        info = ArchitectureInfo(
            name=name,
            family=family,
            input=input,
            native_input_size=native_input_size,
            min_input_size=min_input_size,
            imagenet_init=imagenet_init,
            description=description or (doc.splitlines()[0] if doc else name),
            gradcam_layer=gradcam_layer,
            gradcam_layout=gradcam_layout,
            timm_name=timm_name,
            builder=checked,
        )
        ARCHITECTURES.register(name)(checked)
        _INFOS.register(name)(info)
        _native_sizes[name] = native_input_size
        return checked

    return deco


def architecture_info(name: str) -> ArchitectureInfo:
    """The :class:`ArchitectureInfo` of ``name``; unknown → :class:`UnknownNameError` with close names."""
    return _INFOS.get(name)


def list_architectures(*, input: InputKind | None = None) -> list[ArchitectureInfo]:
    """Every registered architecture (only ``"frame"`` or ``"clip"`` ones if ``input`` is given), by name."""
    infos = [_INFOS.get(name) for name in _INFOS.names()]
    return [info for info in infos if input is None or info.input == input]


__all__ = [
    "ARCHITECTURES",
    "NATIVE_INPUT_SIZES",
    "ArchitectureInfo",
    "CamLayout",
    "InputKind",
    "ModelBuilder",
    "architecture_info",
    "check_head_args",
    "list_architectures",
    "register_architecture",
]
