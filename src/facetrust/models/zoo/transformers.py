"""Per-frame vision transformers from timm, built to accept any input size (randomly initialised).

Both are built at their 224 px design size with timm's dynamic-size options, so the parameters (and state
dict) do not depend on the input size: ViT interpolates its position embedding and pads to a multiple of
the patch size; Swin pads every stage to whole windows and computes its shifted-window masks per input.
"""

from __future__ import annotations

import timm
from torch import nn

from facetrust.models.zoo.base import register_architecture


def _swin_cam(model: nn.Module) -> nn.Module:
    return model.layers[-1]  # last stage, (B, h, w, C)


def _vit_cam(model: nn.Module) -> nn.Module:
    return model.blocks[-1].norm1  # tokens entering the last attention, (B, 1 + h*w, C)


@register_architecture(
    "swin_tiny",
    family="swin",
    input="frame",
    native_input_size=224,
    gradcam_layer=_swin_cam,
    gradcam_layout="NHWC",
    timm_name="swin_tiny_patch4_window7_224",
)
def swin_tiny(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """Swin-T (Liu et al. 2021; timm ``swin_tiny_patch4_window7_224``), any input size (dynamic_img_size)."""
    return timm.create_model(
        "swin_tiny_patch4_window7_224",
        pretrained=False,
        num_classes=num_outputs,
        drop_rate=drop_rate,
        dynamic_img_size=True,
    )


@register_architecture(
    "vit_small",
    family="vit",
    input="frame",
    native_input_size=224,
    gradcam_layer=_vit_cam,
    gradcam_layout="NLC",
    timm_name="vit_small_patch16_224",
)
def vit_small(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """ViT-S/16 (Dosovitskiy et al. 2021; timm ``vit_small_patch16_224``), any input size (dynamic size)."""
    return timm.create_model(
        "vit_small_patch16_224",
        pretrained=False,
        num_classes=num_outputs,
        drop_rate=drop_rate,
        dynamic_img_size=True,
        dynamic_img_pad=True,
    )
