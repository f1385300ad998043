import cv2
import numpy as np
import pytest

from facetrust.errors import ConfigError
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


def test_lower_face_mask_covers_the_mouth_and_chin_but_not_the_eyes() -> None:
    rng = np.random.default_rng(7)
    for _ in range(10):
        mask = face_hull_mask((256, 256), LANDMARKS, rng, region="lower")
        assert mask[172, 128] > 0.5  # between the mouth corners
        assert mask[110, 100] == 0 and mask[110, 156] == 0  # the eyes stay untouched
        assert mask[:90].max() == 0  # nothing above the brows


def test_unknown_mask_region_is_a_config_error() -> None:
    from facetrust.errors import ConfigError

    with pytest.raises(ConfigError, match="region"):
        face_hull_mask((256, 256), LANDMARKS, np.random.default_rng(0), region="mouth")


def test_lower_face_blends_leave_the_upper_face_untouched(face_image: np.ndarray) -> None:
    rng = np.random.default_rng(8)
    cfg = SbiConfig(lower_face_share=1.0, blend_ratios=(1.0,))
    for _ in range(6):
        real, fake, mask = self_blend(face_image, LANDMARKS, rng, cfg)
        diff = np.abs(fake.astype(int) - real.astype(int)).sum(axis=2)
        assert diff[:100].max() == 0  # eyes and brows are the real pixels
        assert diff[mask > 0.9].mean() > 1


def test_resampled_source_loses_fine_detail_inside_the_mask() -> None:
    # a fine checkerboard: down- then up-sampling wipes it out, so the blended region is smoother than the rest
    board = (np.indices((256, 256)).sum(axis=0) % 2 * 160 + 40).astype(np.uint8)
    image = np.repeat(board[..., None], 3, axis=2)
    cfg = SbiConfig(resample_share=1.0, resample_range=(0.25, 0.3), blend_ratios=(1.0,))
    rng = np.random.default_rng(9)
    real, fake, mask = self_blend(image, LANDMARKS, rng, cfg)
    inside = mask > 0.95

    def detail(picture: np.ndarray) -> float:
        grey = picture.astype(float).mean(axis=2)
        return float(np.abs(np.diff(grey, axis=1))[inside[:, 1:]].mean())

    assert detail(fake) < 0.5 * detail(real)


def test_families_off_keep_the_classic_random_stream(face_image: np.ndarray) -> None:
    # recipes written before the families existed must draw exactly the same blends
    _, a, _ = self_blend(face_image, LANDMARKS, np.random.default_rng(5))
    _, b, _ = self_blend(face_image, LANDMARKS, np.random.default_rng(5), SbiConfig(lower_face_share=0.0))
    assert np.array_equal(a, b)


def test_restored_source_is_sharper_than_the_real_face_inside_the_mask() -> None:
    from tests_helpers import astronaut_variants

    cfg = SbiConfig(restore_share=1.0, blend_ratios=(1.0,))
    photo = cv2.resize(astronaut_variants(1)[0], (256, 256), interpolation=cv2.INTER_AREA)
    for seed in range(6):
        real, fake, mask = self_blend(photo, LANDMARKS, np.random.default_rng(seed), cfg)
        inside, outside = mask > 0.95, mask == 0

        def detail(picture: np.ndarray, where: np.ndarray) -> float:
            lap = cv2.Laplacian(cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY), cv2.CV_64F)
            return float(np.abs(lap)[where].mean())

        assert detail(fake, inside) > 1.1 * detail(real, inside)  # sharper, not blurrier, than the camera
        assert np.array_equal(fake[outside], real[outside])


def test_render_restored_keeps_the_picture() -> None:
    from facetrust.synthesis.sbi import render_restored

    image = cv2.GaussianBlur((np.random.default_rng(0).random((64, 48, 3)) * 255).astype(np.uint8), (0, 0), 2)
    out = render_restored(image, np.random.default_rng(1))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert abs(float(out.mean()) - float(image.mean())) < 3  # same picture, only its detail changes


@pytest.mark.parametrize("kwargs", [{"lower_face_share": 1.5}, {"resample_share": -0.1}, {"restore_share": 1.2},
                                    {"resample_range": (0.0, 0.5)}, {"resample_range": (0.6, 0.4)}])
