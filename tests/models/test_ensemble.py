"""Ensembles: combining rules, files, loading through the factory, the pipeline, and their errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, UnknownNameError, WeightsError
from facetrust.models import create_detector, list_detectors, save_detector
from facetrust.models.ensemble import (
    EnsembleDetector,
    EnsembleSpec,
    combine,
    fit_stacking,
    read_ensemble,
    save_ensemble,
)
from facetrust.types import CropSpec, DetectorSpec

from .conftest import make_tiny_model


@pytest.fixture(scope="module")
def members_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two different tiny detectors (different seeds and input sizes, same crop margin) in one folder."""
    directory = tmp_path_factory.mktemp("members")
    for seed, (name, size) in enumerate([("tiny_a", 64), ("tiny_b", 72)]):
        spec = DetectorSpec(name=name, architecture="efficientnet_lite0", input_size=size,
                            crop=CropSpec(size=size, margin=1.3), mean=(0.5,) * 3, std=(0.5,) * 3)
        save_detector(make_tiny_model(seed), spec, directory)
    return directory


def crops(n: int = 6) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (n, 80, 80, 3), dtype=np.uint8)


def test_combining_rules_on_known_numbers() -> None:
    probs = np.array([[0.2, 0.8], [0.9, 0.9]])
    average = EnsembleSpec("e", ("a", "b"))
    assert np.allclose(combine(average, probs), [0.5, 0.9])
    weighted = EnsembleSpec("e", ("a", "b"), method="weighted", weights=(3.0, 1.0))
    assert np.allclose(combine(weighted, probs), [0.35, 0.9])
    stacking = EnsembleSpec("e", ("a", "b"), method="stacking", coef=(1.0, 1.0), intercept=0.0)
    # logit(0.2) + logit(0.8) = 0 → 0.5; two confident members reinforce each other beyond either alone
    assert np.allclose(combine(stacking, probs), [0.5, 1 / (1 + (1 / 9) ** 2)], atol=1e-5)


def test_stacking_learns_to_trust_the_informative_member() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    informative = np.clip(0.5 + 0.4 * (labels - 0.5) * 2 + rng.normal(0, 0.1, 400), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, 400)
    coef, _ = fit_stacking(np.stack([informative, noise], 1), labels)
    assert coef[0] > 5 * abs(coef[1])
    with pytest.raises(ConfigError, match="both classes"):
        fit_stacking(np.stack([informative, noise], 1), np.zeros(400))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"members": ("a",)}, "at least 2"),
        ({"members": ("a", "a")}, "more than once"),
        ({"method": "median"}, "method must be one of"),
        ({"method": "weighted"}, "one weight per member"),
        ({"method": "weighted", "weights": (0.0, 0.0)}, "not all 0"),
        ({"method": "stacking", "coef": (1.0,)}, "one coefficient per member"),
        ({"threshold": 0.7, "uncertain_band": (0.2, 0.6)}, "threshold"),
        ({"track_threshold": 0.5}, "go together"),
        ({"roles": ("blend",)}, "roles must name each"),
        ({"method": "max", "coef": (1.0, 1.0)}, "one coefficient and one offset"),
        ({"method": "max", "coef": (1.0, -1.0), "offsets": (0.0, 0.0)}, "> 0"),
        ({"roles": ("blend", " ")}, "roles must name each"),
    ],
)
def test_invalid_ensembles_are_refused(changes: dict, message: str) -> None:
    fields = {"name": "e", "members": ("a", "b"), **changes}
    with pytest.raises(ConfigError, match=message):
        EnsembleSpec(**fields)


