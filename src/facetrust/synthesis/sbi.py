"""Self-blended images (after Shiohara & Yamasaki, CVPR 2022).

A real face is blended into a slightly altered copy of itself through a randomly deformed face mask. The
result has no identity change, only the traces every face swap leaves behind: a blending boundary and a
colour/scale mismatch between the inner face and its surroundings. A classifier trained to tell these from
the originals learns those traces rather than the fingerprint of one generator.

Our masks come from the 5 MTCNN landmarks: we extrapolate a face outline (brows, cheeks, chin) from the eye
and mouth positions, take its convex hull, then deform, erode/dilate and blur it at random.

Two families extend the blend to what other manipulations leave (issue 12), both off by default:

- **lower-face blends** (``lower_face_share``): the mask covers the jaw and mouth only (from below the nose
  to the chin), as lip-sync tools (Wav2Lip, HyperLips, DINet) repaint and paste back that region;
- **resolution mismatch** (``resample_share``): the blended source is rendered at a lower resolution
  (down- then up-sampled by a random factor), as swapped or generated faces rendered at 96–256 px and
  pasted into larger frames are;
- **decoder re-synthesis** (``decoder_share``): the blended source is first rebuilt by an up-sampling
  auto-encoder (the ``render`` callable, e.g. :class:`facetrust.synthesis.upsampler.DecoderRenderer`), as
  autoencoder face swaps (DeepFaceLab / DeepFaceLive) and talking-head generators render the face through a
  decoder before it is pasted back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facetrust.errors import ConfigError


@dataclass(frozen=True)
class SbiConfig:
    """Ranges of the random alterations; defaults follow the spirit of the SBI paper."""

    scale_range: tuple[float, float] = (0.95, 1.05)  # source resized by this factor before blending
    shift_fraction: float = 0.03  # max translation of the source, as a fraction of the image side
    hue_shift: int = 8  # max hue change (OpenCV hue units, 0..180)
    saturation_shift: int = 25
    value_shift: int = 25
    rgb_shift: int = 20
    brightness_contrast: float = 0.1
    mask_blur_range: tuple[int, int] = (5, 31)  # Gaussian kernel (odd) for the soft mask edge
    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
    hull_expand: tuple[float, float] = (0.9, 1.25)  # random growth/shrink of the outline around its centre
    deform_strength: float = 0.06  # elastic deformation of the mask, fraction of the face size
    lower_face_share: float = 0.0  # share of blends through a jaw/mouth mask instead of the whole inner face
    resample_share: float = 0.0  # share of blends whose source is down- then up-sampled (low-res rendering)
    resample_range: tuple[float, float] = (0.2, 0.6)  # the down-sampling factor of those sources
    decoder_share: float = 0.0  # share of blends whose source is rebuilt by a decoder (needs ``render``)
    restore_share: float = 0.0  # share of blends whose source gets a restoration look (smooth skin, crisp edges)

    def __post_init__(self) -> None:
        for key in ("lower_face_share", "resample_share", "decoder_share", "restore_share"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key} must be in [0, 1], got {value}")
        low, high = self.resample_range
        if not 0.0 < low <= high < 1.0:
            raise ConfigError(f"resample_range must satisfy 0 < low <= high < 1, got {self.resample_range}")


@dataclass(frozen=True)
class _FaceFrame:
    """The 5 landmarks and the face's own axes: ``across`` (eye to eye) and ``down`` (eyes to mouth)."""

    points: np.ndarray  # (5, 2): left eye, right eye, nose, left and right mouth corners
    mouth_mid: np.ndarray
    across: np.ndarray  # unit vector
    eye_dist: float
    down: np.ndarray  # unit vector
    down_len: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> _FaceFrame:
        points = landmarks.astype(np.float64)
        left_eye, right_eye, _, left_mouth, right_mouth = points
        eye_mid, mouth_mid = (left_eye + right_eye) / 2, (left_mouth + right_mouth) / 2
        across, down = right_eye - left_eye, mouth_mid - eye_mid
        eye_dist = max(float(np.linalg.norm(across)), 1.0)
        down_len = max(float(np.linalg.norm(down)), 1.0)
        return cls(points, mouth_mid, across / eye_dist, eye_dist, down / down_len, down_len)


