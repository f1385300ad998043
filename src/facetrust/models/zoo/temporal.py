"""Clip classifiers: ``(B, T, 3, H, W)`` (T >= 1) → ``(B, num_outputs)`` logits.

Each runs a timm frame encoder (:class:`~facetrust.models.zoo.layers.FrameEncoder`, chosen by name; the
light ``mobilenetv3_small_100`` by default) on every frame, then models time:

- :class:`RecurrentClipClassifier`: pooled frame features → (Bi)LSTM → mean / last state / attention pooling.
- :class:`CnnTransformer`: the feature-map cells of all frames as tokens → Transformer encoder → CLS token.
- :class:`CrossAttentionClassifier`: learned queries cross-attend to the feature-map cells of all frames.

``drop_rate`` is the dropout in front of the linear head (as in timm). A spec file reloads a detector with
the registered defaults only, so a different encoder or width belongs under its own registered name.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from facetrust.errors import ConfigError
from facetrust.models.zoo.base import register_architecture
from facetrust.models.zoo.layers import (
    DEFAULT_ENCODER,
    AttentionPool,
    FrameEncoder,
    sincos_positions,
    split_clip,
)

Pooling = Literal["mean", "last", "attention"]


def _encoder_cam(model: nn.Module) -> nn.Module:
    return model.encoder.feature_map  # per-frame maps, (B*T, C, h, w)


class RecurrentClipClassifier(nn.Module):
    """Frame encoder → global average pool → LSTM over frames → temporal pooling → dropout → linear head.

    ``pooling``: ``"mean"`` of the LSTM outputs, ``"last"`` final hidden state (both directions when
    bidirectional), or ``"attention"`` (:class:`AttentionPool`; ``forward(x, return_attention=True)`` then
    also returns the ``(B, T)`` frame weights, which sum to 1).
    """

    def __init__(
        self,
        num_outputs: int = 1,
        drop_rate: float = 0.2,
        *,
        encoder: str = DEFAULT_ENCODER,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: Pooling = "mean",
        whole_encoder: bool = False,
        differences: bool = False,
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "last", "attention"):
            raise ConfigError(f"pooling must be 'mean', 'last' or 'attention', got {pooling!r}")
        self.differences = differences  # encode x[t] - x[t-1] (T - 1 steps): change, not appearance
        self.encoder = FrameEncoder(encoder, whole=whole_encoder)
        self.rnn = nn.LSTM(
            self.encoder.num_features,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=drop_rate if num_layers > 1 else 0.0,
        )
        self.directions = 2 if bidirectional else 1
        self.num_features = hidden_size * self.directions
        self.pooling = pooling
        self.attention = AttentionPool(self.num_features) if pooling == "attention" else None
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_outputs)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, num_outputs)``; with ``return_attention`` (attention pooling only) also ``(B, T)``."""
        if return_attention and self.attention is None:
            raise ConfigError(
                f"return_attention needs pooling='attention', this model pools by {self.pooling!r}"
            )
        if self.differences:
            split_clip(x)  # the shape check
            x = x[:, 1:] - x[:, :-1] if x.shape[1] > 1 else torch.zeros_like(x)
        frames, batch, length = split_clip(x)
        features = self.encoder(frames).mean(dim=(2, 3)).view(batch, length, -1)
        seq, (h_n, _) = self.rnn(features)
        weights = None
        if self.attention is not None:
            pooled, weights = self.attention(seq)
        elif self.pooling == "last":
            pooled = h_n[-self.directions :].transpose(0, 1).reshape(batch, -1)
        else:
            pooled = seq.mean(dim=1)
        logits = self.head(self.drop(pooled))
        return (logits, weights) if return_attention and weights is not None else logits


