"""The architecture registry, its metadata (ArchitectureInfo) and build_model."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from facetrust.errors import ConfigError, UnknownNameError
from facetrust.models import (
    ARCHITECTURES,
    IMAGENET_NORMALISATION,
    NATIVE_INPUT_SIZES,
    ArchitectureInfo,
    architecture_info,
    build_model,
    list_architectures,
    register_architecture,
)

DOCUMENTED = [
    "cnn_bilstm", "cnn_lstm_attention", "cnn_transformer", "cross_attention", "custom_cnn", "densenet121",
    "efficientnet_b0", "efficientnet_b3", "efficientnet_b4", "efficientnet_lite0", "efficientnet_lite0_diff_lstm",
    "efficientnet_lite0_lower_face", "efficientnet_lite0_lstm", "efficientnet_lite0_patches", "efficientnet_lite1", "efficientnet_lite2", "mesonet4", "resnet50", "resnet50_lstm", "resnext50_32x4d", "resnext50_lstm",
    "swin_tiny", "vgg16", "vit_small", "xception",
]  # fmt: skip
LITE = ["efficientnet_lite0", "efficientnet_lite0_diff_lstm", "efficientnet_lite0_lower_face",
        "efficientnet_lite0_lstm", "efficientnet_lite0_patches", "efficientnet_lite1", "efficientnet_lite2"]
CLIP = [
    "cnn_bilstm",
    "cnn_lstm_attention",
    "cnn_transformer",
    "cross_attention",
    "efficientnet_lite0_diff_lstm",
    "efficientnet_lite0_lstm",
    "resnet50_lstm",
    "resnext50_lstm",
]


def test_registered_architectures_are_the_documented_ones() -> None:
    infos = list_architectures()
    names = [info.name for info in infos]
    assert names == ARCHITECTURES.names() == DOCUMENTED  # sorted, one entry per name
    assert len(set(names)) == len(names)
    # every registered architecture has a native size; the ImageNet-initialisable ones are exactly the Lites (and the Lite0 clip model)
    assert sorted(NATIVE_INPUT_SIZES) == DOCUMENTED
    assert all(NATIVE_INPUT_SIZES[i.name] == i.native_input_size for i in infos)
    assert sorted(i.name for i in infos if i.imagenet_init) == LITE == sorted(IMAGENET_NORMALISATION)
    assert [i.name for i in list_architectures(input="clip")] == CLIP
    assert [i.name for i in list_architectures(input="frame")] == sorted(set(DOCUMENTED) - set(CLIP))


@pytest.mark.parametrize("info", list_architectures(), ids=lambda i: i.name)
def test_metadata_is_complete(info: ArchitectureInfo) -> None:
    assert info is architecture_info(info.name)
    assert info.family and info.description
    assert info.input in ("frame", "clip")
    assert 1 <= info.min_input_size <= 64 and info.min_input_size <= info.native_input_size
    assert info.gradcam_layout in ("NCHW", "NHWC", "NLC")
    assert callable(info.gradcam_layer)


def test_lite_builders_keep_their_timm_models() -> None:
    """Trained detector files depend on these exact networks and state-dict keys."""
    for variant in range(3):
        info = architecture_info(f"efficientnet_lite{variant}")
        assert info.timm_name == f"tf_efficientnet_lite{variant}"
        with torch.device("meta"):
            ours = build_model(info.name).state_dict()
            timms = timm.create_model(info.timm_name, pretrained=False, num_classes=1).state_dict()
        assert [(k, v.shape) for k, v in ours.items()] == [(k, v.shape) for k, v in timms.items()]


def test_unknown_architecture_info_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        architecture_info("resnet5")
    assert "resnet50" in info.value.close_matches
    assert info.value.kind == "architecture"
    assert "Did you mean" in str(info.value) and "'resnet50'" in str(info.value)


def test_register_architecture_refuses_taken_names_and_bad_metadata() -> None:
    def builder(num_outputs: int = 1, drop_rate: float = 0.2) -> nn.Module:
        return nn.Linear(3, num_outputs)

    common = {"family": "toy", "native_input_size": 64, "gradcam_layer": lambda m: m}
    before = ARCHITECTURES.names()
    with pytest.raises(ConfigError, match="already registered"):
        register_architecture("resnet50", input="frame", **common)(builder)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="input"):
        register_architecture("toy_video", input="video", **common)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_input_size"):
        register_architecture("big", input="frame", min_input_size=128, **common)  # type: ignore[arg-type]
    assert ARCHITECTURES.names() == before
    assert architecture_info("resnet50").family == "resnet"


@pytest.mark.parametrize("architecture", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
@pytest.mark.parametrize("num_outputs", [1, 2])
def test_builders_make_finite_heads_of_the_requested_width(architecture: str, num_outputs: int) -> None:
    model = ARCHITECTURES.get(architecture)(num_outputs=num_outputs).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, num_outputs)
    assert torch.isfinite(out).all()


def test_drop_rate_is_applied_in_training_and_not_in_eval() -> None:
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_outputs=4, drop_rate=0.5)
    x = torch.randn(2, 3, 64, 64)
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))  # dropout draws a new mask each call
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_builders_do_not_share_state() -> None:
    a, b = build_model("efficientnet_lite0"), build_model("efficientnet_lite0")
    assert a.conv_stem.weight.data_ptr() != b.conv_stem.weight.data_ptr()


def test_unknown_architecture_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        build_model("efficientnet_lite9")
    assert "efficientnet_lite0" in info.value.close_matches
    assert info.value.kind == "architecture"


@pytest.mark.parametrize("kwargs", [{"num_outputs": 0}, {"num_outputs": 1.5}, {"drop_rate": 1.0}])
def test_bad_head_arguments_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        build_model("efficientnet_lite0", **kwargs)  # type: ignore[arg-type]


def test_the_difference_clip_model_sees_change_not_appearance() -> None:
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0_diff_lstm").eval()
    clip = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        base = model(clip)
        assert torch.allclose(model(clip + 0.7), base, atol=1e-5)  # the same change on another face: same answer
        assert not torch.allclose(model(clip * 1.5), base, atol=1e-3)  # a different change: another answer
        assert model(clip[:, :1]).shape == (2, 1)  # one frame: no change to see, still an answer
