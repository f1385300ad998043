"""Behaviour of the bundled default detector on media made at test time (no data from ../shared)."""

import numpy as np
import pytest

import facetrust
from facetrust.demo import astronaut, self_blended_astronaut
from facetrust.faces import create_face_detector, crop_face
from facetrust.synthesis import self_blend
from facetrust.types import Label
from tests_helpers import astronaut_variants


@pytest.fixture(scope="module")
def default_detector() -> facetrust.Detector:
    return facetrust.load_detector("default", device="cpu")


def test_bundled_detector_is_listed_with_a_checksum(default_detector: facetrust.Detector) -> None:
    infos = {d.name: d for d in facetrust.list_detectors()}
    assert "default" in infos
    spec = default_detector.spec
    assert spec.sha256 and len(spec.sha256) == 64
    low, high = spec.uncertain_band
    assert 0 < low <= spec.threshold <= high < 1


def test_self_blended_photo_scores_higher_than_the_original() -> None:
    real = facetrust.analyze(astronaut(), device="cpu")
    fake = facetrust.analyze(self_blended_astronaut(), device="cpu")
    assert fake.fake_probability > real.fake_probability + 0.3
    assert real.verdict is Label.REAL
    # the fake sits near the FAKE edge (0.61-0.68 depending on encoding): never called REAL
    assert fake.verdict in (Label.FAKE, Label.UNCERTAIN)


def test_self_blends_score_higher_than_their_sources(default_detector: facetrust.Detector) -> None:
    faces = create_face_detector("mtcnn")
    spec = default_detector.spec
    rng = np.random.default_rng(11)
    real_crops, fake_crops = [], []
    for image in astronaut_variants(6):
        face = faces.detect([image])[0][0]
        real, fake, _ = self_blend(image, face.landmarks, rng)
        real_crops.append(crop_face(real, face, spec.crop))
        fake_crops.append(crop_face(fake, face, spec.crop))
    real_p = default_detector.predict_proba(np.stack(real_crops))
    fake_p = default_detector.predict_proba(np.stack(fake_crops))
    assert np.mean(fake_p > real_p) >= 5 / 6
    assert fake_p.mean() - real_p.mean() > 0.3


def test_default_is_the_blend_and_whole_face_ensemble(default_detector: facetrust.Detector) -> None:
    from facetrust.models.ensemble import EnsembleDetector

    assert isinstance(default_detector, EnsembleDetector)
    assert default_detector.member_names == ["sbi_families_lite0", "wholeface_lite0"]
    assert default_detector.member_roles == ["blend", "whole-face"]
    assert default_detector.ensemble.method == "max"


def test_the_blend_member_is_the_one_that_sees_a_self_blend() -> None:
    real = facetrust.analyze(astronaut(), device="cpu").people[0]
    fake = facetrust.analyze(self_blended_astronaut(), device="cpu").people[0]
    blend_real, whole_real = real.members
    blend_fake, whole_fake = fake.members
    assert (blend_fake.role, whole_fake.role) == ("blend", "whole-face")
    assert blend_fake.fake_probability > blend_real.fake_probability + 0.3
    assert blend_fake.fake_probability > whole_fake.fake_probability
    assert all(m.role == "blend" for m in fake.flagged_by)


def test_faces_rebuilt_by_an_up_sampling_auto_encoder_score_higher_on_the_whole_face_member() -> None:
    """A few training steps of a transposed-convolution auto-encoder on the test faces: its reconstructions
    carry up-sampling traces (and are smoother); the whole-face member must rank every one above its source."""
    from facetrust.synthesis.upsampler import reconstruct, train_upsampler

    member = facetrust.load_detector("wholeface_lite0", device="cpu")
    faces = create_face_detector("mtcnn")
    crops = [crop_face(image, faces.detect([image])[0][0], member.spec.crop) for image in astronaut_variants(6)]
    model, _ = train_upsampler(crops, "transposed", steps=40, patch=64, batch_size=4, seed=0)
    real_p = member.predict_proba(np.stack(crops))
    rebuilt_p = member.predict_proba(np.stack(reconstruct(model, crops)))
    assert np.all(rebuilt_p > real_p)
    assert rebuilt_p.mean() - real_p.mean() > 0.5
