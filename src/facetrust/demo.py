"""The bundled demo: a real photo (``skimage.data.astronaut``) and a self-blended fake of it, each as an image
and as a short video, made at run time so nothing has to be downloaded or shipped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facetrust.errors import FacetrustError
from facetrust.faces import create_face_detector
from facetrust.media.testing import write_image, write_video
from facetrust.synthesis import SbiConfig, self_blend


@dataclass(frozen=True)
class DemoItem:
    path: Path
    expected: str  # "REAL" or "FAKE"
    description: str


def astronaut() -> np.ndarray:
    """The real astronaut photo (public domain, NASA) from scikit-image, RGB uint8."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def self_blended_astronaut(seed: int = 7) -> np.ndarray:
    """A self-blended fake of the astronaut photo (colour-shifted inner face blended back in)."""
    image = astronaut()
    faces = create_face_detector("mtcnn").detect([image])[0]
    if not faces or faces[0].landmarks is None:
        raise FacetrustError("the face detector found no face in the demo photo")
    config = SbiConfig(blend_ratios=(1.0,), mask_blur_range=(9, 15))
    _, fake, _ = self_blend(image, faces[0].landmarks, np.random.default_rng(seed), config)
    return fake


def _pan_frames(image: np.ndarray, count: int = 50, size: int = 448, travel: int = 40) -> list[np.ndarray]:
    """A slow sideways camera pan over ``image``: a ``size``-pixel window sliding ``travel`` pixels.

    The pan translates without rescaling. (Measured: a pan that also zooms, i.e. resamples every frame,
    pulls both demo videos into the UNCERTAIN band: the detector is sensitive to resampled blend edges.)"""
    height, width = image.shape[:2]
    top = max(0, (height - size) // 4)
    frames = []
    for i in range(count):
        left = min(width - size, int(travel * i / max(1, count - 1)))
        frames.append(np.ascontiguousarray(image[top : top + size, left : left + size]))
    return frames


def make_demo_media(directory: Path) -> list[DemoItem]:
    """Write the four demo files into ``directory`` and return them with their true labels."""
    directory.mkdir(parents=True, exist_ok=True)
    real, fake = astronaut(), self_blended_astronaut()
    items = [
        DemoItem(write_image(directory / "astronaut_real.jpg", real), "REAL", "real photo"),
        DemoItem(write_image(directory / "astronaut_selfblended.jpg", fake), "FAKE", "self-blended fake photo"),
        DemoItem(write_video(directory / "astronaut_real.mp4", _pan_frames(real), fps=25), "REAL", "real video"),
        DemoItem(write_video(directory / "astronaut_selfblended.mp4", _pan_frames(fake), fps=25), "FAKE",
                 "self-blended fake video"),
    ]
    return items
