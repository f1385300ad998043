"""Gradient attributions (``captum``): saliency and integrated gradients of the fake logit, per input pixel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from facetrust.errors import DependencyError
from facetrust.explain.base import EXPLAINERS, Attribution, Explainer, by_percentile

if TYPE_CHECKING:
    from facetrust.explain.target import ExplainTarget


def _captum(name: str) -> Any:
    try:
        from captum import attr
    except ImportError as exc:  # pragma: no cover - the explain extra is missing
        raise DependencyError(f"{name} needs captum: pip install 'facetrust[explain]'") from exc
    return getattr(attr, name)


def _pixel_map(target: ExplainTarget, attributions: Any, position: int) -> np.ndarray:
    """``(1, 3, S, S)`` or ``(1, T, 3, S, S)`` attributions → the explained face's ``(3, S, S)`` array."""
    values = attributions.detach().float().cpu().numpy()[0]
    return target.frame_of(values, position) if target.clip_length is not None else values


@EXPLAINERS.register("saliency")
class SaliencyMap(Explainer):
    """Saliency (Simonyan et al., 2014): the largest absolute gradient of the fake logit over the three colour
    channels of each pixel, divided by its 99th percentile and clipped to [0, 1]."""

    name = "saliency"

    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        x = target.inputs(window).requires_grad_(True)
        with target.gradients_to(cut_at_cam_layer=False):
            grads = _captum("Saliency")(target.fake_logit).attribute(x, target=0, abs=True)
        return Attribution(by_percentile(_pixel_map(target, grads, position).max(axis=0)))


@EXPLAINERS.register("integrated_gradients")
class IntegratedGradientsMap(Explainer):
    """Integrated gradients (Sundararajan et al., 2017) from a flat image of the normalisation mean (grey for
    the bundled detectors) to the face, ``steps`` steps: per pixel, the part of the fake logit's rise it
    accounts for, summed over colours; the positive part, divided by its 99th percentile, clipped to [0, 1]."""

    name = "integrated_gradients"
    defaults = {"steps": 32}

    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        import torch

        x = target.inputs(window).requires_grad_(True)
        with target.gradients_to(cut_at_cam_layer=False):
            values = _captum("IntegratedGradients")(target.fake_logit).attribute(
                x, baselines=torch.zeros_like(x), target=0, n_steps=self.options["steps"], internal_batch_size=8)
        return Attribution(by_percentile(_pixel_map(target, values, position).sum(axis=0)))


__all__ = ["IntegratedGradientsMap", "SaliencyMap"]
