"""A torch detector made ready to explain: its fake logit as one output, its own preprocessing, its Grad-CAM
layer (from the model zoo's metadata) and the reshape that turns that layer's output into feature maps."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from facetrust.errors import ConfigError
from facetrust.models.zoo import architecture_info
from facetrust.scoring.crops import logits_to_probabilities, resize_crop
from facetrust.scoring.runner import ClipScoreRunner, ScoreRunner


class FakeLogit(nn.Module):
    """``model`` with its output reduced to the fake logit, ``(B, 1)``, exactly as the detector reads it."""

    def __init__(self, runner: ScoreRunner) -> None:
        super().__init__()
        self.model = runner.model
        self._runner = runner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._runner._fake_logit(self.model(x))[:, None]  # the scorer's own output rule


class _ClipAsFrames(nn.Module):
    """A clip model seen as a frame model: ``(T, 3, S, S)`` frames in, the clip's ``(1, 1)`` fake logit out.
    The grad-cam package reads 5-D inputs as volumes; its per-frame maps come out right this way."""

    def __init__(self, fake_logit: FakeLogit) -> None:
        super().__init__()
        self.fake_logit = fake_logit

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.fake_logit(frames[None])


def tokens_to_maps(layout: str, prefix_tokens: int = 0) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The reshape of a Grad-CAM layer's output to ``(N, C, h, w)``: None for NCHW feature maps; a permute for
    NHWC (Swin); for NLC tokens (ViT) the ``prefix_tokens`` class tokens dropped and the rest laid on a
    square grid, row by row."""
    if layout == "NCHW":
        return None
    if layout == "NHWC":
        return lambda x: x.permute(0, 3, 1, 2)

    def grid(x: torch.Tensor) -> torch.Tensor:
        x = x[:, prefix_tokens:]
        side = int(round(x.shape[1] ** 0.5))
        if side * side != x.shape[1]:
            raise ConfigError(f"cannot lay {x.shape[1]} tokens on a square grid")
        return x.reshape(x.shape[0], side, side, x.shape[2]).permute(0, 3, 1, 2)

    return grid


class ExplainTarget:
    """One torch :class:`~facetrust.models.Detector` (a frame or a clip model), ready for the methods."""

    def __init__(self, detector: Any) -> None:
        spec = detector.spec
        if not isinstance(getattr(detector, "model", None), nn.Module):
            raise ConfigError(f"detector {spec.name!r} has no PyTorch model to explain (load it with runtime='torch')")
        self.spec = spec
        self.name: str = spec.name
        self.size: int = spec.input_size
        self.clip_length: int | None = spec.clip_length
        runner = ScoreRunner if spec.clip_length is None else ClipScoreRunner
        self.runner = runner(detector.model, spec, detector.device, amp=False)
        self.model: nn.Module = self.runner.model
        self.fake_logit = FakeLogit(self.runner).eval()
        # what the grad-cam package is given: 4-D inputs only (a clip's frames as a batch of T)
        self.cam_model: nn.Module = self.fake_logit if spec.clip_length is None else _ClipAsFrames(self.fake_logit)
        self.info = architecture_info(spec.architecture)
        prefix = int(getattr(self.model, "num_prefix_tokens", 1) or 0)
        self.reshape = tokens_to_maps(self.info.gradcam_layout, prefix)

    @property
    def cam_layer(self) -> nn.Module:
        """The module whose output Grad-CAM and feature maps read (the zoo's ``gradcam_layer``)."""
        return self.info.gradcam_layer(self.model)

    def inputs(self, window: Sequence[np.ndarray]) -> torch.Tensor:
        """The model's input for ``window``, preprocessed by the detector's own runner: ``(1, 3, S, S)`` for a
        frame model (one crop), ``(1, T, 3, S, S)`` for a clip model (T crops)."""
        resized = [resize_crop(np.ascontiguousarray(c), self.size) for c in window]
        if self.clip_length is None:
            if len(resized) != 1:
                raise ConfigError(f"a frame model reads one crop, got a window of {len(resized)}")
            return self.runner.preprocess(resized).detach().clone()
        return self.runner.preprocess_windows(np.stack(resized)[None]).detach().clone()

    def cam_inputs(self, window: Sequence[np.ndarray]) -> torch.Tensor:
        """:meth:`inputs` shaped for :attr:`cam_model`: ``(1, 3, S, S)``, or a clip's ``(T, 3, S, S)`` frames."""
        x = self.inputs(window)
        return x if self.clip_length is None else x[0]

    def crop(self, window: Sequence[np.ndarray], position: int) -> np.ndarray:
        """The explained face as the model sees it: ``window[position]`` resized to ``S × S``."""
        return resize_crop(np.ascontiguousarray(window[position]), self.size)

    @contextlib.contextmanager
    def gradients_to(self, *, cut_at_cam_layer: bool) -> Iterator[None]:
        """Gradients on, weights frozen (no weight gradient is computed), restored afterwards. With
        ``cut_at_cam_layer`` the graph starts at the Grad-CAM layer's output (a forward hook hands on a
        detached copy that requires grad), so backward runs through the head only: Grad-CAM needs no more."""
        flags = [(p, p.requires_grad) for p in self.model.parameters()]
        handle = None
        if cut_at_cam_layer:
            handle = self.cam_layer.register_forward_hook(
                lambda _m, _i, output: output.detach().requires_grad_(True))
        try:
            for parameter, _ in flags:
                parameter.requires_grad_(False)
            with torch.enable_grad():
                yield
        finally:
            if handle is not None:
                handle.remove()
            for parameter, flag in flags:
                parameter.requires_grad_(flag)

    def feature_maps(self, activation: torch.Tensor) -> torch.Tensor:
        """The Grad-CAM layer's output as ``(N, C, h, w)``."""
        return activation if self.reshape is None else self.reshape(activation)

    def frame_of(self, maps: torch.Tensor | np.ndarray, position: int) -> Any:
        """The per-frame map of the explained face: index ``position`` for clip models (one map per frame of
        the window), the only one for frame models."""
        return maps[position if self.clip_length is not None else 0]

    def logits_with(self, images: np.ndarray, window: Sequence[np.ndarray], position: int,
                    batch_size: int = 16) -> np.ndarray:
        """Fake logits ``(N,)`` when the explained face is replaced by each of ``images`` (``(N, S, S, 3)``),
        the rest of the window unchanged: what the perturbation methods (LIME, SHAP) query."""
        images = np.clip(np.rint(np.asarray(images, dtype=np.float64)), 0, 255).astype(np.uint8)
        if self.clip_length is None:
            return self.runner.logits(list(images), batch_size=batch_size).astype(np.float64)
        base = np.stack([resize_crop(np.ascontiguousarray(c), self.size) for c in window])
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), max(1, batch_size // len(base))):
                chunk = images[start : start + max(1, batch_size // len(base))]
                windows = np.repeat(base[None], len(chunk), axis=0)
                windows[:, position] = chunk
                out.append(self.runner._fake_logit(self.model(self.runner.preprocess_windows(windows))).cpu())
        return torch.cat(out).numpy().astype(np.float64)

    def probability(self, window: Sequence[np.ndarray], position: int) -> float:
        """This model's calibrated fake probability of ``window[position]`` (clip models: of the window)."""
        logit = self.logits_with(self.crop(window, position)[None], window, position)
        return float(logits_to_probabilities(logit, self.spec.temperature)[0])


__all__ = ["ExplainTarget", "FakeLogit", "tokens_to_maps"]
