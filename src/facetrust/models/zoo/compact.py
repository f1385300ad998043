"""Small per-frame CNNs written here (no timm model exists for them): ``custom_cnn`` and ``mesonet4``.

Both follow timm's model contract (``forward_features`` → feature map, ``forward_head(pre_logits=)``) so
feature extraction and Grad-CAM treat them like the timm models.
"""

from __future__ import annotations

import operator
from collections import OrderedDict

import torch
from torch import nn

from facetrust.models.zoo.base import register_architecture


def _conv_bn_relu(cin: int, cout: int, kernel: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CustomCNN(nn.Module):
    """Three stride-2 5×5 conv blocks, a dilated 3×3 block (dilation 2), a 1×1 block, global average pooling.

    Every conv is followed by batch norm and ReLU; output stride 8, so a 128 px crop keeps a 16×16 map for
    the dilated block to see blending boundaries in context. About 0.45 M parameters at ``width=32``.
    """

    def __init__(self, num_outputs: int = 1, drop_rate: float = 0.2, *, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn_relu(3, w, 5, stride=2),
            _conv_bn_relu(w, 2 * w, 5, stride=2),
            _conv_bn_relu(2 * w, 4 * w, 5, stride=2),
            _conv_bn_relu(4 * w, 4 * w, 3, dilation=2),
            _conv_bn_relu(4 * w, 8 * w, 1),
        )
        self.num_features = 8 * w
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(x.mean(dim=(2, 3)))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _meso_block(cin: int, cout: int, kernel: int, pool: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(cin, cout, kernel, padding=kernel // 2),
            act=nn.ReLU(inplace=True),
            norm=nn.BatchNorm2d(cout),
            pool=nn.MaxPool2d(pool, ceil_mode=True),  # Keras padding="same"
        )
    )


class Meso4(nn.Module):
    """Meso-4 (Afchar et al., "MesoNet", WIFS 2018): four conv blocks (8, 8, 16, 16 filters; 3×3 then 5×5;
    conv → ReLU → BN → max-pool 2, 2, 2, 4), then dropout → dense 16 → LeakyReLU(0.1) → dropout → dense.

    The paper's flatten assumes 256 px inputs (an 8×8×16 map); an adaptive average pool to 8×8 in front of
    it is the identity at 256 px and lets any size from 32 px through. About 28 k parameters.
    """

    def __init__(self, num_outputs: int = 1, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _meso_block(3, 8, 3, 2),
            _meso_block(8, 8, 5, 2),
            _meso_block(8, 16, 5, 2),
            _meso_block(16, 16, 5, 4),
        )
        self.num_features = 16 * 8 * 8
        self.pool = nn.AdaptiveAvgPool2d(8)
        self.drop1 = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, 16)
        self.act = nn.LeakyReLU(0.1)
        self.drop2 = nn.Dropout(drop_rate)
        self.head = nn.Linear(16, num_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop2(self.act(self.fc(self.drop1(self.pool(x).flatten(1)))))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_architecture(
    "custom_cnn",
    family="custom-cnn",
    input="frame",
    native_input_size=128,
    gradcam_layer=operator.attrgetter("features"),
)
def custom_cnn(num_outputs: int = 1, drop_rate: float = 0.2, *, width: int = 32) -> nn.Module:
    """Small from-scratch CNN: 5×5 convs, batch norm, a dilated conv, global pooling (0.44 M params)."""
    return CustomCNN(num_outputs, drop_rate, width=width)


@register_architecture(
    "mesonet4",
    family="mesonet",
    input="frame",
    native_input_size=256,
    gradcam_layer=lambda model: model.features[-1].norm,  # last block before its 4×4 pool
)
def mesonet4(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """Meso-4 (Afchar et al. 2018), a 28 k-parameter mesoscopic CNN designed for 256 px face crops."""
    return Meso4(num_outputs, drop_rate)