def test_family_settings_are_checked(kwargs: dict) -> None:
    from facetrust.errors import ConfigError

    with pytest.raises(ConfigError):
        SbiConfig(**kwargs)


def test_decoder_family_pastes_the_rendered_source_inside_the_mask_only(face_image: np.ndarray) -> None:
    # a render that paints everything one colour: the fake shows it inside the mask, the real nowhere
    calls: list[tuple[int, ...]] = []

    def render(source: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(source.shape)
        return np.full_like(source, 250)

    cfg = SbiConfig(decoder_share=1.0, blend_ratios=(1.0,), shift_fraction=0.0, scale_range=(1.0, 1.0))
    real, fake, mask = self_blend(face_image, LANDMARKS, np.random.default_rng(2), cfg, render)
    assert calls == [face_image.shape]
    inside, outside = mask > 0.99, mask == 0
    assert np.abs(fake[inside].astype(int) - 250).max() <= 3  # mask > 0.99: at most 1 % of the target shows
    assert np.array_equal(fake[outside], real[outside]) and not np.any(real[inside] == 250)


def test_decoder_family_needs_a_renderer(face_image: np.ndarray) -> None:
    from facetrust.errors import ConfigError

    with pytest.raises(ConfigError, match="render"):
        self_blend(face_image, LANDMARKS, np.random.default_rng(0), SbiConfig(decoder_share=0.5))
    with pytest.raises(ConfigError):
        SbiConfig(decoder_share=1.2)


def test_inter_coded_frames_lose_more_than_the_intra_frame_at_the_same_crf() -> None:
    from facetrust.synthesis.degrade import DegradeConfig, h264_inter_roundtrip
    from tests_helpers import astronaut_variants

    image = np.ascontiguousarray(astronaut_variants(1)[0][:128, :128])
    intra = h264_roundtrip(image, 30)
    inter = h264_inter_roundtrip(image, 30, np.random.default_rng(0))
    assert inter.shape == image.shape and inter.dtype == np.uint8

    def error(out: np.ndarray) -> float:
        return float(np.abs(out.astype(int) - image.astype(int)).mean())

    assert error(inter) > error(intra) > 0  # P-frames are quantised more coarsely, and carry motion residue
    # off by default, and drawn only when on: earlier configs keep their exact random stream
    a = degrade(image, np.random.default_rng(8), DegradeConfig(h264_p=1.0))
    b = degrade(image, np.random.default_rng(8), DegradeConfig(h264_p=1.0, h264_inter_share=0.0))
    assert np.array_equal(a, b)


def test_align_to_moves_landmarks_onto_the_target() -> None:
    from facetrust.synthesis.sbi import align_to

    image = np.zeros((256, 256, 3), np.uint8)
    for x, y in LANDMARKS.astype(int):
        image[y - 2 : y + 3, x - 2 : x + 3] = 255
    shifted = LANDMARKS + np.array([9.0, -6.0], np.float32)
    moved = align_to(image, LANDMARKS, shifted)
    for x, y in shifted.astype(int):
        assert moved[y, x].min() > 200  # every landmark dot now sits on its target
    assert align_to(image, np.zeros((5, 2), np.float32), LANDMARKS).shape == image.shape  # degenerate: unchanged


def test_a_given_source_is_what_the_mask_pastes(face_image: np.ndarray) -> None:
    other = np.full_like(face_image, 250)  # another "frame": a flat bright face
    rng = np.random.default_rng(3)
    cfg = SbiConfig(lower_face_share=1.0, blend_ratios=(1.0,))
    for _ in range(4):
        real, fake, mask = self_blend(face_image, LANDMARKS, rng, cfg, source=other)
        inside = mask > 0.99
        assert fake[inside].mean() > real[inside].mean() + 40  # the other frame's pixels, not this one's
        assert np.abs(fake[:100].astype(int) - real[:100].astype(int)).max() == 0  # the upper face is untouched
    with pytest.raises(ConfigError, match="same shape"):
        self_blend(face_image, LANDMARKS, rng, cfg, source=other[:128])
