"""The architecture registry and build_model."""

from __future__ import annotations

import pytest
import torch

from facetrust.errors import ConfigError, UnknownNameError
from facetrust.models import ARCHITECTURES, IMAGENET_NORMALISATION, NATIVE_INPUT_SIZES, build_model


def test_registered_architectures_are_the_documented_ones() -> None:
    expected = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert ARCHITECTURES.names() == expected
    # every registered architecture has a native size and an ImageNet normalisation (registered == present)
    assert sorted(NATIVE_INPUT_SIZES) == expected
    assert sorted(IMAGENET_NORMALISATION) == expected


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