def test_saved_ensemble_loads_by_name_and_scores_like_its_rule(members_dir: Path, tmp_path: Path) -> None:
    spec = EnsembleSpec("pair", ("tiny_a", "tiny_b"), method="weighted", weights=(1.0, 2.0),
                        threshold=0.55, uncertain_band=(0.5, 0.6))
    save_ensemble(spec, members_dir)
    assert read_ensemble(members_dir / "pair.json") == spec
    ensemble = create_detector("pair", weights_dir=members_dir)
    assert isinstance(ensemble, EnsembleDetector)
    a = create_detector("tiny_a", weights_dir=members_dir).predict_proba(crops())
    b = create_detector("tiny_b", weights_dir=members_dir).predict_proba(crops())
    assert np.allclose(ensemble.predict_proba(crops()), (a + 2 * b) / 3, atol=1e-6)
    per_member = ensemble.member_probabilities(crops())
    assert list(per_member) == ["tiny_a", "tiny_b"] and np.allclose(per_member["tiny_a"], a)
    # the shared crop is as large as the largest member input; the rule comes from the ensemble file
    assert ensemble.spec.crop.size == 72 and ensemble.spec.crop.margin == 1.3
    assert ensemble.spec.threshold == 0.55 and len(ensemble.spec.sha256 or "") == 64
    listed = {info.name: info for info in list_detectors(weights_dir=members_dir)}
    assert listed["pair"].architecture == "ensemble" and "tiny_a" in listed["pair"].description


def test_checksum_covers_the_definition_and_the_members(members_dir: Path, tmp_path: Path) -> None:
    base = EnsembleSpec("e1", ("tiny_a", "tiny_b"))
    first = create_detector(save_ensemble(base, members_dir)).spec.sha256
    second = create_detector(save_ensemble(dataclasses.replace(base, name="e2", method="weighted",
                                                               weights=(1.0, 1.0)), members_dir)).spec.sha256
    assert first != second


def test_member_paths_resolve_relative_to_the_ensemble_file(members_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    spec = EnsembleSpec("rel", (str(members_dir / "tiny_a.json"), "../" + members_dir.name + "/tiny_b.json"))
    # the second member is written relative to the ensemble's folder; copy the members next to it
    (tmp_path / members_dir.name).mkdir()
    for item in members_dir.iterdir():
        (tmp_path / members_dir.name / item.name).write_bytes(item.read_bytes())
    ensemble = create_detector(save_ensemble(spec, folder))
    assert ensemble.member_names == ["tiny_a", "tiny_b"]


def test_broken_ensembles_give_named_errors(members_dir: Path, tmp_path: Path) -> None:
    missing = save_ensemble(EnsembleSpec("missing", ("tiny_a", "nope")), tmp_path / "m")
    with pytest.raises(UnknownNameError, match="nope"):
        create_detector(missing, weights_dir=members_dir)
    cyclic_dir = tmp_path / "cycle"
    save_ensemble(EnsembleSpec("x", ("tiny_a", "y")), cyclic_dir)
    save_ensemble(EnsembleSpec("y", ("tiny_b", "x")), cyclic_dir)
    for item in ("tiny_a", "tiny_b"):
        for suffix in (".json", ".safetensors"):
            (cyclic_dir / f"{item}{suffix}").write_bytes((members_dir / f"{item}{suffix}").read_bytes())
    with pytest.raises(WeightsError, match="cycle"):
        create_detector(cyclic_dir / "x.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ensemble": {"name": "bad", "members": ["tiny_a"]}}))
    with pytest.raises(WeightsError, match="at least 2"):
        create_detector(bad)


def test_members_must_cut_faces_alike(members_dir: Path, tmp_path: Path) -> None:
    spec = DetectorSpec(name="wide", architecture="efficientnet_lite0", input_size=64,
                        crop=CropSpec(size=64, margin=1.8))
    save_detector(make_tiny_model(3), spec, members_dir)
    path = save_ensemble(EnsembleSpec("mixed", ("tiny_a", "wide")), tmp_path)
    with pytest.raises(ConfigError, match="crop margin"):
        create_detector(path, weights_dir=members_dir)


