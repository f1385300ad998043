"""Patch models: a classifier that judges local texture only, patch by patch, and averages the verdicts.

A whole-image CNN ends in a stride-32 map whose cells see the whole face; it can learn *what* a face looks like.
:class:`PatchClassifier` stops an EfficientNet-Lite trunk after its stride-16 stage (each cell sees about 100 px
of the 224-px crop, its centre weighing most), scores every cell with a 1 × 1 head and averages the cell
logits. It can only learn what the skin, hair and edges look like up close: the generator and codec
textures the issue calls "patches for texture". Its logit map is its own Grad-CAM layer.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import timm
import torch
from torch import nn

from facetrust.models.zoo.base import register_architecture


class TruncatedTrunk(nn.Module):
    """The stem and the first ``stages`` stages of a timm EfficientNet, under timm's own key names, so the
    weights of a whole network (ImageNet's, or a whole-face detector's) load into it: :meth:`load_state_dict`
    keeps the keys it has (:meth:`select_weights`) and ignores the later stages and the head."""

    def __init__(self, network: nn.Module, stages: int) -> None:
        super().__init__()
        self.conv_stem, self.bn1 = network.conv_stem, network.bn1
        self.blocks = nn.Sequential(*list(network.blocks)[:stages])

    @property
    def out_channels(self) -> int:
        return self.blocks[-1][-1].conv_pwl.out_channels

    def select_weights(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The entries of a whole network's ``state_dict`` that this trunk holds."""
        own = self.state_dict()
        return {key: value for key, value in state_dict.items() if key in own}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        return super().load_state_dict(self.select_weights(state_dict), strict=strict, assign=assign)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.bn1(self.conv_stem(x)))


class PatchClassifier(nn.Module):
    """A :class:`TruncatedTrunk` (:attr:`backbone`), then a 1 × 1 convolutional head on every cell
    (:attr:`head`, :attr:`patch_logits`) and the mean of the cell logits."""

    def __init__(self, backbone: TruncatedTrunk, *, num_outputs: int = 1, drop_rate: float = 0.2,
                 hidden: int = 64) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Conv2d(backbone.out_channels, hidden, 1), nn.ReLU(inplace=True),
                                  nn.Dropout2d(drop_rate))
        self.patch_logits = nn.Conv2d(hidden, num_outputs, 1)
        nn.init.normal_(self.patch_logits.weight, std=0.01)
        nn.init.zeros_(self.patch_logits.bias)

    def get_classifier(self) -> nn.Module:
        """The per-cell linear head."""
        return self.patch_logits

    def logit_map(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, num_outputs, h, w)``: the logit of every patch."""
        return self.patch_logits(self.head(self.backbone(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit_map(x).mean(dim=(2, 3))


@register_architecture(
    "efficientnet_lite0_patches",
    family="efficientnet-lite",
    input="frame",
    native_input_size=224,
    min_input_size=32,
    imagenet_init=True,
    gradcam_layer=operator.attrgetter("head"),
    timm_name="tf_efficientnet_lite0",
)
def efficientnet_lite0_patches(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite0 cut after its stride-16 stage (80 channels): a logit per ~100-px patch, averaged.

    Texture only, no face layout. The trunk takes ImageNet weights offline or a whole-face Lite0 detector's
    (``init_from``); it costs about what a whole-face Lite0 does at 224 px (the early, high-resolution
    stages dominate).
    """
    network = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1)
    return PatchClassifier(TruncatedTrunk(network, stages=4), num_outputs=num_outputs, drop_rate=drop_rate)


__all__ = ["PatchClassifier", "TruncatedTrunk"]
