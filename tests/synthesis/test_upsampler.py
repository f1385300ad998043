"""Up-sampling auto-encoders: they learn to rebuild real faces and leave their own up-sampling traces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facetrust.errors import ConfigError
from facetrust.synthesis.upsampler import (
    UPSAMPLING_KINDS,
    UpsamplingAutoEncoder,
    psnr,
    reconstruct,
    train_upsampler,
)
from tests_helpers import astronaut_variants


@pytest.mark.parametrize("kind", UPSAMPLING_KINDS)
def test_every_kind_keeps_the_shape(kind: str) -> None:
    model = UpsamplingAutoEncoder(kind, width=8).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 48))
    assert out.shape == (2, 3, 64, 48) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_training_makes_reconstructions_closer_to_the_originals() -> None:
    images = astronaut_variants(4)
    untrained = UpsamplingAutoEncoder("nearest").eval()
    model, stats = train_upsampler(images, "nearest", steps=60, patch=64, batch_size=4, seed=0)
    rebuilt = reconstruct(model, images)
    before = np.mean([psnr(a, b) for a, b in zip(images, reconstruct(untrained, images), strict=True)])
    after = np.mean([psnr(a, b) for a, b in zip(images, rebuilt, strict=True)])
    assert rebuilt[0].shape == images[0].shape and rebuilt[0].dtype == np.uint8
    assert after > before + 3, (before, after)
    assert stats["steps"] == 60 and stats["l1"] > 0
    assert not np.array_equal(rebuilt[0], images[0])  # a reconstruction, never a copy


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown up-sampling kind 'cubic'"):
        UpsamplingAutoEncoder("cubic")
    with pytest.raises(ConfigError, match="divisible by 8"):
        reconstruct(UpsamplingAutoEncoder("nearest", width=8), [np.zeros((60, 64, 3), np.uint8)])
    with pytest.raises(ConfigError, match="at least 128"):
        train_upsampler([np.zeros((100, 100, 3), np.uint8)], "nearest")
    with pytest.raises(ConfigError, match="needs real images"):
        train_upsampler([], "nearest")
    assert reconstruct(UpsamplingAutoEncoder("nearest", width=8), []) == []


def test_saved_auto_encoders_render_faces_in_any_process(tmp_path) -> None:
    import pickle

    from facetrust.synthesis.upsampler import DecoderRenderer, load_upsamplers, save_upsampler

    for kind in ("nearest", "pixel_shuffle"):
        torch.manual_seed(0)
        save_upsampler(UpsamplingAutoEncoder(kind, width=8).eval(), tmp_path / kind, {"steps": 1})
    models = load_upsamplers(tmp_path)
    assert [m.kind for m in models] == ["nearest", "pixel_shuffle"] and models[0].width == 8
    renderer = pickle.loads(pickle.dumps(DecoderRenderer(tmp_path)))  # as a DataLoader worker gets it
    image = astronaut_variants(1)[0][:61, :70]  # sides not divisible by 8: padded, then cut back
    out = renderer(np.ascontiguousarray(image), np.random.default_rng(0))
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)
    with pytest.raises(ConfigError, match="train_upsamplers"):
        load_upsamplers(tmp_path / "empty")
