"""Self-blended clips: track windows, one blend draw per clip, clip-consistent cuts and degradations."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from facetrust.errors import ConfigError
from facetrust.synthesis import DegradeConfig, self_blend
from facetrust.synthesis.animate import AnimateConfig
from facetrust.training.clips import (
    AnimatedStillClips,
    PairMix,
    RerenderedClips,
    SelfBlendClips,
    degrade_clip,
    video_clips,
    windows,
)
from facetrust.training.prepare import CropStore
from tests_helpers import astronaut_variants

STORE, SIZE = 80, 64
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
# MTCNN's landmarks of the astronaut face in astronaut_variants(...)[0] scaled to 80 px
LANDMARKS = np.array([[31.0, 25.1], [41.8, 25.9], [36.3, 32.1], [30.4, 34.8], [41.2, 35.5]], np.float32)
OFF = DegradeConfig(downscale_p=0, blur_p=0, motion_blur_p=0, noise_p=0, h264_p=0, jpeg_p=0)
NO_NOISE = DegradeConfig(downscale_p=1, blur_p=1, motion_blur_p=1, noise_p=0, h264_p=1, jpeg_p=1)


def _store() -> CropStore:
    """Rows 0-5: one video 'v1' (timestamps out of order, '10.0' after '9.5'), row 6 an image, rows 7-8 a
    second video 'v0'; the crops are astronaut variants that move a little from row to row."""
    images = np.stack([cv2.resize(a, (STORE, STORE), interpolation=cv2.INTER_AREA)
                       for a in astronaut_variants(9)])
    landmarks = np.stack([LANDMARKS + [0.4 * i, 0.2 * i] for i in range(9)]).astype(np.float32)
    spec = [("v1", "video", "10.0"), ("v1", "video", "0.5"), ("v1", "video", "9.5"), ("v1", "video", "2"),
            ("v1", "video", "3"), ("v1", "video", "4"), ("p.jpg", "image", "0"), ("v0", "video", "1"),
            ("v0", "video", "0")]
    rows = [{"row": str(i), "path": p, "kind": k, "source": "t", "group": "g", "split": "train", "timestamp": t,
             "face_size": "25", "landmarks": "[]"} for i, (p, k, t) in enumerate(spec)]
    return CropStore(images=images, landmarks=landmarks, rows=rows)


def _dataset(store: CropStore, clips: list[list[int]], **kwargs: object) -> SelfBlendClips:
    options: dict = {"input_size": SIZE, "mean": MEAN, "std": STD, "train": True, "seed": 3, **kwargs}
    return SelfBlendClips(store, clips, **options)


def test_windows_stride_drop_tail_and_pad() -> None:
    assert windows([5, 6, 7, 8, 9], 2) == [[5, 6], [7, 8]]
    assert windows([5, 6], 4) == [[5, 5, 6, 6]]  # as detection pads a short track
    assert windows([], 3) == []
    with pytest.raises(ConfigError):
        windows([1], 0)


def test_video_clips_group_by_path_order_by_time_and_pad() -> None:
    store = _store()
    clips = video_clips(store, np.arange(9), 3)
    # v0 (rows 8 at 0 s, 7 at 1 s) padded; v1 ordered 0.5, 2, 3 | 4, 9.5, 10 as numbers; the image left out
    assert clips == [[8, 8, 7], [1, 3, 4], [5, 2, 0]]
    assert video_clips(store, np.array([0, 1, 6]), 3) == [[1, 1, 0]]


def test_self_blend_consumes_the_generator_alike_for_any_frame() -> None:
    store = _store()
    first, second = np.random.default_rng(7), np.random.default_rng(7)
    self_blend(np.array(store.images[0]), store.landmarks[0], first)
    self_blend(np.array(store.images[5]), store.landmarks[5] + 3, second)
    assert first.bit_generator.state == second.bit_generator.state
    image, landmarks = np.array(store.images[2]), store.landmarks[2]
    same = [self_blend(image, landmarks, np.random.default_rng(11)) for _ in range(2)]
    np.testing.assert_array_equal(same[0][1], same[1][1])


def test_items_shape_determinism_and_epochs() -> None:
    store = _store()
    data = _dataset(store, video_clips(store, np.arange(9), 3))
    real, fake = data[1]
    assert real.shape == fake.shape == (3, 3, SIZE, SIZE) and real.dtype == fake.dtype == torch.float32
    again = data[1]
    assert torch.equal(again[0], real) and torch.equal(again[1], fake)
    data.epoch = 1
    assert not torch.equal(data[1][1], fake)
    fixed = _dataset(store, [[1, 3, 4]], train=False)
    before = fixed[0]
    fixed.epoch = 5
    assert torch.equal(fixed[0][0], before[0]) and torch.equal(fixed[0][1], before[1])


@pytest.mark.parametrize("degradations", [OFF, NO_NOISE])
def test_one_blend_draw_cut_and_degradation_per_clip(degradations: DegradeConfig) -> None:
    store = _store()
    data = _dataset(store, [[4, 4, 4], [0, 1, 2]], degradations=degradations)
    for epoch in range(3):
        data.epoch = epoch
        real, fake = data[0]
        for t in (1, 2):
            assert torch.equal(real[t], real[0]) and torch.equal(fake[t], fake[0])
    # different frames: the fakes differ, but each frame's mask follows its own landmarks
    real, fake = data[1]
    assert not torch.equal(fake[0], fake[1])


def test_fake_differs_from_real_inside_the_face_only() -> None:
    store = _store()
    data = _dataset(store, [[i, i] for i in range(9)], degradations=OFF, train=False)
    inside, outside = [], []
    for item in range(len(data)):
        real, fake = data[item]
        diff = (fake - real).abs().mean(dim=(0, 1)) * 0.25 * 255  # back to grey levels
        x1, y1 = (store.landmarks[item].min(0) - 8).astype(int)  # in the centred 64-px cut
        x2, y2 = (store.landmarks[item].max(0) - 8).astype(int)
        inside.append(float(diff[y1:y2, x1:x2].mean()))
        outside.append(float(diff[-6:, :].mean()))  # below the chin
    assert min(inside) > 1.0 and max(outside) < 0.5, (inside, outside)


def test_augment_is_shared_by_both_clips_and_all_frames() -> None:
    store = _store()
    seen: list[float] = []

    def brighten(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        shift = float(rng.uniform(20, 40))
        seen.append(shift)
        return [np.clip(f.astype(np.float32) + shift, 0, 255).astype(np.uint8) for f in frames]

    plain = _dataset(store, [[4, 4]], degradations=OFF)[0]
    real, fake = _dataset(store, [[4, 4]], degradations=OFF, augment=brighten)[0]
    assert len(seen) == 1  # one draw for the real and the fake frames
    assert torch.equal(real[0], real[1]) and float((real - plain[0]).mean()) > 0.2
    assert float((fake - plain[1]).mean()) == pytest.approx(float((real - plain[0]).mean()), abs=0.05)
    _dataset(store, [[4, 4]], degradations=OFF, augment=brighten, train=False)[0]
    assert len(seen) == 1  # not when evaluating
    with pytest.raises(ConfigError, match="augment"):
        _dataset(store, [[4, 4]], augment=lambda frames, rng: frames[:1])[0]


def test_degrade_clip_shares_the_noise_strength_not_the_noise() -> None:
    image = np.full((48, 48, 3), 128, np.uint8)
    noisy = degrade_clip([image] * 4, np.random.default_rng(2), DegradeConfig(
        downscale_p=0, blur_p=0, motion_blur_p=0, noise_p=1, h264_p=0, jpeg_p=0))
    spreads = [float((f.astype(np.float32) - 128).std()) for f in noisy]
    assert not np.array_equal(noisy[0], noisy[1])
    assert max(spreads) < 1.15 * min(spreads) and min(spreads) > 0.5


def test_video_clips_with_steps_add_wider_spacings() -> None:
    store = _store()
    # v1 in time order: rows 1, 3, 4, 5, 2, 0; every 2nd from offsets 0 and 1: (1, 4, 2) and (3, 5, 0)
    assert video_clips(store, np.arange(6), 3, steps=(2,)) == [[1, 4, 2], [3, 5, 0]]
    both = video_clips(store, np.arange(6), 3, steps=(1, 2))
    assert both == [[1, 3, 4], [5, 2, 0], [1, 4, 2], [3, 5, 0]]
    # a step whose thinned track is shorter than a window adds nothing (no padded copies of a long video)
    assert video_clips(store, np.arange(6), 3, steps=(4,)) == []
    with pytest.raises(ConfigError):
        video_clips(store, np.arange(6), 3, steps=(0,))


def _animated(store: CropStore, clips: list[list[int]], **kwargs: object) -> AnimatedStillClips:
    options: dict = {"input_size": SIZE, "mean": MEAN, "std": STD, "train": False, "seed": 3,
                     "degradations": OFF, **kwargs}
    return AnimatedStillClips(store, clips, **options)


def _pixels(clip: torch.Tensor) -> np.ndarray:
    return (clip.numpy() * 0.25 + 0.5) * 255


def test_animated_still_pairs_real_clip_with_a_still_bent_along_it() -> None:
    store = _store()
    dataset = _animated(store, [[1, 3, 4, 5]], animate=AnimateConfig(mouth_share=0.0))
    real, fake = dataset[0]
    assert real.shape == fake.shape == (4, 3, SIZE, SIZE)
    real_px, fake_px = _pixels(real), _pixels(fake)
    # the real clip is the stored frames, cut at the centre
    centre = (STORE - SIZE) // 2
    expected = store.images[1][centre : centre + SIZE, centre : centre + SIZE].transpose(2, 0, 1)
    assert np.abs(real_px[0] - expected).max() < 1.0
    # the fake changes far less from frame to frame than the real one: one still, bent a little
    real_change = np.abs(np.diff(real_px, axis=0)).mean()
    fake_change = np.abs(np.diff(fake_px, axis=0)).mean()
    assert fake_change < 0.5 * real_change
    again = dataset[0]
    assert torch.equal(again[0], real) and torch.equal(again[1], fake)  # train=False: a fixed sample


def test_animated_still_from_a_photo_uses_the_photo() -> None:
    store = _store()
    dataset = _animated(store, [[1, 3, 4, 5]], photos=[6], photo_share=1.0)
    _, fake = dataset[0]
    photo = store.images[6].astype(np.float64)
    centre = (STORE - SIZE) // 2
    photo_cut = photo[centre : centre + SIZE, centre : centre + SIZE].transpose(2, 0, 1)
    own = store.images[1][centre : centre + SIZE, centre : centre + SIZE].transpose(2, 0, 1)
    first = _pixels(fake)[0]
    assert np.abs(first - photo_cut).mean() < np.abs(first - own).mean()
    with pytest.raises(ConfigError):
        _animated(store, [[1]], photo_share=1.5)


def test_pair_mix_draws_a_part_per_item_and_passes_the_epoch_on() -> None:
    store = _store()
    clips = [[1, 3], [4, 5], [2, 0], [8, 7]] * 10
    blends = _dataset(store, clips, train=True)
    animated = _animated(store, clips, train=True)
    mix = PairMix([blends, animated], [0.5, 0.5], seed=1, train=True)
    parts = [mix.part_of(i) for i in range(len(mix))]
    assert set(parts) == {0, 1} and len(mix) == len(clips)
    mix.epoch = 2
    assert blends.epoch == animated.epoch == 2
    assert [mix.part_of(i) for i in range(len(mix))] != parts  # a new draw per epoch when training
    only_animated = PairMix([blends, animated], [0.0, 1.0], seed=1, train=True)
    assert {only_animated.part_of(i) for i in range(len(mix))} == {1}
    real, fake = only_animated[0]
    assert real.shape == fake.shape == (2, 3, SIZE, SIZE)
    with pytest.raises(ConfigError):
        PairMix([blends, _animated(store, clips[:3])], [0.5, 0.5], train=True)


def _brighten_every_8th_row(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = image.astype(np.int16)
    out[::8] += 30
    return np.clip(out, 0, 255).astype(np.uint8)


def test_rerendered_clips_pair_the_real_clip_with_its_own_frames_rendered_again() -> None:
    from facetrust.synthesis.rerender import RerenderConfig

    store = _store()
    dataset = RerenderedClips(store, [[1, 3, 4, 5]], input_size=SIZE, mean=MEAN, std=STD, train=False, seed=3,
                              renderer=_brighten_every_8th_row, degradations=OFF,
                              rerender=RerenderConfig(whole_crop_share=1.0, gain_flicker=(0.0, 0.0)))
    real, fake = dataset[0]
    assert real.shape == fake.shape == (4, 3, SIZE, SIZE)
    difference = np.abs(_pixels(fake) - _pixels(real))
    assert difference.max() > 20  # the decoder's trace
    assert np.median(difference) < 1.0  # everything else is the real frame, in place
    again = dataset[0]
    assert torch.equal(again[0], real) and torch.equal(again[1], fake)  # train=False: a fixed sample
    mix = PairMix([_dataset(store, [[1, 3, 4, 5]] * 30), _animated(store, [[1, 3, 4, 5]] * 30),
                   RerenderedClips(store, [[1, 3, 4, 5]] * 30, input_size=SIZE, mean=MEAN, std=STD, train=True,
                                   renderer=_brighten_every_8th_row)], [0.4, 0.3, 0.3], seed=0, train=True)
    assert {mix.part_of(i) for i in range(len(mix))} == {0, 1, 2}
