"""Attention of the clip models: where in time (CNN-LSTM with attention pooling) or in time and space
(cross-attention) the model looked. Read from the model's own ``forward(x, return_attention=True)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from facetrust.errors import ConfigError
from facetrust.explain.base import EXPLAINERS, Attribution, Explainer

if TYPE_CHECKING:
    from facetrust.explain.target import ExplainTarget


@EXPLAINERS.register("attention")
class FrameAttention(Explainer):
    """The attention weights of a clip model over the window of T frames around the face.

    - CNN-LSTM with attention pooling (``cnn_lstm_attention``, ``efficientnet_lite0_lstm``, ...): one weight
      per frame (they sum to 1). The heatmap is flat: this frame's weight divided by the largest weight of
      the window (1 = the frame the model relied on most); ``frame_weights`` holds all T weights. For the
      frame-difference model each step is a pair of frames, and a frame gets the mean of its steps.
    - cross-attention: a ``(h, w)`` map per frame, upsampled, divided by the window's largest cell.

    Frame models have no attention over frames: :class:`ConfigError`."""

    name = "attention"

    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        import torch
        import torch.nn.functional as F  # noqa: N812

        from facetrust.models.zoo.temporal import CrossAttentionClassifier, RecurrentClipClassifier

        model = target.model
        spatial = isinstance(model, CrossAttentionClassifier)
        if target.clip_length is None or not (spatial or (isinstance(model, RecurrentClipClassifier)
                                                          and model.attention is not None)):
            raise ConfigError(
                f"method 'attention' reads the frame attention of a clip model (cnn_lstm_attention, "
                f"efficientnet_lite0_lstm, cross_attention, ...); {target.name!r} "
                f"({target.spec.architecture}) has none: use gradcam")
        with torch.inference_mode():
            _, weights = model(target.inputs(window), return_attention=True)
        weights = weights.float().cpu()[0]
        if spatial:  # (T, h, w)
            maps = F.interpolate(weights[:, None], size=(target.size, target.size), mode="bilinear",
                                 align_corners=False)[:, 0]
            peak = float(maps.max()) or 1.0
            per_frame = weights.sum(dim=(1, 2)).numpy()
            return Attribution(np.clip(maps[position].numpy() / peak, 0, 1).astype(np.float32), per_frame)
        steps = weights.numpy()  # (T,) or (T - 1,) for frame differences
        if model.differences and len(window) > 1:
            touching = [steps[i] for i in (position - 1, position) if 0 <= i < len(steps)]
            per_frame = np.array([np.mean([steps[i] for i in (t - 1, t) if 0 <= i < len(steps)])
                                  for t in range(len(window))], np.float32)
            value = float(np.mean(touching)) / float(per_frame.max())
            per_frame = per_frame / per_frame.sum()
        else:
            per_frame = steps.astype(np.float32)
            value = float(per_frame[position]) / float(per_frame.max())
        return Attribution(np.full((target.size, target.size), np.clip(value, 0.0, 1.0), np.float32), per_frame)


__all__ = ["FrameAttention"]