class _TokenClassifier(nn.Module):
    """Shared part of the token models: frame encoder → 1×1 projection to ``dim`` + sin-cos positions."""

    def __init__(self, num_outputs: int, drop_rate: float, encoder: str, dim: int) -> None:
        super().__init__()
        self.encoder = FrameEncoder(encoder)
        self.dim = dim
        self.proj = nn.Linear(self.encoder.num_features, dim)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(dim, num_outputs)
        self.num_features = dim

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """``(B, T, 3, H, W)`` → tokens ``(B, T*h*w, dim)`` (time-major) and ``(T, h, w)``."""
        frames, batch, length = split_clip(x)
        maps = self.encoder(frames)
        _, _, height, width = maps.shape
        tokens = self.proj(maps.flatten(2).transpose(1, 2)).reshape(batch, length * height * width, self.dim)
        positions = sincos_positions(length, height, width, self.dim, tokens.device).to(tokens.dtype)
        return tokens + positions, (length, height, width)


class CnnTransformer(_TokenClassifier):
    """Feature-map cells of every frame as tokens → pre-norm Transformer encoder with a CLS token → head.

    Positions are fixed sin-cos encodings of (frame, row, column), so clips of any length and size work.
    """

    def __init__(
        self,
        num_outputs: int = 1,
        drop_rate: float = 0.2,
        *,
        encoder: str = DEFAULT_ENCODER,
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__(num_outputs, drop_rate, encoder, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim,
            heads,
            int(dim * mlp_ratio),
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, _ = self.tokens(x)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        cls = self.norm(self.transformer(tokens)[:, 0])
        return self.head(self.drop(cls))


class CrossAttentionClassifier(_TokenClassifier):
    """``num_queries`` learned queries cross-attend to the feature-map cells of all frames (a Perceiver-style
    read-out: multi-head cross-attention + MLP, both residual, pre-norm), then the mean query → head.

    ``forward(x, return_attention=True)`` also returns where the queries looked: ``(B, T, h, w)`` weights
    (averaged over queries and heads) that sum to 1 over each clip.
    """

    def __init__(
        self,
        num_outputs: int = 1,
        drop_rate: float = 0.2,
        *,
        encoder: str = DEFAULT_ENCODER,
        dim: int = 128,
        heads: int = 4,
        num_queries: int = 4,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__(num_outputs, drop_rate, encoder, dim)
        self.queries = nn.Parameter(torch.zeros(1, num_queries, dim))
        nn.init.trunc_normal_(self.queries, std=0.02)
        self.query_norm = nn.LayerNorm(dim)
        self.token_norm = nn.LayerNorm(dim)
        self.cross_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp_norm = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, num_outputs)``; with ``return_attention`` also the ``(B, T, h, w)`` attention map."""
        tokens, (length, height, width) = self.tokens(x)
        keys = self.token_norm(tokens)
        queries = self.queries.expand(tokens.shape[0], -1, -1)
        read, weights = self.cross_attention(
            self.query_norm(queries), keys, keys, need_weights=return_attention, average_attn_weights=True
        )
        queries = queries + read
        queries = queries + self.mlp(self.mlp_norm(queries))
        logits = self.head(self.drop(self.norm(queries.mean(dim=1))))
        if return_attention and weights is not None:
            return logits, weights.mean(dim=1).view(-1, length, height, width)
        return logits


@register_architecture(
    "cnn_bilstm",
    family="cnn-rnn",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    timm_name=DEFAULT_ENCODER,
)
def cnn_bilstm(
    num_outputs: int = 1, drop_rate: float = 0.2, *, encoder: str = DEFAULT_ENCODER, hidden_size: int = 128
) -> nn.Module:
    """Frame CNN (timm, MobileNetV3-S by default) → BiLSTM over frames → both final states → head."""
    return RecurrentClipClassifier(
        num_outputs, drop_rate, encoder=encoder, hidden_size=hidden_size, bidirectional=True, pooling="last"
    )


@register_architecture(
    "cnn_lstm_attention",
    family="cnn-rnn",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    timm_name=DEFAULT_ENCODER,
)
def cnn_lstm_attention(
    num_outputs: int = 1, drop_rate: float = 0.2, *, encoder: str = DEFAULT_ENCODER, hidden_size: int = 128
) -> nn.Module:
    """Frame CNN → LSTM → attention pooling over frames; ``forward(x, return_attention=True)`` adds them."""
    return RecurrentClipClassifier(
        num_outputs,
        drop_rate,
        encoder=encoder,
        hidden_size=hidden_size,
        bidirectional=False,
        pooling="attention",
    )


@register_architecture(
    "efficientnet_lite0_lstm",
    family="cnn-rnn",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    imagenet_init=True,
    timm_name="tf_efficientnet_lite0",
)
def efficientnet_lite0_lstm(
    num_outputs: int = 1, drop_rate: float = 0.2, *, hidden_size: int = 128
) -> nn.Module:
    """EfficientNet-Lite0 per frame (ImageNet, offline) → LSTM → attention pooling over frames → head."""
    return _lite0_lstm(num_outputs, drop_rate, hidden_size, differences=False)


@register_architecture(
    "efficientnet_lite0_diff_lstm",
    family="cnn-rnn",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    imagenet_init=True,
    timm_name="tf_efficientnet_lite0",
)
def efficientnet_lite0_diff_lstm(
    num_outputs: int = 1, drop_rate: float = 0.2, *, hidden_size: int = 128
) -> nn.Module:
    """EfficientNet-Lite0 (ImageNet, offline) on the differences of consecutive frames → LSTM → attention:
    sees how a face changes, not what it looks like (T frames give T - 1 steps, and T - 1 Grad-CAM maps per
    clip, one per difference; one frame gives a single step of zeros)."""
    return _lite0_lstm(num_outputs, drop_rate, hidden_size, differences=True)


def _lite0_lstm(num_outputs: int, drop_rate: float, hidden_size: int, *, differences: bool) -> nn.Module:
    """The Lite0 clip models: the whole ImageNet-initialisable Lite0 trunk per step, one LSTM, attention."""
    return RecurrentClipClassifier(num_outputs, drop_rate, hidden_size=hidden_size, bidirectional=False,
                                   pooling="attention", encoder="tf_efficientnet_lite0", whole_encoder=True,
                                   differences=differences)


@register_architecture(
    "resnet50_lstm",
    family="cnn-rnn",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    timm_name="resnet50",
)
def resnet50_lstm(
    num_outputs: int = 1, drop_rate: float = 0.2, *, hidden_size: int = 512, bidirectional: bool = False
) -> nn.Module:
    """ResNet-50 per frame → LSTM (BiLSTM with ``bidirectional=True``) → mean over frames → head."""
    return RecurrentClipClassifier(
        num_outputs, drop_rate, encoder="resnet50", hidden_size=hidden_size, bidirectional=bidirectional
    )


@register_architecture(
    "resnext50_lstm",
    family="cnn-rnn",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    timm_name="resnext50_32x4d",
)
def resnext50_lstm(
    num_outputs: int = 1, drop_rate: float = 0.2, *, hidden_size: int = 512, bidirectional: bool = False
) -> nn.Module:
    """ResNeXt-50 32×4d per frame → LSTM (BiLSTM with ``bidirectional=True``) → mean over frames → head."""
    return RecurrentClipClassifier(
        num_outputs,
        drop_rate,
        encoder="resnext50_32x4d",
        hidden_size=hidden_size,
        bidirectional=bidirectional,
    )


@register_architecture(
    "cnn_transformer",
    family="cnn-transformer",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    timm_name=DEFAULT_ENCODER,
)
def cnn_transformer(
    num_outputs: int = 1, drop_rate: float = 0.2, *, encoder: str = DEFAULT_ENCODER
) -> nn.Module:
    """Frame CNN feature-map tokens of all frames → 2-layer Transformer encoder (128 wide) → CLS head."""
    return CnnTransformer(num_outputs, drop_rate, encoder=encoder)


@register_architecture(
    "cross_attention",
    family="cross-attention",
    input="clip",
    native_input_size=224,
    gradcam_layer=_encoder_cam,
    timm_name=DEFAULT_ENCODER,
)
def cross_attention(
    num_outputs: int = 1, drop_rate: float = 0.2, *, encoder: str = DEFAULT_ENCODER
) -> nn.Module:
    """4 learned queries cross-attend to the frame-CNN feature-map cells of all frames → mean → head."""
    return CrossAttentionClassifier(num_outputs, drop_rate, encoder=encoder)
