"""Clip (temporal) detectors: spec files with clip_length, loading by path, per-track scoring, ensembles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facetrust.errors import ConfigError, WeightsError
from facetrust.models import Detector, create_detector, read_spec, save_detector
from facetrust.models.ensemble import EnsembleDetector, EnsembleSpec, combine, save_ensemble
from facetrust.models.factory import BUNDLED_WEIGHTS_DIR
from facetrust.models.weights import load_detector_files, spec_to_json
from facetrust.scoring import ClipScoreRunner, clip_windows, logits_to_probabilities, resize_crop
from facetrust.types import CropSpec, DetectorSpec
from tests_helpers import make_tiny_clip_model

from .conftest import make_tiny_model

SIZE = 32
T = 4


def clip_spec(**kwargs: object) -> DetectorSpec:
    base: dict[str, object] = {
        "name": "tiny_clip",
        "architecture": "cnn_bilstm",
        "input_size": SIZE,
        "clip_length": T,
        "crop": CropSpec(size=SIZE, margin=1.3),
        "temperature": 1.5,
    }
    return DetectorSpec(**{**base, **kwargs})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_clip (cnn_bilstm, T = 4, fp32) and tiny_frame (lite0) with the same crop margin, in one folder."""
    directory = tmp_path_factory.mktemp("clip_weights")
    save_detector(make_tiny_clip_model(), clip_spec(), directory, half=False)
    frame = DetectorSpec(
        name="tiny_frame",
        architecture="efficientnet_lite0",
        input_size=SIZE,
        crop=CropSpec(size=SIZE, margin=1.3),
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
    )
    save_detector(make_tiny_model(), frame, directory, half=False)
    return directory


@pytest.fixture(scope="module")
def clip_detector(clip_dir: Path) -> Detector:
    detector = create_detector(clip_dir / "tiny_clip.json", device="cpu")
    assert isinstance(detector, Detector)
    return detector


def tracks_of(*lengths: int, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.integers(0, 256, (40, 36, 3), dtype=np.uint8) for _ in range(n)] for n in lengths]


# ------------------------------------------------------------------------------------------------- specs


def test_spec_round_trips_clip_length(clip_dir: Path) -> None:
    spec = read_spec(clip_dir / "tiny_clip.json")
    assert spec.clip_length == T
    assert json.loads((clip_dir / "tiny_clip.json").read_text())["clip_length"] == T
    # frame specs are written without the key, exactly as before it existed, and read back as None
    assert "clip_length" not in json.loads((clip_dir / "tiny_frame.json").read_text())
    assert read_spec(clip_dir / "tiny_frame.json").clip_length is None


def test_bundled_spec_still_loads_and_is_written_unchanged() -> None:
    path = BUNDLED_WEIGHTS_DIR / "sbi_effnet_lite0.json"
    if not (BUNDLED_WEIGHTS_DIR / "sbi_effnet_lite0.safetensors").is_file():
        pytest.skip("bundled weights are not in this checkout")
    _, spec = load_detector_files(path)  # checksum verified
    assert spec.clip_length is None
    assert spec_to_json(spec) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "edit", "match"),
    [
        ("tiny_clip", {"clip_length": None}, "is a clip model .* clip_length is null"),
        ("tiny_frame", {"clip_length": 4}, "is a frame model .* clip_length must be null"),
        ("tiny_clip", {"clip_length": 0}, "clip_length must be >= 1"),
        ("tiny_clip", {"clip_length": "4"}, "clip_length must be an integer"),
    ],
)
def test_clip_and_frame_mismatches_are_weights_errors(
    clip_dir: Path, tmp_path: Path, name: str, edit: dict[str, object], match: str
) -> None:
    data = json.loads((clip_dir / f"{name}.json").read_text())
    data.update(edit)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    (tmp_path / f"{name}.safetensors").write_bytes((clip_dir / f"{name}.safetensors").read_bytes())
    with pytest.raises(WeightsError, match=match):
        create_detector(path, device="cpu")


def test_saving_a_clip_model_without_clip_length_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="clip model"):
        save_detector(make_tiny_clip_model(), clip_spec(clip_length=None), tmp_path)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ scoring


