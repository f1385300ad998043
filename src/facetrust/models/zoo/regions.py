"""Region models: a frame classifier that reads one fixed region of the face crop, magnified.

Lip-sync tools (Wav2Lip, HyperLips, DINet) repaint only the mouth and jaw, at low resolution, and paste them
back. In a whole-face crop at 224 px that region is about 100 × 130 px, and a network with a stride-32 trunk
sees it through a 3 × 4 grid of cells. :class:`RegionClassifier` cuts the region out of the ordinary face
crop inside the model (so the pipeline, the crop store and every engine stay unchanged), magnifies it by
``zoom`` and runs the whole trunk on it: the mouth at the crop's full resolution, seen at the trunk's finest
scale.

Its Grad-CAM layer (:attr:`RegionClassifier.face_grid`) lays the region's feature map back on the grid of
the whole magnified crop, zeros outside, so every explanation method maps it onto the face crop as for any
frame model.
"""

from __future__ import annotations

import math
import operator

import timm
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from facetrust.models.zoo.base import register_architecture

Span = tuple[float, float]

LOWER_FACE_ROWS: Span = (0.5, 1.0)
"""Rows of the face crop (fractions of its height) the lower-face model reads: from the nose tip down past
the chin in a crop of 1.3× the detector's box (the box spans 0.115–0.885 of the crop; the mouth lies at
about 0.65–0.80)."""
LOWER_FACE_COLUMNS: Span = (3 / 14, 11 / 14)
"""Columns it reads: cheek to cheek (0.21–0.79), on the cell grid of a 224-px crop magnified twice."""


class FaceGrid(nn.Module):
    """Places a region's ``(B, C, h, w)`` feature map on the ``(B, C, H, W)`` grid of the whole crop (zeros
    outside). It exists so that Grad-CAM and feature maps, which read this module's output, land on the face
    crop and not on the region alone."""

    def forward(self, features: torch.Tensor, offset: tuple[int, int], grid: tuple[int, int]) -> torch.Tensor:
        """``features`` placed with their top-left cell at ``offset`` on a zero ``grid`` (rows, columns)."""
        (top, left), (height, width) = offset, grid
        bottom = max(0, height - top - features.shape[2])
        right = max(0, width - left - features.shape[3])
        return F.pad(features, (left, right, top, bottom))


class RegionClassifier(nn.Module):
    """A timm classifier run on ``rows × columns`` of its input (fractions of the height and width), magnified
    by ``zoom`` (bilinear). The timm model is :attr:`backbone`, with timm's own state-dict keys under
    ``backbone.``, so a whole-face detector of the same trunk can start it."""

    def __init__(self, backbone: nn.Module, *, rows: Span, columns: Span, zoom: float, stride: int = 32) -> None:
        super().__init__()
        for name, (low, high) in (("rows", rows), ("columns", columns)):
            if not 0.0 <= low < high <= 1.0:
                raise ValueError(f"{name} must satisfy 0 <= low < high <= 1, got {(low, high)}")
        if zoom <= 0:
            raise ValueError(f"zoom must be positive, got {zoom}")
        self.backbone = backbone
        self.rows, self.columns, self.zoom, self.stride = rows, columns, zoom, stride
        self.face_grid = FaceGrid()

    def get_classifier(self) -> nn.Module:
        """The backbone's linear head (timm's own accessor)."""
        return self.backbone.get_classifier()

    def region(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` pixel bounds of the region in an input of ``height × width``."""
        top, bottom = (round(f * height) for f in self.rows)
        left, right = (round(f * width) for f in self.columns)
        return top, max(bottom, top + 1), left, max(right, left + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = int(x.shape[-2]), int(x.shape[-1])  # constants in an exported graph: one input size
        top, bottom, left, right = self.region(height, width)
        region = x[:, :, top:bottom, left:right]
        if self.zoom != 1:
            region = F.interpolate(region, scale_factor=self.zoom, mode="bilinear", align_corners=False)
        features = self.backbone.forward_features(region)
        row, col = round(top * self.zoom / self.stride), round(left * self.zoom / self.stride)
        grid = (math.ceil(height * self.zoom / self.stride), math.ceil(width * self.zoom / self.stride))
        placed = self.face_grid(features, (row, col), grid)
        inside = placed[:, :, row : row + features.shape[2], col : col + features.shape[3]]
        return self.backbone.forward_head(inside)


@register_architecture(
    "efficientnet_lite0_lower_face",
    family="efficientnet-lite",
    input="frame",
    native_input_size=224,
    min_input_size=64,
    imagenet_init=True,
    gradcam_layer=operator.attrgetter("face_grid"),
    timm_name="tf_efficientnet_lite0",
)
def efficientnet_lite0_lower_face(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
    """EfficientNet-Lite0 on the lower face only (mouth, jaw, chin), cut from the face crop and magnified 2×.

    The trunk takes ImageNet weights offline, or a whole-face Lite0 detector's (``init_from``). At 224 px it
    reads 112 × 128 px, i.e. 224 × 256 after magnification: about 1.15× the cost of a whole-face Lite0.
    """
    backbone = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=num_outputs,
                                 drop_rate=drop_rate)
    return RegionClassifier(backbone, rows=LOWER_FACE_ROWS, columns=LOWER_FACE_COLUMNS, zoom=2.0)


__all__ = ["LOWER_FACE_COLUMNS", "LOWER_FACE_ROWS", "FaceGrid", "RegionClassifier"]
