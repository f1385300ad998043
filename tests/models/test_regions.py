"""Region models: the lower-face Lite0 reads only its region of the face crop, takes a whole-face Lite0's
weights in its trunk, and its explanations land on the face crop, inside the region."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facetrust.models import build_model, create_detector, save_detector
from facetrust.models.zoo.regions import LOWER_FACE_COLUMNS, LOWER_FACE_ROWS, RegionClassifier
from facetrust.types import CropSpec, DetectorSpec

ARCH = "efficientnet_lite0_lower_face"


def test_only_the_lower_face_region_moves_the_logit() -> None:
    torch.manual_seed(0)
    model = build_model(ARCH).eval()
    assert isinstance(model, RegionClassifier)
    top, bottom, left, right = model.region(224, 224)
    assert (top, bottom, left, right) == (112, 224, 48, 176)
    assert (top / 224, bottom / 224) == LOWER_FACE_ROWS and (left / 224, right / 224) == LOWER_FACE_COLUMNS
    x = torch.randn(1, 3, 224, 224)
    outside, inside = x.clone(), x.clone()
    outside[:, :, :top] = torch.randn(1, 3, top, 224)  # the eyes and forehead change
    outside[:, :, top:, :left] = 0.0  # and the far cheek
    inside[:, :, 150:190, 90:130] += 1.0  # the mouth changes
    with torch.no_grad():
        base, above, mouth = model(x), model(outside), model(inside)
    assert torch.equal(base, above)
    assert not torch.allclose(base, mouth)


def test_the_grad_cam_layer_lays_the_region_on_the_whole_crop_grid() -> None:
    model = build_model(ARCH).eval()
    maps: list[torch.Tensor] = []
    model.face_grid.register_forward_hook(lambda _m, _i, out: maps.append(out))
    with torch.no_grad():
        model(torch.randn(2, 3, 224, 224))
    grid = maps[0]
    assert grid.shape == (2, 1280, 14, 14)  # a 448-px crop's grid at stride 32
    assert grid[:, :, :7].abs().sum() == 0 and grid[:, :, :, :3].abs().sum() == 0 and grid[:, :, :, 11:].abs().sum() == 0
    assert grid[:, :, 7:, 3:11].abs().sum() > 0


def test_imagenet_weights_land_in_the_trunk() -> None:
    region = build_model(ARCH, imagenet=True)
    whole = build_model("efficientnet_lite0", imagenet=True)
    trunk = region.backbone.state_dict()
    assert all(torch.equal(trunk[k], v) for k, v in whole.state_dict().items() if not k.startswith("classifier"))


@pytest.fixture(scope="module")
def lower_face_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lower-face model with the shipped blend member's weights in its trunk, saved as a detector."""
    model = build_model(ARCH)
    model.backbone.load_state_dict(create_detector("sbi_families_lite0", device="cpu").model.state_dict())
    spec = DetectorSpec(name="lower_face_test", architecture=ARCH, input_size=224, crop=CropSpec(size=224, margin=1.3),
                        threshold=0.5, uncertain_band=(0.5, 0.5))
    directory = tmp_path_factory.mktemp("lower_face")
    save_detector(model, spec, directory)
    return directory / "lower_face_test.json"


@pytest.mark.parametrize("method", ["gradcam", "feature_maps"])
def test_explanations_land_on_the_face_crop_below_the_nose(method: str, lower_face_detector: Path,
                                                           media_dir: Path) -> None:
    import facetrust.explain as fx

    face = fx.explain(media_dir / "astronaut photo ü.jpg", detector=str(lower_face_detector), method=method,
                      runtime="torch")[0]
    assert face.heatmap.shape == (224, 224) and face.heatmap.max() > 0
    rows = face.heatmap.sum(axis=1)
    assert rows[: int(0.4 * 224)].sum() == 0  # nothing on the eyes or the forehead: the model never saw them
    assert rows[112:].sum() > 0.9 * rows.sum()
    assert np.isfinite(face.heatmap).all()


def test_the_onnx_export_scores_like_torch_at_any_batch_size(lower_face_detector: Path, tmp_path: Path) -> None:
    from facetrust.engine import export_onnx
    from facetrust.pipeline import get_detector

    graph = export_onnx(str(lower_face_detector), out_dir=tmp_path)[0]
    assert graph.max_logit_difference < 1e-3
    (tmp_path / "lower_face_test.json").write_bytes(lower_face_detector.read_bytes())
    (tmp_path / "lower_face_test.safetensors").write_bytes(lower_face_detector.with_suffix(".safetensors").read_bytes())
    crops = list(np.random.default_rng(0).integers(0, 256, (5, 224, 224, 3), dtype=np.uint8))
    onnx = get_detector(str(tmp_path / "lower_face_test.json"), None, "onnx")
    torch_ = get_detector(str(lower_face_detector), None, "torch")
    assert np.allclose(onnx.predict_proba(crops, batch_size=2), torch_.predict_proba(crops), atol=1e-4)
