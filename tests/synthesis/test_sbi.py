import numpy as np
import pytest

from facetrust.synthesis import SbiConfig, degrade, face_hull_mask, h264_roundtrip, jpeg_roundtrip, self_blend

LANDMARKS = np.array([[100, 110], [156, 110], [128, 140], [106, 170], [150, 170]], np.float32)


@pytest.fixture
def face_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(60, 200, size=(256, 256, 3), dtype=np.uint8)
    return np.ascontiguousarray(base)


def test_mask_covers_the_inner_face_and_not_the_corners() -> None:
    rng = np.random.default_rng(1)
    for _ in range(10):
        mask = face_hull_mask((256, 256), LANDMARKS, rng)
        assert mask.dtype == np.float32 and mask.shape == (256, 256)
        assert 0.0 <= mask.min() and mask.max() <= 1.0
        assert mask[140, 128] > 0.5  # the nose
        assert mask[:20, :20].max() == 0 and mask[-20:, -20:].max() == 0


def test_real_and_fake_differ_only_inside_the_mask(face_image: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    for _ in range(6):
        real, fake, mask = self_blend(face_image, LANDMARKS, rng, SbiConfig(blend_ratios=(1.0,)))
        assert fake.shape == face_image.shape and fake.dtype == np.uint8
        diff = np.abs(fake.astype(int) - real.astype(int)).sum(axis=2)
        # the pair differs only where the mask is: never outside it, always inside it
        assert diff[mask == 0].max() == 0
        assert diff[mask > 0.9].mean() > 1


def test_self_blend_is_deterministic_for_a_seed(face_image: np.ndarray) -> None:
    _, a, _ = self_blend(face_image, LANDMARKS, np.random.default_rng(5))
    _, b, _ = self_blend(face_image, LANDMARKS, np.random.default_rng(5))
    _, c, _ = self_blend(face_image, LANDMARKS, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("shape", [(64, 64, 3), (63, 51, 3)])
def test_codec_roundtrips_keep_shape_and_stay_close(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(3)
    image = np.clip(rng.normal(128, 30, size=shape), 0, 255).astype(np.uint8)
    for out in (h264_roundtrip(image, 28), jpeg_roundtrip(image, 70)):
        assert out.shape == image.shape and out.dtype == np.uint8
        difference = np.abs(out.astype(int) - image.astype(int)).mean()
        assert 0 < difference < 40


def test_degrade_keeps_shape_and_sometimes_changes_pixels(face_image: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    outputs = [degrade(face_image, rng) for _ in range(8)]
    assert all(o.shape == face_image.shape and o.dtype == np.uint8 for o in outputs)
    assert any(not np.array_equal(o, face_image) for o in outputs)