def test_predict_tracks_shapes_and_order(clip_detector: Detector) -> None:
    assert isinstance(clip_detector._runner, ClipScoreRunner)
    tracks = tracks_of(6, 1, 3, 0, 9)
    probs = clip_detector.predict_tracks(tracks, batch_size=8)
    assert [p.shape for p in probs] == [(6,), (1,), (3,), (0,), (9,)]
    assert all(p.dtype == np.float32 and np.all((p >= 0) & (p <= 1)) for p in probs)
    assert np.ptp(np.concatenate(probs)) > 1e-4  # the numbers vary, so the order checks below mean something
    reordered = clip_detector.predict_tracks([tracks[4], tracks[2], tracks[0], tracks[1]], batch_size=8)
    for got, want in zip(reordered, [probs[4], probs[2], probs[0], probs[1]], strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert clip_detector.predict_tracks([], batch_size=8) == []


def _window_logits(detector: Detector, track: list[np.ndarray]) -> np.ndarray:
    """The model run by hand on each window: contiguous (W, T, 3, S, S) input, normalised as in the spec."""
    spec = detector.spec
    frames = np.stack([resize_crop(c, spec.input_size) for c in track]).astype(np.float32) / 255.0
    frames = (frames - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    windows = np.stack([frames[w] for w in clip_windows(len(track), T)]).transpose(0, 1, 4, 2, 3)
    with torch.no_grad():
        return detector.model(torch.from_numpy(np.ascontiguousarray(windows)))[:, 0].numpy()


def test_windows_give_per_frame_numbers_equal_to_a_manual_computation(clip_detector: Detector) -> None:
    six, one, three = tracks_of(6, 1, 3, seed=1)
    long_probs, one_probs, three_probs = clip_detector.predict_tracks([six, one, three], batch_size=4)
    w = _window_logits(clip_detector, six)  # windows [0-3] and [2-5]
    expected = np.array([w[0], w[0], (w[0] + w[1]) / 2, (w[0] + w[1]) / 2, w[1], w[1]])
    np.testing.assert_allclose(long_probs, logits_to_probabilities(expected, 1.5), atol=1e-5)
    # a 1-frame track is one window of that frame repeated T times; 3 frames are padded to [0, 0, 1, 2]
    np.testing.assert_allclose(
        one_probs, logits_to_probabilities(_window_logits(clip_detector, one), 1.5), atol=1e-5
    )
    (w3,) = _window_logits(clip_detector, three)
    np.testing.assert_allclose(three_probs, logits_to_probabilities(np.full(3, w3), 1.5), atol=1e-5)


def test_predict_proba_of_a_clip_detector_is_one_track(clip_detector: Detector) -> None:
    (track,) = tracks_of(5, seed=2)
    np.testing.assert_array_equal(
        clip_detector.predict_proba(track), clip_detector.predict_tracks([track])[0]
    )


def test_frame_detector_predict_tracks_equals_predict_proba(clip_dir: Path) -> None:
    detector = create_detector(clip_dir / "tiny_frame.json", device="cpu")
    tracks = tracks_of(5, 1, 0, 3, seed=3)
    flat = detector.predict_proba([c for t in tracks for c in t], batch_size=4)
    got = detector.predict_tracks(tracks, batch_size=4)
    assert [len(p) for p in got] == [5, 1, 0, 3]
    np.testing.assert_array_equal(np.concatenate(got), flat)


def test_ensemble_of_a_clip_and_a_frame_member(clip_dir: Path, tmp_path: Path) -> None:
    members = (str(clip_dir / "tiny_clip.json"), str(clip_dir / "tiny_frame.json"))
    path = save_ensemble(EnsembleSpec("mixed", members, method="weighted", weights=(3.0, 1.0)), tmp_path)
    ensemble = create_detector(path, device="cpu")
    assert isinstance(ensemble, EnsembleDetector)
    tracks = tracks_of(7, 2, 1, seed=4)
    got = ensemble.predict_tracks(tracks, batch_size=8)
    clip_probs = ensemble.members[0].predict_tracks(tracks, batch_size=8)
    frame_probs = ensemble.members[1].predict_tracks(tracks, batch_size=8)
    assert [len(p) for p in got] == [7, 2, 1]
    for g, c, f in zip(got, clip_probs, frame_probs, strict=True):
        np.testing.assert_allclose(g, 0.75 * c + 0.25 * f, atol=1e-6)
    assert [len(p) for p in ensemble.predict_tracks([[], []])] == [0, 0]
    assert ensemble.predict_tracks([]) == []


def test_in_a_max_ensemble_a_clip_member_abstains_on_tracks_shorter_than_its_clip(
    clip_dir: Path, tmp_path: Path
) -> None:
    members = (str(clip_dir / "tiny_clip.json"), str(clip_dir / "tiny_frame.json"))
    spec = EnsembleSpec("mixed_max", members, method="max", coef=(1.0, 1.0), offsets=(0.0, 0.0),
                        roles=("temporal", "frame"))
    ensemble = create_detector(save_ensemble(spec, tmp_path), device="cpu")
    assert isinstance(ensemble, EnsembleDetector)
    tracks = tracks_of(7, 2, 1, seed=4)  # T = 4: the clip member sees the first track only
    per_member = ensemble.member_track_probabilities(tracks, batch_size=8)
    clip_probs = per_member["tiny_clip"]
    assert not np.isnan(clip_probs[0]).any() and np.isnan(clip_probs[1]).all() and np.isnan(clip_probs[2]).all()
    np.testing.assert_allclose(clip_probs[0], ensemble.members[0].predict_tracks(tracks[:1], batch_size=8)[0])
    got = ensemble.predict_tracks(tracks, batch_size=8)
    frame = ensemble.members[1].predict_tracks(tracks, batch_size=8)
    np.testing.assert_allclose(got[0], np.maximum(clip_probs[0], frame[0]), atol=1e-6)
    for short in (1, 2):  # the frame member alone decides
        np.testing.assert_allclose(got[short], frame[short], atol=1e-6)
    # single crops are no sequence: the clip member abstains there too
    single = tracks[0][:3]
    np.testing.assert_allclose(ensemble.predict_proba(single), ensemble.members[1].predict_proba(single), atol=1e-6)
    # only a max ensemble lets a member abstain
    averaged = EnsembleDetector(EnsembleSpec("avg", members), ensemble.members)
    assert not averaged.abstains(averaged.members[0], 1)


def test_only_max_ensembles_accept_abstentions() -> None:
    probs = np.array([[np.nan, 0.8], [0.3, 0.2]])
    spec = EnsembleSpec("m", ("a", "b"), method="max", coef=(1.0, 1.0), offsets=(0.0, 0.0))
    np.testing.assert_allclose(combine(spec, probs), [0.8, 0.3], atol=1e-6)
    with pytest.raises(ConfigError, match="only a 'max' ensemble"):
        combine(EnsembleSpec("a", ("a", "b")), probs)
    with pytest.raises(ConfigError, match="every member abstained"):
        combine(spec, np.array([[np.nan, np.nan]]))
