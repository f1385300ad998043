"""Fitting an ensemble on held-out media: stacking weights, decision rules, out-of-fold numbers, held-out sets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.models.ensemble import EnsembleSpec, combine
from facetrust.synthesis.degrade import DegradeConfig
from facetrust.training.calibrate import threshold_and_band
from facetrust.training.ensemble_fit import (
    HeldOutItem,
    animated_still_videos,
    extracted_items,
    fit_ensemble,
    load_held_out,
    self_blended_videos,
)
from facetrust.training.prepare import CropStore
from facetrust.training.sources import ExtractedCrops
from tests_helpers import astronaut_variants, write_extraction

OFF = DegradeConfig(downscale_p=0, blur_p=0, motion_blur_p=0, noise_p=0, h264_p=0, jpeg_p=0)


@dataclass
class _Spec:
    name: str
    clip_length: int | None = None


class BrightnessMember:
    """A stand-in detector whose fake probability follows the crops' brightness (``informative``) or is
    noise: lets the test know which member stacking should trust."""

    def __init__(self, name: str, informative: bool, sees: str = "all") -> None:
        self.spec = _Spec(name)
        self.informative = informative
        self.sees = sees  # "all", "videos" (tracks of several crops) or "photos" (single crops)
        self.rng = np.random.default_rng(1 if informative else 2)

    def predict_tracks(self, tracks, *, batch_size: int = 16):
        out = []
        for track in tracks:
            seen = self.sees == "all" or (self.sees == "videos") == (len(track) > 1)
            if self.informative and seen:
                z = np.array([(c.mean() - 120.0) / 15.0 for c in track]) + self.rng.normal(0, 1.0, len(track))
            elif self.informative:  # blind to this kind: calls everything real, as a detector does off its domain
                z = self.rng.normal(-2.0, 0.3, len(track))
            else:
                z = self.rng.normal(0, 2.0, len(track))
            out.append((1 / (1 + np.exp(-z))).astype(np.float32))
        return out


def _items(n_groups: int = 12) -> list[HeldOutItem]:
    """Per group: a real and a fake video (4 crops each) and a real and a fake photo; fakes are brighter."""
    rng = np.random.default_rng(0)
    items = []
    for g in range(n_groups):
        for label in (0, 1):
            level = 100 + 40 * label
            video = [np.full((8, 8, 3), level + rng.integers(-15, 16), np.uint8) for _ in range(4)]
            photo = [np.full((8, 8, 3), level + rng.integers(-15, 16), np.uint8)]
            items.append(HeldOutItem(f"v{g}_{label}", label, "video", ("real video", "self-blended video")[label],
                                     f"g{g}", video))
            items.append(HeldOutItem(f"p{g}_{label}", label, "image", ("real image", "GAN")[label], f"g{g}", photo))
    return items


def test_stacking_trusts_the_informative_member_and_rules_are_consistent() -> None:
    spec = EnsembleSpec("fitted", ("a", "b"), roles=("blend", "whole-face"))
    members = [BrightnessMember("noise", False), BrightnessMember("bright", True)]
    fitted, report = fit_ensemble(spec, members, _items(), method="stacking")
    assert fitted.method == "stacking" and fitted.roles == ("blend", "whole-face")
    assert fitted.coef[1] > 0.5 and abs(fitted.coef[0]) < fitted.coef[1] / 3
    low, high = fitted.uncertain_band
    assert low <= fitted.threshold <= high
    assert fitted.track_threshold is not None and fitted.track_uncertain_band is not None
    for part in ("in_sample", "out_of_fold"):
        sources = report[part]["by_source"]
        assert set(sources) == {"real video", "self-blended video", "real image", "GAN"}
        for entry in sources.values():
            assert sum(entry["verdicts"].values()) == entry["n"]
        assert sources["GAN"]["auc"] > 0.9
        assert sources["GAN"]["member_auc"]["bright"] > sources["GAN"]["member_auc"]["noise"]
    per_item = report["per_item"]
    assert len(per_item) == 48 and {"p", "p_out_of_fold", "members", "verdict_out_of_fold"} <= set(per_item[0])
    json.dumps(report)  # the report is JSON-ready


class PhotoAlarmedClipMember(BrightnessMember):
    """A clip member (T = 4) that scores its videos by brightness but calls every short track fake, as a clip
    model shown a photo repeated T times might: it must abstain on those in a ``max`` ensemble."""

    def __init__(self) -> None:
        super().__init__("clip", True, sees="videos")
        self.spec = _Spec("clip", clip_length=4)
        self.asked: list[int] = []

    def predict_tracks(self, tracks, *, batch_size: int = 16):
        self.asked += [len(t) for t in tracks]
        return [p if len(t) >= 4 else np.full(len(t), 0.99, np.float32)
                for t, p in zip(tracks, super().predict_tracks(tracks), strict=True)]


def test_a_clip_member_abstains_on_photos_when_max_is_fitted() -> None:
    spec = EnsembleSpec("m", ("a", "b"), roles=("whole-face", "temporal"))
    clip = PhotoAlarmedClipMember()
    members = [BrightnessMember("on_photos", True, sees="photos"), clip]
    fitted, report = fit_ensemble(spec, members, _items(), method="max",
                                  member_fakes=[{"GAN"}, {"self-blended video"}])
    assert set(clip.asked) == {4}  # never shown a photo
    photos = [entry for entry in report["per_item"] if entry["kind"] == "image"]
    assert all(entry["members"]["clip"] is None for entry in photos)
    real_photos = report["out_of_fold"]["by_source"]["real image"]["verdicts"]
    assert real_photos["FAKE"] <= 2  # had the clip member spoken, every photo would be FAKE
    assert report["out_of_fold"]["by_source"]["GAN"]["member_auc"]["clip"] is None


def test_max_recalibrates_each_member_on_its_own_fakes() -> None:
    """The blend member is fitted on self-blended videos only, the other on GAN photos only: each one's
    recalibrated logit rises with its own fakes, and the ensemble catches both kinds."""
    spec = EnsembleSpec("m", ("a", "b"), roles=("blend", "whole-face"))
    members = [BrightnessMember("on_videos", True, sees="videos"), BrightnessMember("on_photos", True, sees="photos")]
    fitted, report = fit_ensemble(spec, members, _items(), method="max",
                                  member_fakes=[{"self-blended video"}, {"GAN"}])
    assert fitted.method == "max" and len(fitted.coef) == 2 and len(fitted.offsets) == 2
    by_source = report["out_of_fold"]["by_source"]
    assert by_source["self-blended video"]["auc"] > 0.9 and by_source["GAN"]["auc"] > 0.9
    assert by_source["GAN"]["member_auc"]["on_photos"] > by_source["GAN"]["member_auc"]["on_videos"]
    stacked, _ = fit_ensemble(spec, members, _items(), method="stacking")
    assert stacked.method == "stacking" and stacked.offsets is None
    with pytest.raises(ConfigError, match="member 2 ranks its own held-out fakes below"):
        fit_ensemble(spec, [members[0], BrightnessMember("inverted", False)], _items(), method="max",
                     member_fakes=[{"self-blended video"}, {"GAN"}])
    with pytest.raises(ConfigError, match="no held-out fake of the sources named for member 2"):
        fit_ensemble(spec, members, _items(), method="max", member_fakes=[{"self-blended video"}, {"diffusion"}])
    with pytest.raises(ConfigError, match="'max' or 'stacking'"):
        fit_ensemble(spec, members, _items(), method="median")


def test_a_kept_calibration_is_not_refitted_and_the_rest_is() -> None:
    spec = EnsembleSpec("m", ("a", "b"), roles=("blend", "whole-face"))
    def members() -> list[BrightnessMember]:  # fresh ones: their noise is seeded per instance
        return [BrightnessMember("on_videos", True, sees="videos"), BrightnessMember("on_photos", True, sees="photos")]

    fakes = [{"self-blended video"}, {"GAN"}]
    free, _ = fit_ensemble(spec, members(), _items(), method="max", member_fakes=fakes)
    kept, report = fit_ensemble(spec, members(), _items(), method="max", member_fakes=fakes, fixed={1: (0.5, -2.0)})
    assert kept.coef[1] == 0.5 and kept.offsets[1] == -2.0
    assert kept.coef[0] == pytest.approx(free.coef[0]) and kept.offsets[0] == pytest.approx(free.offsets[0])
    assert free.coef[1] != 0.5 and report["out_of_fold"]["by_source"]["GAN"]["n"] > 0
    # kept rules: the shipped thresholds stay, in sample and in each out-of-fold half
    shipped = EnsembleSpec("s", ("a", "b"), threshold=0.9, uncertain_band=(0.2, 0.95), track_threshold=0.6,
                           track_uncertain_band=(0.4, 0.7), track_min_frames=5)
    ruled, _ = fit_ensemble(spec, members(), _items(), method="max", member_fakes=fakes, rules=shipped)
    assert (ruled.threshold, ruled.uncertain_band, ruled.track_threshold, ruled.track_uncertain_band,
            ruled.track_min_frames) == (0.9, (0.2, 0.95), 0.6, (0.4, 0.7), 5)
    assert ruled.coef == pytest.approx(free.coef) and free.threshold != 0.9


def test_fitting_needs_both_classes_and_every_member() -> None:
    spec = EnsembleSpec("e", ("a", "b"))
    members = [BrightnessMember("a", True), BrightnessMember("b", False)]
    reals = [item for item in _items() if item.label == 0]
    with pytest.raises(ConfigError, match="both classes"):
        fit_ensemble(spec, members, reals)
    with pytest.raises(ConfigError, match="2 members named, 1 given"):
        fit_ensemble(spec, members[:1], _items())


def test_weighted_threshold_follows_the_weights() -> None:
    probs = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold, (low, high) = threshold_and_band(probs, labels)
    assert 0.3 < threshold <= 0.6 and low <= threshold <= high
    # a real weighing a lot at 0.65 pushes the threshold above it
    probs2, labels2 = np.append(probs, 0.65), np.append(labels, 0)
    weighted, _ = threshold_and_band(probs2, labels2, sample_weight=np.array([1, 1, 1, 1, 1, 1, 20.0]))
    assert weighted > 0.65


def test_self_blended_videos_pair_every_held_out_video_with_its_blended_copy() -> None:
    images = np.stack([cv2.resize(a, (96, 96), interpolation=cv2.INTER_AREA) for a in astronaut_variants(6)])
    landmarks = np.tile(np.array([[38, 32], [58, 33], [48, 45], [40, 56], [56, 57]], np.float32), (6, 1, 1))
    rows = [{"path": f"v{i // 3}.mp4", "kind": "video", "group": f"g{i // 3}",
             "split": "holdout" if i < 3 else "train"} for i in range(6)]
    store = CropStore(images=images, landmarks=landmarks, rows=rows)
    items = self_blended_videos(store, crop_size=84, frames_per_video=2, degradations=OFF)
    assert [(i.key, i.label, i.source) for i in items] == [("v0.mp4", 0, "real video"),
                                                           ("v0.mp4#self-blend", 1, "self-blended video")]
    real, fake = items
    assert len(real.crops) == 2 and real.crops[0].shape == (84, 84, 3)
    assert any(np.abs(a.astype(int) - b.astype(int)).max() > 0 for a, b in zip(real.crops, fake.crops, strict=True))
    # a lower-face copy is added from its own random stream: the real and self-blended items are unchanged
    with_lower = self_blended_videos(store, crop_size=84, frames_per_video=2, degradations=OFF, lower_face=True)
    assert [(i.key, i.source) for i in with_lower[2:]] == [("v0.mp4#lower-face-blend", "lower-face self-blended video")]
    assert all(np.array_equal(a, b) for x, y in zip(items, with_lower, strict=False)
               for a, b in zip(x.crops, y.crops, strict=True))
    assert len(with_lower[2].crops) == 2 and with_lower[2].label == 1 and with_lower[2].group == "g0"
    assert any(np.abs(a.astype(int) - b.astype(int)).max() > 0 for a, b in zip(real.crops, with_lower[2].crops,
                                                                               strict=True))


def test_animated_still_videos_are_held_out_fakes_bent_from_one_frame() -> None:
    images = np.stack([cv2.resize(a, (96, 96), interpolation=cv2.INTER_AREA) for a in astronaut_variants(7)])
    landmarks = np.stack([np.array([[38, 32], [58, 33], [48, 45], [40, 56], [56, 57]], np.float32) + [i, 0]
                          for i in range(7)])
    rows = [{"path": f"v{i // 3}.mp4", "kind": "video", "group": f"g{i // 3}",
             "split": "holdout" if i < 3 else "train"} for i in range(6)]
    rows.append({"path": "p.jpg", "kind": "image", "group": "g9", "split": "holdout"})
    store = CropStore(images=images, landmarks=landmarks, rows=rows)
    items = animated_still_videos(store, crop_size=84, frames_per_video=3, degradations=OFF, photo_share=0.0)
    assert [(i.key, i.label, i.kind, i.source, i.group) for i in items] == [
        ("v0.mp4#animated", 1, "video", "animated still video", "g0")]
    crops = items[0].crops
    assert len(crops) == 3 and crops[0].shape == (84, 84, 3)
    # one still bent three times: the frames differ from each other far less than the real ones do
    real = [images[i][6:90, 6:90].astype(int) for i in range(3)]
    assert np.abs(np.diff(np.stack(crops).astype(int), axis=0)).mean() < np.abs(np.diff(np.stack(real), axis=0)).mean()
    photo = animated_still_videos(store, crop_size=84, frames_per_video=3, degradations=OFF, photo_share=1.0)
    assert photo[0].source == "animated photo"


def test_extracted_items_are_recut_to_the_detector_margin(tmp_path: Path) -> None:
    write_extraction(tmp_path, videos_per_class=1, frames=3, side=96, margin=1.6)
    folder = ExtractedCrops.open(tmp_path)
    items = extracted_items(folder, kind=None, crop_size=64, margin=1.3, degradations=OFF)
    assert sorted((i.label, len(i.crops)) for i in items) == [(0, 3), (1, 3)]
    assert all(c.shape == (64, 64, 3) for i in items for c in i.crops)
    assert {i.source for i in items} == {"real video", "swap"}
    with pytest.raises(ConfigError, match="less than"):
        extracted_items(folder, margin=2.0)


def test_held_out_images_only_by_default(tmp_path: Path) -> None:
    write_extraction(tmp_path, videos_per_class=1, frames=2)
    assert load_held_out(None, [tmp_path]) == []  # the miniature holds videos only, and videos come from the store


def test_fitted_spec_combines_like_its_coefficients() -> None:
    spec = EnsembleSpec("e", ("a", "b"))
    fitted, _ = fit_ensemble(spec, [BrightnessMember("x", True), BrightnessMember("y", False)], _items(),
                             method="stacking")
    p = combine(fitted, np.array([[0.9, 0.5], [0.1, 0.5]]))
    assert p[0] > p[1]
