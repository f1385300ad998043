"""Every registered method runs on one face and returns an (S, S) map in [0, 1]; names and options are
checked with "did you mean"; importing the room does not import torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import facetrust
import facetrust.explain as fx

ALL_METHODS = ["attention", "feature_maps", "gradcam", "gradcam++", "integrated_gradients", "lime", "saliency",
               "shap"]
SMALL_BUDGETS = {"lime": {"samples": 24, "segments": 12}, "shap": {"evals": 40, "blur": 8},
                 "integrated_gradients": {"steps": 4}}


def test_every_method_of_the_issue_is_registered() -> None:
    assert fx.list_methods() == ALL_METHODS


def test_importing_the_room_and_listing_methods_does_not_import_torch() -> None:
    code = ("import sys, facetrust, facetrust.explain as fx; fx.list_methods(); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_an_unknown_method_suggests_the_close_ones() -> None:
    with pytest.raises(facetrust.UnknownNameError) as info:
        fx.make_explainer("gradcm")
    assert "gradcam" in info.value.close_matches
    assert "Did you mean" in str(info.value)


def test_unknown_and_bad_options_are_config_errors() -> None:
    with pytest.raises(facetrust.UnknownNameError, match="sample"):
        fx.make_explainer("lime", {"sample": 10})
    with pytest.raises(facetrust.ConfigError, match="samples"):
        fx.make_explainer("lime", {"samples": 0})
    with pytest.raises(facetrust.ConfigError, match="faces per person"):
        fx.explain("whatever.jpg", faces_per_person=0)


@pytest.mark.parametrize("method", [m for m in ALL_METHODS if m != "attention"])
def test_each_frame_method_gives_one_map_in_unit_range(method: str, tiny_detector: Path, media_dir: Path) -> None:
    explained = fx.explain(media_dir / "astronaut photo ü.jpg", detector=str(tiny_detector), method=method,
                           options=SMALL_BUDGETS.get(method))
    assert len(explained) == 1
    face = explained[0]
    assert face.method == method and face.member is None  # a single detector explains itself
    assert face.heatmap.shape == (64, 64) and face.heatmap.dtype == np.float32
    assert 0.0 <= face.heatmap.min() and face.heatmap.max() <= 1.0
    assert face.crop.shape == (64, 64, 3) and face.crop.dtype == np.uint8
    if method != "lime":  # a random network may give LIME's superpixels no positive weight
        assert face.heatmap.max() > 0.0, "a map with nothing on it"


def test_attention_reads_the_clip_models_frame_weights(tiny_clip_detector: Path, media_dir: Path) -> None:
    explained = fx.explain(media_dir / "face clip.mp4", detector=str(tiny_clip_detector), method="attention",
                           frames=8, faces_per_person=2)
    assert len(explained) == 2
    for face in explained:
        weights = face.frame_weights
        assert weights is not None and weights.shape == (4,)  # one weight per frame of the 4-frame window
        assert weights.sum() == pytest.approx(1.0, abs=1e-5)
        value = float(face.heatmap[0, 0])
        assert face.heatmap.shape == (64, 64) and np.all(face.heatmap == value)  # a flat map: this frame's share
        assert value == pytest.approx(float(weights.max()) and value, rel=1e-6)
        assert 0.0 < value <= 1.0
        assert any(np.isclose(value, w / weights.max(), rtol=1e-5) for w in weights)


def test_gradcam_of_a_clip_model_maps_the_explained_frame(tiny_clip_detector: Path, media_dir: Path) -> None:
    (face,) = fx.explain(media_dir / "face clip.mp4", detector=str(tiny_clip_detector), method="gradcam",
                         frames=8, faces_per_person=1)
    assert face.heatmap.shape == (64, 64) and 0.0 <= face.heatmap.min() <= face.heatmap.max() <= 1.0
    assert face.frame_weights is None


def test_attention_of_a_frame_model_is_refused(tiny_detector: Path, media_dir: Path) -> None:
    with pytest.raises(facetrust.ConfigError, match="clip model"):
        fx.explain(media_dir / "astronaut photo ü.jpg", detector=str(tiny_detector), method="attention")


def test_hooks_do_not_outlive_an_explanation(tiny_detector: Path, media_dir: Path) -> None:
    from facetrust.explain.target import ExplainTarget
    from facetrust.pipeline import get_detector

    target = ExplainTarget(get_detector(str(tiny_detector), None, "torch"))
    flags = [p.requires_grad for p in target.model.parameters()]
    crop = np.full((64, 64, 3), 120, np.uint8)
    for method in ("gradcam", "gradcam++", "feature_maps", "saliency"):
        fx.make_explainer(method).attribute(target, [crop], 0)
    modules = list(target.model.modules())
    assert not any(m._forward_hooks or m._backward_hooks for m in modules)
    assert [p.requires_grad for p in target.model.parameters()] == flags  # weights' flags restored
