"""Per-frame CNN classifiers from timm (randomly initialised; ``pretrained=False`` always).

Each builder returns the timm model with a ``num_outputs``-way head and ``drop_rate`` dropout before it, so
the state-dict keys are timm's own. Only the EfficientNet-Lite ones can be ImageNet-initialised offline
(:mod:`facetrust.models.imagenet`); the others start from scratch.
"""

from __future__ import annotations

import operator

import timm
from torch import nn

from facetrust.models.zoo.base import register_architecture


def _timm(name: str, num_outputs: int, drop_rate: float) -> nn.Module:
    return timm.create_model(name, pretrained=False, num_classes=num_outputs, drop_rate=drop_rate)


def _timm_lite(variant: int, num_outputs: int, drop_rate: float) -> nn.Module:
    return _timm(f"tf_efficientnet_lite{variant}", num_outputs, drop_rate)


_efficientnet_cam = operator.attrgetter("bn2")  # conv_head → BN + activation: the last feature map
_resnet_cam = operator.attrgetter("layer4")


@register_architecture(
    "efficientnet_lite0",
    family="efficientnet-lite",
    input="frame",
    native_input_size=224,
    imagenet_init=True,
    gradcam_layer=_efficientnet_cam,
    timm_name="tf_efficientnet_lite0",
)
def efficientnet_lite0(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``, TF "same" padding, ReLU6, no SE); 3.4 M params.

    4.7 M with the 1000-way ImageNet head; ImageNet-initialisable offline, like Lite1 and Lite2.
    """
    return _timm_lite(0, num_outputs, drop_rate)


@register_architecture(
    "efficientnet_lite1",
    family="efficientnet-lite",
    input="frame",
    native_input_size=240,
    imagenet_init=True,
    gradcam_layer=_efficientnet_cam,
    timm_name="tf_efficientnet_lite1",
)
def efficientnet_lite1(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite1 (timm ``tf_efficientnet_lite1``); 4.1 M params (5.4 M with ImageNet's), 240 px."""
    return _timm_lite(1, num_outputs, drop_rate)


@register_architecture(
    "efficientnet_lite2",
    family="efficientnet-lite",
    input="frame",
    native_input_size=260,
    imagenet_init=True,
    gradcam_layer=_efficientnet_cam,
    timm_name="tf_efficientnet_lite2",
)
def efficientnet_lite2(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite2 (timm ``tf_efficientnet_lite2``); 4.8 M params (6.1 M with ImageNet's), 260 px."""
    return _timm_lite(2, num_outputs, drop_rate)


@register_architecture(
    "efficientnet_b0",
    family="efficientnet",
    input="frame",
    native_input_size=224,
    gradcam_layer=_efficientnet_cam,
    timm_name="efficientnet_b0",
)
def efficientnet_b0(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-B0 (Tan & Le 2019; timm ``efficientnet_b0``: SiLU, squeeze-excitation)."""
    return _timm("efficientnet_b0", num_outputs, drop_rate)


@register_architecture(
    "efficientnet_b3",
    family="efficientnet",
    input="frame",
    native_input_size=300,
    gradcam_layer=_efficientnet_cam,
    timm_name="efficientnet_b3",
)
def efficientnet_b3(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-B3 (timm ``efficientnet_b3``), 300 px in the paper."""
    return _timm("efficientnet_b3", num_outputs, drop_rate)


@register_architecture(
    "efficientnet_b4",
    family="efficientnet",
    input="frame",
    native_input_size=380,
    gradcam_layer=_efficientnet_cam,
    timm_name="efficientnet_b4",
)
def efficientnet_b4(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-B4 (timm ``efficientnet_b4``), 380 px in the paper; the DFDC-winning backbone family."""
    return _timm("efficientnet_b4", num_outputs, drop_rate)


@register_architecture(
    "resnet50",
    family="resnet",
    input="frame",
    native_input_size=224,
    gradcam_layer=_resnet_cam,
    timm_name="resnet50",
)
def resnet50(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """ResNet-50 (He et al. 2016; timm ``resnet50``, torchvision layout)."""
    return _timm("resnet50", num_outputs, drop_rate)


@register_architecture(
    "resnext50_32x4d",
    family="resnext",
    input="frame",
    native_input_size=224,
    gradcam_layer=_resnet_cam,
    timm_name="resnext50_32x4d",
)
def resnext50_32x4d(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """ResNeXt-50 32×4d (Xie et al. 2017; timm ``resnext50_32x4d``): grouped 3×3 convolutions."""
    return _timm("resnext50_32x4d", num_outputs, drop_rate)


@register_architecture(
    "densenet121",
    family="densenet",
    input="frame",
    native_input_size=224,
    gradcam_layer=operator.attrgetter("features.norm5"),
    timm_name="densenet121",
)
def densenet121(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """DenseNet-121 (Huang et al. 2017; timm ``densenet121``)."""
    return _timm("densenet121", num_outputs, drop_rate)


@register_architecture(
    "vgg16",
    family="vgg",
    input="frame",
    native_input_size=224,
    gradcam_layer=operator.attrgetter("features"),
    timm_name="vgg16_bn",
)
def vgg16(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """VGG-16 with batch norm (timm ``vgg16_bn``; BN because it trains from scratch); 4096-wide FC6/FC7.

    FC6 is timm's 7×7 convolution: feature maps smaller than 7×7 (inputs under 224 px) are average-pooled
    up to 7×7 first, so any input from 32 px works.
    """
    return _timm("vgg16_bn", num_outputs, drop_rate)


@register_architecture(
    "xception",
    family="xception",
    input="frame",
    native_input_size=299,
    gradcam_layer=operator.attrgetter("act4"),
    timm_name="legacy_xception",
)
def xception(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """Xception (Chollet 2017; timm ``legacy_xception``), the FaceForensics++ baseline network.

    timm's ``legacy_xception`` is the original entry/middle/exit-flow Xception that deepfake papers use;
    ``xception41/65/71`` are DeepLab's "aligned" Xception variants (strided separable convolutions instead of
    max-pooling, other depths), a different network.
    """
    return _timm("legacy_xception", num_outputs, drop_rate)
