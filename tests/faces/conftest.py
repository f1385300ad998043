"""Shared fixtures: one MTCNN detector and the astronaut image (one real face) for the whole session."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from facetrust.faces import MtcnnDetector
from facetrust.types import FaceBox


@pytest.fixture(scope="session")
def detector() -> MtcnnDetector:
    return MtcnnDetector()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    image = data.astronaut()
    image.setflags(write=False)
    return image


@pytest.fixture(scope="session")
def astronaut_face(detector: MtcnnDetector, astronaut: np.ndarray) -> FaceBox:
    faces = detector.detect([astronaut])[0]
    assert len(faces) == 1
    return faces[0]