def _outline_points(landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Extrapolate a rough face outline from 5 landmarks (eyes, nose, mouth corners)."""
    f = _FaceFrame.of(landmarks)
    left_eye, right_eye, nose, left_mouth, right_mouth = f.points
    mouth_mid, across, eye_dist, down, down_len = f.mouth_mid, f.across, f.eye_dist, f.down, f.down_len
    width = eye_dist * rng.uniform(0.75, 1.0)
    brow_up = down_len * rng.uniform(0.45, 0.8)
    chin_down = down_len * rng.uniform(0.45, 0.75)
    points = [
        left_eye - across * width * 0.55 - down * brow_up,
        right_eye + across * width * 0.55 - down * brow_up,
        left_eye - across * width * 0.7,
        right_eye + across * width * 0.7,
        left_mouth - across * width * 0.5,
        right_mouth + across * width * 0.5,
        mouth_mid + down * chin_down - across * width * 0.3,
        mouth_mid + down * chin_down + across * width * 0.3,
        nose,
    ]
    return np.asarray(points, dtype=np.float64)


def _lower_face_points(landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A rough jaw-and-mouth outline from 5 landmarks: from just below the nose, cheek to cheek, to the chin."""
    f = _FaceFrame.of(landmarks)
    left_eye, right_eye, nose, left_mouth, right_mouth = f.points
    mouth_mid, across, eye_dist, down, down_len = f.mouth_mid, f.across, f.eye_dist, f.down, f.down_len
    width = eye_dist * rng.uniform(0.8, 1.05)
    top = nose + (mouth_mid - nose) * rng.uniform(0.0, 0.4)  # from the nose tip to part-way to the mouth
    chin_down = down_len * rng.uniform(0.45, 0.75)
    points = [
        top - across * width * 0.6,
        top + across * width * 0.6,
        left_mouth - across * width * 0.55,
        right_mouth + across * width * 0.55,
        mouth_mid + down * chin_down - across * width * 0.35,
        mouth_mid + down * chin_down + across * width * 0.35,
        mouth_mid + down * chin_down * 1.05,
    ]
    return np.asarray(points, dtype=np.float64)


def face_hull_mask(
    shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator, cfg: SbiConfig | None = None,
    *, region: str = "face",
) -> np.ndarray:
    """A soft (H, W) float32 mask in [0, 1] covering the inner face (``region="face"``) or the jaw and mouth
    (``region="lower"``), randomly deformed and blurred."""
    cfg = cfg or SbiConfig()
    height, width = shape
    if region == "face":
        points = _outline_points(landmarks, rng)
    elif region == "lower":
        points = _lower_face_points(landmarks, rng)
    else:
        raise ConfigError(f"region must be 'face' or 'lower', got {region!r}")
    centre = points.mean(axis=0)
    points = centre + (points - centre) * rng.uniform(*cfg.hull_expand)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    mask = np.zeros((height, width), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)

    face_size = float(np.ptp(points[:, 0]) + np.ptp(points[:, 1])) / 2
    # elastic deformation: a coarse random displacement field, upsampled smoothly
    grid = 4
    amplitude = cfg.deform_strength * face_size
    field = rng.uniform(-amplitude, amplitude, size=(2, grid, grid)).astype(np.float32)
    dx = cv2.resize(field[0], (width, height), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(field[1], (width, height), interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    mask = cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    kernel_side = int(max(3, face_size * rng.uniform(0.02, 0.08))) | 1
    kernel = np.ones((kernel_side, kernel_side), np.uint8)
    mask = cv2.erode(mask, kernel) if rng.random() < 0.5 else cv2.dilate(mask, kernel)

    low, high = cfg.mask_blur_range
    blur = int(rng.integers(low, high + 1)) | 1
    mask = cv2.GaussianBlur(mask, (blur, blur), 0)
    peak = float(mask.max())
    if peak > 0:
        mask /= peak
    return np.clip(mask, 0.0, 1.0)


def _jitter_colour(image: np.ndarray, rng: np.random.Generator, cfg: SbiConfig) -> np.ndarray:
    out = image.astype(np.float32)
    if rng.random() < 0.5:
        out += rng.uniform(-cfg.rgb_shift, cfg.rgb_shift, size=3).astype(np.float32)
    if rng.random() < 0.5:
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-cfg.hue_shift, cfg.hue_shift)) % 180
        hsv[..., 1] += rng.uniform(-cfg.saturation_shift, cfg.saturation_shift)
        hsv[..., 2] += rng.uniform(-cfg.value_shift, cfg.value_shift)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.5:
        alpha = 1 + rng.uniform(-cfg.brightness_contrast, cfg.brightness_contrast)
        beta = 255 * rng.uniform(-cfg.brightness_contrast, cfg.brightness_contrast)
        out = out * alpha + beta
    return np.clip(out, 0, 255).astype(np.uint8)


def _jitter_sharpness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    choice = rng.random()
    if choice < 0.3:
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
    if choice < 0.6:
        blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
        return cv2.addWeighted(image, 1.5, blurred, -0.5, 0)
    return image


def _jitter_geometry(image: np.ndarray, rng: np.random.Generator, cfg: SbiConfig) -> np.ndarray:
    height, width = image.shape[:2]
    scale = rng.uniform(*cfg.scale_range)
    shift = cfg.shift_fraction * np.array([width, height])
    tx, ty = rng.uniform(-shift, shift)
    cx, cy = width / 2, height / 2
    matrix = np.array([[scale, 0, cx - scale * cx + tx], [0, scale, cy - scale * cy + ty]], np.float32)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def render_low_resolution(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` down-sampled by ``factor`` and scaled back to its size, with a random pair of
    interpolations: what a face rendered at low resolution looks like once pasted into a larger frame."""
    height, width = image.shape[:2]
    small = (max(8, round(width * factor)), max(8, round(height * factor)))
    down = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(3))]
    up = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4)[int(rng.integers(3))]
    return cv2.resize(cv2.resize(image, small, interpolation=down), (width, height), interpolation=up)


def render_restored(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` with the look of a face restored or rendered at high resolution by a network (GFPGAN-style
    restorers, diffusion talking heads): skin smoothed by an edge-preserving filter, then edges and fine detail
    sharpened beyond what the camera gave. Sharper than the original, not blurrier."""
    out = cv2.bilateralFilter(image, 5, float(rng.uniform(10, 30)), float(rng.uniform(2, 4)))
    sigma = float(rng.uniform(0.8, 2.0))
    amount = float(rng.uniform(1.0, 2.0))
    blurred = cv2.GaussianBlur(out, (0, 0), sigma)
    return cv2.addWeighted(out, 1.0 + amount, blurred, -amount, 0)


def align_to(image: np.ndarray, landmarks: np.ndarray, target_landmarks: np.ndarray,
             shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``image`` moved (rotation, scale, shift) so that its 5 ``landmarks`` fall on ``target_landmarks``."""
    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(landmarks, np.float32), np.asarray(target_landmarks, np.float32))
    height, width = (shape or image.shape)[:2]
    if matrix is None:  # degenerate landmarks: nothing to align, the picture stays where it is
        return np.ascontiguousarray(image[:height, :width])
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    cfg: SbiConfig | None = None,
    render: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    source: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend an altered copy of ``image`` (RGB uint8) back into it inside a random face mask.

    Returns ``(real, fake, mask)``. Either the inner face (source) or the whole picture (target) is altered;
    ``real`` is the target, so the pair differs only by the blend and never by a global colour or
    sharpness change that would give the label away. ``render`` rebuilds the source for the decoder family
    (``cfg.decoder_share``); it must be given when that share is above zero. ``source`` blends another
    picture of the same face instead of ``image`` itself (e.g. another frame of the video aligned onto this
    one, :func:`align_to`): the time-shifted mouths of lip-sync.
    """
    cfg = cfg or SbiConfig()
    if cfg.decoder_share > 0 and render is None:
        raise ConfigError("decoder_share > 0 needs a render callable (e.g. a DecoderRenderer)")
    # the families draw only when they are on, so recipes without them keep their exact random stream
    region = "lower" if cfg.lower_face_share > 0 and rng.random() < cfg.lower_face_share else "face"
    resample = cfg.resample_share > 0 and rng.random() < cfg.resample_share
    decode = cfg.decoder_share > 0 and rng.random() < cfg.decoder_share
    restore = cfg.restore_share > 0 and rng.random() < cfg.restore_share
    source = image.copy() if source is None else np.ascontiguousarray(source, dtype=np.uint8).copy()
    if source.shape != image.shape:
        raise ConfigError(f"source {source.shape} and image {image.shape} must have the same shape")
    # alter the source and/or the target so the inner and outer face disagree; at least one must change
    if restore:  # the source alone changes, in colour and by the restoration below: sharper than the target
        source = _jitter_colour(source, rng, cfg)
        target = image
    elif rng.random() < 0.5:
        source = _jitter_colour(source, rng, cfg)
        source = _jitter_sharpness(source, rng)
        target = image
    else:
        target = _jitter_colour(image.copy(), rng, cfg)
        target = _jitter_sharpness(target, rng)
    if decode and render is not None:
        source = render(source, rng)
    if resample:
        source = render_low_resolution(source, float(rng.uniform(*cfg.resample_range)), rng)
    if restore:  # after any rendering: a restorer runs on the generator's output
        source = render_restored(source, rng)
    source = _jitter_geometry(source, rng, cfg)
    mask = face_hull_mask(image.shape[:2], landmarks, rng, cfg, region=region)
    mask = mask * float(rng.choice(cfg.blend_ratios))
    blended = source.astype(np.float32) * mask[..., None] + target.astype(np.float32) * (1 - mask[..., None])
    return target, np.clip(blended + 0.5, 0, 255).astype(np.uint8), mask
