"""Training augmentations: policies by name, one parameter set per group of images, seeded, picklable."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from facetrust.errors import ConfigError, InputError
from facetrust.training import augment
from facetrust.training.augment import AugmentConfig, Augmenter, build_augmenter


def _texture(size: int = 224, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _marker(size: int = 224) -> np.ndarray:
    """Black image with an off-centre white rectangle: flips, rotations and shifts all move it."""
    image = np.zeros((size, size, 3), np.uint8)
    image[60:110, 70:150] = 255
    return image


@pytest.fixture(scope="module")
def standard() -> Augmenter:
    return Augmenter(AugmentConfig("standard"))


def test_policy_none_is_identity_without_albumentations(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> None:
        raise AssertionError("albumentations must not be used for policy 'none'")

    monkeypatch.setattr(augment, "_import_albumentations", fail)
    assert build_augmenter(AugmentConfig()) is None
    image = _texture()
    rng = np.random.default_rng(3)
    out = Augmenter(AugmentConfig())([image, image], rng)
    assert all(np.array_equal(o, image) and o is not image for o in out)
    assert rng.integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)  # rng not consumed
    assert Augmenter(AugmentConfig()).describe() == {"policy": "none", "clahe": False, "transforms": []}


def test_unknown_policy_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="augmentation policy named 'standart'. Did you mean 'standard'"):
        AugmentConfig(policy="standart")
    with pytest.raises(ConfigError, match="clahe must be true or false"):
        AugmentConfig(clahe="yes")  # type: ignore[arg-type]


def test_build_augmenter_returns_an_augmenter_for_real_policies() -> None:
    assert isinstance(build_augmenter(AugmentConfig("light")), Augmenter)
    assert isinstance(build_augmenter(AugmentConfig("none", clahe=True)), Augmenter)


def test_same_seed_same_output_and_different_seeds_differ(standard: Augmenter) -> None:
    images = [_texture(seed=1), _texture(seed=2)]
    first = standard(images, np.random.default_rng(7))
    again = standard(images, np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    draws = [standard(images, np.random.default_rng(seed))[0] for seed in range(6)]
    assert sum(not np.array_equal(d, images[0]) for d in draws) >= 4
    for i in range(len(draws)):
        for j in range(i + 1, len(draws)):
            assert not np.array_equal(draws[i], draws[j]), (i, j)


def test_transforms_are_sampled_independently(standard: Augmenter) -> None:
    # Compose(seed=...) gives every transform its own generator with the same seed: flip and affine (both
    # p = 0.5) would then always be applied together or skipped together
    disagree = 0
    for seed in range(30):
        standard([_texture(64)], np.random.default_rng(seed))
        flip, affine = (bool(t.params) for t in standard._compose.transforms[:2])
        disagree += flip != affine
    assert disagree >= 5


def test_identical_images_stay_identical(standard: Augmenter) -> None:
    image = _texture(seed=4)
    for seed in range(5):
        out = standard([image] * 4, np.random.default_rng(seed))
        assert all(np.array_equal(o, out[0]) for o in out[1:])


def test_different_images_get_the_same_geometric_transform(standard: Augmenter) -> None:
    marker = _marker()
    inverted = 255 - marker  # a different image, with its rectangle dark on white
    moved = 0
    for seed in range(12):
        a, b = standard([marker, inverted], np.random.default_rng(seed))
        mask_a, mask_b = a.mean(axis=2) > 128, b.mean(axis=2) < 128
        iou = (mask_a & mask_b).sum() / (mask_a | mask_b).sum()
        assert iou > 0.9, (seed, iou)
        moved += (mask_a != (marker[..., 0] > 128)).mean() > 0.01
    assert moved >= 3  # geometry did vary across draws


@pytest.mark.parametrize("policy", ["light", "light_sharpen", "standard"])
@pytest.mark.parametrize("size", [224, 256])
def test_shape_dtype_and_contiguity_are_kept(policy: str, size: int) -> None:
    augmenter = Augmenter(AugmentConfig(policy, clahe=True))
    images = [_texture(size, seed) for seed in range(3)]
    for seed in range(3):
        out = augmenter(images, np.random.default_rng(seed))
        assert len(out) == 3
        for o in out:
            assert o.shape == (size, size, 3) and o.dtype == np.uint8 and o.flags.c_contiguous


def test_clahe_raises_the_contrast_of_a_flat_image() -> None:
    grey = 110 + np.random.default_rng(0).integers(0, 12, (224, 224, 1))  # faint texture, std ≈ 3.4
    image = np.repeat(grey, 3, axis=2).astype(np.uint8)
    augmenter = Augmenter(AugmentConfig("none", clahe=True))
    outs = [augmenter([image], np.random.default_rng(seed))[0] for seed in range(20)]
    changed = [o for o in outs if not np.array_equal(o, image)]
    assert changed  # applied with p = 0.25: some draws of 20
    assert all(o.std() > image.std() * 1.8 for o in changed)


def test_pickle_round_trip_gives_the_same_augmentation(standard: Augmenter) -> None:
    clone = pickle.loads(pickle.dumps(standard))
    images = [_texture(seed=5), _texture(seed=6)]
    for seed in range(3):
        expected = standard(images, np.random.default_rng(seed))
        got = clone(images, np.random.default_rng(seed))
        assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
    assert clone.describe() == standard.describe()


def test_describe_is_plain_data() -> None:
    info = Augmenter(AugmentConfig("standard", clahe=True)).describe()
    assert json.loads(json.dumps(info)) == info
    names = [step.get("transform") for step in info["transforms"]]
    assert names[:3] == ["HorizontalFlip", "Affine", "CLAHE"] and "ImageCompression" in names
    assert info["transforms"][1]["params"]["rotate"] == [-10.0, 10.0]


def test_mismatched_images_are_refused(standard: Augmenter) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="one shape"):
        standard([_texture(224), _texture(256)], rng)
    with pytest.raises(InputError):
        standard([_texture().astype(np.float32)], rng)
    assert standard([], rng) == []


def test_light_sharpen_sharpens_some_draws_and_compresses_last() -> None:
    import cv2

    augmenter = Augmenter(AugmentConfig("light_sharpen"))
    names = [step.get("transform") for step in augmenter.describe()["transforms"]]
    assert names[-2:] == ["UnsharpMask", "ImageCompression"]
    image = cv2.GaussianBlur(_texture(128, seed=8), (0, 0), 2.0)  # soft detail, as video often has
    detail = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    sharper = 0
    for seed in range(30):
        out = augmenter([image], np.random.default_rng(seed))[0]
        sharper += cv2.Laplacian(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() > 1.2 * detail
    assert 3 <= sharper <= 20  # p = 0.3 of 30 draws
