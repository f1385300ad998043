"""Blocks shared by the clip models: a timm frame encoder, sin-cos token positions, attention pooling."""

from __future__ import annotations

import difflib
import logging
import math
from typing import Any

import timm
import torch
from torch import nn

from facetrust.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "mobilenetv3_small_100"
"""The light default frame encoder of the clip models (timm name; 0.93 M parameters, 576 channels)."""


class FrameEncoder(nn.Module):
    """A timm backbone cut after its last feature map (``features_only``): ``(N, 3, H, W)`` → ``(N, C, h, w)``
    (channels first, whatever the backbone's own layout). ``whole=True`` keeps the classifier's trunk instead
    (``forward_features``: for an EfficientNet, the blocks plus its 1×1 head conv), so ImageNet weights of the
    frame classifier load into it as they are.

    ``feature_map`` is an identity module on that output: the Grad-CAM target of every clip model. Any timm
    model with ``features_only`` support works (CNNs directly; pass ``dynamic_img_size=True`` for ViT/Swin).
    Unknown or unsupported name → :class:`ConfigError`.
    """

    def __init__(self, name: str = DEFAULT_ENCODER, *, whole: bool = False, **timm_kwargs: Any) -> None:
        super().__init__()
        if not timm.is_model(name):
            close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(f"no timm model named {name!r} for the frame encoder.{hint}")
        self.whole = whole
        try:
            if whole:  # the classifier's own trunk, up to its last conv (an EfficientNet's 1280-channel head)
                self.backbone = timm.create_model(name, pretrained=False, num_classes=0, global_pool="",
                                                  **timm_kwargs)
            else:
                self.backbone = timm.create_model(
                    name, pretrained=False, features_only=True, out_indices=(-1,), **timm_kwargs
                )
        except (RuntimeError, ValueError, TypeError, AssertionError) as exc:
            raise ConfigError(
                f"timm model {name!r} cannot be a frame encoder (features_only): {exc}"
            ) from exc
        self.name = name
        self.num_features: int = (self.backbone.num_features if whole
                                  else self.backbone.feature_info.channels()[-1])
        fmt = getattr(self.backbone, "output_fmt", "NCHW")
        self.channels_last = str(getattr(fmt, "value", fmt)) == "NHWC"
        self.feature_map = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.backbone.forward_features(x) if self.whole else self.backbone(x)[-1]
        if self.channels_last:
            maps = maps.permute(0, 3, 1, 2)
        return self.feature_map(maps)


def split_clip(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """``(B, T, 3, H, W)`` → ``(B*T, 3, H, W)``, B, T; any other shape → :class:`InputError`."""
    if x.dim() != 5 or x.shape[2] != 3 or x.shape[1] < 1:
        raise InputError(
            f"a clip model takes a (B, T, 3, H, W) batch with T >= 1, got shape {tuple(x.shape)}"
        )
    batch, frames = x.shape[:2]
    return x.flatten(0, 1), batch, frames


def _sincos(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(n,) positions → (n, dim) [sin | cos] features at geometric frequencies (dim even)."""
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(dim // 2, device=positions.device, dtype=torch.float32) / (dim // 2)
    )
    angles = positions.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_positions(frames: int, height: int, width: int, dim: int, device: torch.device) -> torch.Tensor:
    """Fixed (time, row, column) encodings for ``frames×height×width`` tokens in that order: ``(T*h*w, dim)``.

    A quarter of the channels encode time, the rest rows and columns; nothing is learned, so any clip length
    and feature-map size work. ``dim`` must be a multiple of 4.
    """
    if dim % 4:
        raise ConfigError(f"the token width must be a multiple of 4, got {dim}")
    dim_t = 2 * (dim // 8) or 2
    dim_y = 2 * ((dim - dim_t) // 4)
    dim_x = dim - dim_t - dim_y
    t, y, x = torch.meshgrid(
        torch.arange(frames, device=device),
        torch.arange(height, device=device),
        torch.arange(width, device=device),
        indexing="ij",
    )
    return torch.cat(
        [_sincos(t.flatten(), dim_t), _sincos(y.flatten(), dim_y), _sincos(x.flatten(), dim_x)], dim=1
    )


class AttentionPool(nn.Module):
    """Additive attention over a sequence: ``w = softmax_t(v · tanh(W h_t))``, output ``Σ_t w_t h_t``.

    ``(B, T, D)`` → pooled ``(B, D)`` and weights ``(B, T)`` that sum to 1 over T.
    """

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.score(torch.tanh(self.proj(seq))).squeeze(-1).softmax(dim=1)
        return torch.einsum("bt,btd->bd", weights, seq), weights


__all__ = ["DEFAULT_ENCODER", "AttentionPool", "FrameEncoder", "sincos_positions", "split_clip"]
