"""Small typed records passed between the stages of the pipeline.

Conventions used everywhere: images are ``numpy.uint8`` arrays of shape ``(H, W, 3)`` in **RGB** order;
boxes are ``(x1, y1, x2, y2)`` in pixels of the frame they were found in; landmarks are ``(5, 2)`` float
arrays in the order left eye, right eye, nose, left mouth corner, right mouth corner (left/right as seen
in the image); times are seconds from the start of the media.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import numpy as np

MediaKind = Literal["image", "video"]


@dataclass(frozen=True)
class MediaInfo:
    """What probing a file (or an in-memory array) told us, before decoding frames."""

    path: str | None
    kind: MediaKind
    width: int  # display width, after rotation
    height: int  # display height, after rotation
    fps: float | None = None  # average frame rate; None for images
    duration: float | None = None  # seconds; None for images
    frame_count: int | None = None  # 1 for images; estimated for videos when the container lacks it
    rotation: int = 0  # degrees clockwise applied to decoded frames to display them upright
    codec: str | None = None
    container: str | None = None


@dataclass(frozen=True)
class Frame:
    """One decoded frame, upright, RGB."""

    index: int  # ordinal of the frame in the stream (0 for images)
    timestamp: float  # seconds
    image: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class FaceBox:
    """A face found by a face detector in one frame."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float  # detector confidence in [0, 1]
    landmarks: np.ndarray | None = field(default=None, repr=False)  # (5, 2) float32 or None

    @property
    def size(self) -> float:
        """Side of the face box: the mean of its width and height, in pixels."""
        x1, y1, x2, y2 = self.box
        return float(((x2 - x1) + (y2 - y1)) / 2)

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


@dataclass(frozen=True)
class CropSpec:
    """How faces are cut out for a detector: a square around the box, ``margin`` times its size."""

    size: int = 224  # output side in pixels
    margin: float = 1.3  # crop side = margin * max(box width, box height)
    align: bool = False  # rotate so the eyes are level before cropping


@dataclass(frozen=True)
class FaceObservation:
    """A face in one sampled frame, with its crop ready for the classifier."""

    frame_index: int
    timestamp: float
    face: FaceBox
    crop: np.ndarray | None = field(default=None, repr=False)  # (size, size, 3) uint8 RGB


@dataclass
class FaceTrack:
    """One person followed across sampled frames."""

    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.observations[0].timestamp

    @property
    def end(self) -> float:
        return self.observations[-1].timestamp

    @property
    def median_face_size(self) -> float:
        return float(np.median([o.face.size for o in self.observations]))


@dataclass(frozen=True)
class TrackingResult:
    """Tracks kept plus how many detections were dropped and why (e.g. ``{"too_small": 3}``)."""

    tracks: list[FaceTrack]
    dropped: dict[str, int]


class Label(StrEnum):
    """The verdict of a person, a file or a video."""

    REAL = "REAL"
    FAKE = "FAKE"
    UNCERTAIN = "UNCERTAIN"
    NO_FACE = "NO_FACE"


@dataclass(frozen=True)
class DetectorSpec:
    """Everything needed to feed a detector correctly and read its output; shipped beside the weights."""

    name: str
    architecture: str  # key of the architecture registry, e.g. "efficientnet_lite0"
    input_size: int = 224
    # None = frame model (one crop → one logit); T = clip model scoring windows of T consecutive crops of one
    # person, (B, T, 3, S, S) → (B, num_outputs); its architecture must be a "clip" one (see models.zoo)
    clip_length: int | None = None
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    crop: CropSpec = CropSpec()
    threshold: float = 0.5  # fake probability at or above which a face is FAKE
    uncertain_band: tuple[float, float] = (0.5, 0.5)  # probabilities inside [low, high) are UNCERTAIN
    fake_index: int = 0  # which output is the fake logit (single-logit models: 0)
    num_outputs: int = 1  # 1 = one fake logit (sigmoid); 2 = softmax over (real, fake)
    temperature: float = 1.0  # logits are divided by this before the sigmoid (calibration)
    # rule for a person's mean probability over many frames (its spread is far narrower than one frame's);
    # None = use threshold / uncertain_band for every track
    track_threshold: float | None = None
    track_uncertain_band: tuple[float, float] | None = None
    track_min_frames: int = 8  # tracks with at least this many frames use the track rule
    weights_file: str | None = None  # file name next to the spec
    sha256: str | None = None
    license: str | None = None
    provenance: dict[str, object] = field(default_factory=dict)
