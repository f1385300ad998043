"""facetrust: tell whether the faces in an image or a video have been altered.

>>> import facetrust
>>> report = facetrust.analyze("clip.mp4")          # doctest: +SKIP
>>> report.verdict, report.fake_probability          # doctest: +SKIP
(<Label.FAKE: 'FAKE'>, 0.91)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from facetrust._version import __version__
from facetrust.errors import (
    ConfigError,
    CorruptMediaError,
    DependencyError,
    EmptyMediaError,
    FacetrustError,
    InputError,
    MediaNotFoundError,
    MediaTooLargeError,
    UnknownNameError,
    UnsupportedMediaError,
    WeightsError,
)
from facetrust.report import PersonReport, Report
from facetrust.types import Label

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from facetrust.models import Detector, DetectorInfo
    from facetrust.models.ensemble import EnsembleDetector
    from facetrust.types import MediaInfo

_LAZY = {"Detector": "facetrust.models", "DetectorInfo": "facetrust.models"}


def __getattr__(name: str) -> Any:
    # torch-heavy names load on first use, so `import facetrust` stays fast
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facetrust' has no attribute {name!r}")


def analyze(
    source: str | os.PathLike | np.ndarray,
    *,
    frames: int = 32,
    detector: str = "default",
    device: str | None = None,
    threshold: float | None = None,
    face_detector: str = "mtcnn",
    sampling: str = "uniform",
    every: int = 1,
    per_second: float = 1.0,
    runtime: str = "auto",
    max_pixels: int | None = None,
    max_duration: float | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Report:
    """Analyse one image or video and say whether its faces look altered.

    Args:
        source: a path to an image or video, or an RGB ``uint8`` array ``(H, W, 3)``.
        frames: how many evenly spaced frames of a video to analyse (1–300).
        detector: a detector name from :func:`list_detectors` (``"default"`` is the bundled one) or the path
            of a detector spec ``.json``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` …; ``None`` picks CUDA when present.
        threshold: replaces the detector's calibrated threshold (the UNCERTAIN band moves with it).
        face_detector: name of the face detector (``"mtcnn"``).
        sampling: ``"uniform"`` (``frames`` evenly spaced frames), ``"stride"`` (every ``every``-th frame) or
            ``"per_second"`` (``per_second`` frames per second); stride and per-second are capped at 300 frames.
        runtime: ``"auto"`` (onnxruntime when the detector ships ONNX graphs and no GPU is asked for, else
            PyTorch), ``"onnx"`` or ``"torch"``.
        max_pixels, max_duration: refuse frames larger than this many pixels (default 80 million) and videos
            longer than this many seconds (default 4 h) with :class:`MediaTooLargeError`, before decoding.
        progress: called as ``progress(stage, fraction)`` while it works: stage ``"faces"`` (decoding and
            face search; fraction of the sampled frames done), then ``"scoring"`` and ``"done"``.

    Returns:
        A :class:`Report` with ``verdict`` (REAL / FAKE / UNCERTAIN / NO_FACE), ``fake_probability`` and
        per-person results.

    Raises:
        InputError: the media cannot be analysed (missing, empty, corrupt, unsupported, too large).
        UnknownNameError: no detector or face detector of that name.
        WeightsError: the detector's weights are missing or altered.
    """
    from facetrust.engine import check_runtime
    from facetrust.media.probe import check_source
    from facetrust.pipeline import get_pipeline

    check_source(source)  # a missing, unreadable or empty file is refused before any model loads
    options = _options(frames, sampling, every, per_second, threshold, max_pixels, max_duration)
    detector = os.fspath(detector) if isinstance(detector, os.PathLike) else detector
    _check_names(detector=detector, face_detector=face_detector, device=device)
    pipeline = get_pipeline(detector, device, face_detector, check_runtime(runtime))
    return pipeline.analyze(source, options, progress=progress)


def _options(frames: int, sampling: str, every: int, per_second: float, threshold: float | None,
             max_pixels: int | None, max_duration: float | None) -> Any:
    from facetrust.pipeline import PipelineOptions

    limits = {k: v for k, v in (("max_pixels", max_pixels), ("max_duration", max_duration)) if v is not None}
    return PipelineOptions(frames=frames, sampling=sampling, every=every, per_second=per_second,
                           threshold=threshold, **limits)


def _check_names(**names: object) -> None:
    """Detector, face detector and device are strings (device may be None): ConfigError otherwise."""
    for key, value in names.items():
        if not (isinstance(value, str) or (key == "device" and value is None)):
            raise ConfigError(f"{key} must be a string, got {value!r}")


def analyze_many(
    sources: Iterable[str | os.PathLike | np.ndarray],
    *,
    frames: int = 32,
    detector: str = "default",
    device: str | None = None,
    threshold: float | None = None,
    face_detector: str = "mtcnn",
    sampling: str = "uniform",
    every: int = 1,
    per_second: float = 1.0,
    runtime: str = "auto",
    max_pixels: int | None = None,
    max_duration: float | None = None,
) -> Iterator[tuple[str | os.PathLike | np.ndarray, Report | Exception]]:
    """Analyse many images or videos, in order: yields ``(source, report)``, or ``(source, error)`` for a
    source that could not be analysed, and goes on with the others. Takes the options of :func:`analyze`.

    Faster than calling :func:`analyze` in a loop: the next file is decoded and its faces found while the
    current one is classified. Errors are :class:`FacetrustError` subclasses for bad input; any other
    exception type is a bug in facetrust (please report it). Bad options raise before the first file."""
    from facetrust.engine import check_runtime
    from facetrust.pipeline import get_pipeline

    options = _options(frames, sampling, every, per_second, threshold, max_pixels, max_duration)
    detector = os.fspath(detector) if isinstance(detector, os.PathLike) else detector
    _check_names(detector=detector, face_detector=face_detector, device=device)
    pipeline = get_pipeline(detector, device, face_detector, check_runtime(runtime))
    yield from pipeline.analyze_many(sources, options)


def load_detector(name: str = "default", *, device: str | None = None, runtime: str = "auto") -> Detector | EnsembleDetector:
    """Load a deepfake detector by name (see :func:`list_detectors`): a single detector, or an ensemble (the
    default is one) that scores like one and also tells what each member saw. ``runtime``: ``"auto"``,
    ``"onnx"`` (onnxruntime, no torch) or ``"torch"``."""
    from facetrust.engine import check_runtime
    from facetrust.pipeline import get_detector

    return get_detector(name, device, check_runtime(runtime))


def probe(source: str | os.PathLike) -> MediaInfo:
    """What a file is, read from its bytes (never its name): image or video, size, duration, frame rate,
    codec. Cheap: only the header and at most one frame are decoded, and no model is loaded.

    Raises:
        InputError: missing, empty, unsupported or damaged (its subclasses say which).
    """
    from facetrust.media.probe import probe as _probe

    return _probe(source)


def list_detectors() -> list[DetectorInfo]:
    """The deepfake detectors available offline (bundled weights and aliases)."""
    from facetrust.models import list_detectors as _list

    return _list()


__all__ = [
    "ConfigError",
    "CorruptMediaError",
    "DependencyError",
    "Detector",
    "DetectorInfo",
    "EmptyMediaError",
    "FacetrustError",
    "InputError",
    "Label",
    "MediaNotFoundError",
    "MediaTooLargeError",
    "PersonReport",
    "Report",
    "UnknownNameError",
    "UnsupportedMediaError",
    "WeightsError",
    "__version__",
    "analyze",
    "analyze_many",
    "list_detectors",
    "load_detector",
    "probe",
]
