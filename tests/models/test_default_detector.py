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
