"""Perturbation explanations, opt-in because they run the model hundreds of times per face: LIME (``lime``)
and SHAP (``shap``'s partition explainer with a blurring image masker). Both query the fake logit."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from facetrust.errors import DependencyError
from facetrust.explain.base import EXPLAINERS, Attribution, Explainer, by_percentile

if TYPE_CHECKING:
    from facetrust.explain.target import ExplainTarget


def _require(module: str, method: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(f"method {method!r} needs the {module.split('.')[0]} package: "
                              "pip install 'facetrust[explain]'") from exc


@EXPLAINERS.register("lime")
class LimeMap(Explainer):
    """LIME (Ribeiro et al., 2016): the crop is cut into ``segments`` SLIC superpixels; ``samples`` copies
    with random superpixels greyed out (their mean colour) are scored, and a weighted linear model of the fake
    logit on the superpixels gives each one a weight. The map is the positive weights, scaled to [0, 1]."""

    name = "lime"
    defaults = {"samples": 300, "segments": 40, "seed": 0}
    slow = True

    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        lime_image = _require("lime.lime_image", self.name)
        from skimage.segmentation import slic

        crop = target.crop(window, position)

        def classify(images: np.ndarray) -> np.ndarray:
            logits = target.logits_with(images, window, position)
            return np.stack([-logits, logits], axis=1)  # column 1: the fake logit

        explainer = lime_image.LimeImageExplainer(random_state=self.options["seed"])
        with contextlib.redirect_stderr(io.StringIO()):  # lime 0.2 draws a tqdm bar it cannot turn off
            explanation = explainer.explain_instance(
                crop, classify, labels=(1,), top_labels=None, hide_color=None,
                num_samples=self.options["samples"], batch_size=16, random_seed=self.options["seed"],
                segmentation_fn=lambda image: slic(image, n_segments=self.options["segments"], compactness=10,
                                                   start_label=0),
            )
        weights = dict(explanation.local_exp[1])
        heat = np.zeros(crop.shape[:2], np.float32)
        for segment, weight in weights.items():
            heat[explanation.segments == segment] = max(weight, 0.0)
        return Attribution(by_percentile(heat, 100.0))


@EXPLAINERS.register("shap")
class ShapMap(Explainer):
    """SHAP, partition explainer (Lundberg & Lee, 2017; ``shap.PartitionExplainer``): Owen values of the fake
    logit over a hierarchy of image blocks, hidden by blurring, within ``evals`` model calls. The map is the
    positive values summed over colours, divided by their 99th percentile and clipped to [0, 1]."""

    name = "shap"
    defaults = {"evals": 300, "blur": 32}
    slow = True

    def attribute(self, target: ExplainTarget, window: Sequence[np.ndarray], position: int) -> Attribution:
        shap = _require("shap", self.name)
        crop = target.crop(window, position)
        blur = self.options["blur"]
        masker = shap.maskers.Image(f"blur({blur},{blur})", crop.shape)
        explainer = shap.Explainer(lambda images: target.logits_with(images, window, position), masker,
                                   algorithm="partition")
        values = explainer(crop[None].astype(np.float32), max_evals=self.options["evals"], batch_size=16,
                           silent=True).values
        values = np.asarray(values)[0].reshape(crop.shape[0], crop.shape[1], -1).sum(axis=-1)
        return Attribution(by_percentile(values))


__all__ = ["LimeMap", "ShapMap"]
