"""The face-detector contract, its registry and the factory that builds detectors by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from facetrust.errors import ConfigError, InputError
from facetrust.registry import Registry
from facetrust.types import FaceBox


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in RGB uint8 images.

    ``detect`` returns one list per input image, each sorted by score (highest first), with boxes in
    the pixel coordinates of that image and landmarks (when the backend has them) in our order: left
    eye, right eye, nose, left mouth corner, right mouth corner, as seen in the image.
    """

    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]: ...


FACE_DETECTORS: Registry[Callable[..., FaceDetector]] = Registry(
    "face detector", locations=("facetrust.faces.mtcnn", "facetrust.faces.yunet")
)
"""Face-detector classes by name; ``FACE_DETECTORS.get(name)(**kwargs)`` must return a :class:`FaceDetector`."""


def create_face_detector(name: str = "mtcnn", **kwargs: Any) -> FaceDetector:
    """Build the face detector registered as ``name`` with ``kwargs``.

    Raises :class:`~facetrust.errors.UnknownNameError` (listing close matches) for an unknown name and
    :class:`~facetrust.errors.ConfigError` for settings the detector does not take.
    """
    factory = FACE_DETECTORS.get(name)
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad settings for face detector {name!r}: {exc}") from exc
    return factory(**kwargs)


def list_face_detectors() -> list[str]:
    """Names of every registered face detector, sorted."""
    return FACE_DETECTORS.names()


def check_images(images: Sequence[np.ndarray]) -> None:
    """Raise :class:`~facetrust.errors.InputError` unless every item is a uint8 ``(H, W, 3)`` array."""
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", None)
            raise InputError(f"image {i}: expected a (H, W, 3) RGB array, got {type(image).__name__} {shape}")
        if image.dtype != np.uint8:
            raise InputError(f"image {i}: expected dtype uint8, got {image.dtype}")


__all__ = ["FACE_DETECTORS", "FaceDetector", "check_images", "create_face_detector", "list_face_detectors"]