def test_pipeline_runs_an_ensemble(members_dir: Path, media_dir: Path) -> None:
    import facetrust

    path = save_ensemble(EnsembleSpec("pipe", ("tiny_a", "tiny_b")), members_dir)
    report = facetrust.analyze(media_dir / "face clip.mp4", frames=4, detector=str(path))
    assert report.detector == "pipe" and report.people and report.fake_probability is not None


def test_report_says_which_member_flagged_each_person(members_dir: Path, media_dir: Path) -> None:
    """Each person carries every member's own mean probability, labelled by that member's own rule, and the
    summary names the member that called the face FAKE."""
    import facetrust

    # a huge temperature pins every probability near 0.5, so the thresholds decide the labels
    for name, threshold in (("always_fake", 0.4), ("never_fake", 0.6)):
        spec = DetectorSpec(name=name, architecture="efficientnet_lite0", input_size=64,
                            crop=CropSpec(size=64, margin=1.3), mean=(0.5,) * 3, std=(0.5,) * 3,
                            threshold=threshold, uncertain_band=(threshold, threshold), temperature=1e4)
        save_detector(make_tiny_model(5), spec, members_dir)
    path = save_ensemble(EnsembleSpec("roles", ("never_fake", "always_fake"), roles=("blend", "whole-face"),
                                      threshold=0.4, uncertain_band=(0.4, 0.4)), members_dir)
    assert read_ensemble(path).roles == ("blend", "whole-face")
    clip = media_dir / "face clip.mp4"
    report = facetrust.analyze(clip, frames=4, detector=str(path))
    alone = facetrust.analyze(clip, frames=4, detector=str(members_dir / "always_fake.json"))
    assert report.verdict == "FAKE" and report.people
    for person, solo in zip(report.people, alone.people, strict=True):
        assert [(m.member, m.role, str(m.verdict)) for m in person.members] == [
            ("never_fake", "blend", "REAL"), ("always_fake", "whole-face", "FAKE")]
        assert person.members[1].fake_probability == pytest.approx(solo.fake_probability, abs=1e-4)
        assert [m.member for m in person.flagged_by] == ["always_fake"]
    assert "flagged by whole-face (always_fake)" in report.summary()
    saved = report.to_dict()["people"][0]["members"]
    assert saved[1] == {"member": "always_fake", "role": "whole-face",
                        "fake_probability": report.people[0].members[1].fake_probability, "verdict": "FAKE"}
    assert alone.people[0].members == [] and "flagged by" not in alone.summary()


def test_roles_are_left_out_of_files_that_name_none(tmp_path: Path) -> None:
    """Ensembles written before roles existed keep their bytes, hence their checksums."""
    path = save_ensemble(EnsembleSpec("plain", ("a", "b")), tmp_path)
    assert "roles" not in json.loads(path.read_text())["ensemble"]
    assert read_ensemble(path).roles is None


def test_max_takes_the_most_alarmed_recalibrated_member() -> None:
    """A member that sees nothing (p = 0.01) never cancels one that sees a fake (p = 0.9): unlike stacking."""
    spec = EnsembleSpec("m", ("blend", "whole"), method="max", coef=(1.0, 2.0), offsets=(0.0, -1.0))
    probs = np.array([[0.9, 0.01], [0.01, 0.9], [0.5, 0.5]])
    z = np.log(probs / (1 - probs)) * np.array([1.0, 2.0]) + np.array([0.0, -1.0])
    assert combine(spec, probs) == pytest.approx(1 / (1 + np.exp(-z.max(axis=1))), abs=1e-6)
    assert combine(spec, probs)[0] == pytest.approx(0.9, abs=1e-6)
    stacked = dataclasses.replace(spec, method="stacking", offsets=None, coef=(1.0, 1.0))
    assert combine(stacked, probs)[0] < 0.2


def test_max_ensembles_round_trip_through_their_file(tmp_path: Path) -> None:
    spec = EnsembleSpec("m", ("a", "b"), method="max", coef=(1.5, 0.5), offsets=(-0.2, 0.3))
    assert read_ensemble(save_ensemble(spec, tmp_path)) == spec
