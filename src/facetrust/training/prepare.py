"""Face crops for training, cut with the same media, frame and face code as inference.

``prepare_crops`` reads ``manifest.csv`` of a data folder, keeps the real images and real videos, holds out
a share of identities (the manifest's ``group``) and stores, for every face found, a square crop of side
``crop_store_size`` together with its 5 landmarks in crop coordinates. The stored crop has a margin of
``crop_margin × store_size / input_size``, so that its central ``input_size`` square is exactly the crop
inference sees, and the border leaves room for translation jitter.

The store is re-used only when its ``recipe.json`` matches the current one: the crop settings, the resolved
data folder, the sha256 of ``manifest.csv``, the face detector's settings and the facetrust version. Any
difference prepares the crops again; files are replaced atomically, so a process that has the old store
memory-mapped keeps reading the old data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from facetrust._version import __version__
from facetrust.errors import ConfigError, FacetrustError, InputError
from facetrust.faces import create_face_detector, crop_face, crop_matrix, transform_points
from facetrust.frames import sample_times
from facetrust.media import open_media
from facetrust.training.config import TrainConfig
from facetrust.types import CropSpec, FaceBox

logger = logging.getLogger(__name__)

INDEX_FIELDS = ("row", "path", "kind", "source", "group", "split", "timestamp", "face_size", "landmarks")
MANIFEST_COLUMNS = ("path", "label", "kind", "source", "group")
"""Columns of ``manifest.csv`` that crop preparation reads (others are ignored)."""


@dataclass
class CropStore:
    """Prepared crops: ``images`` (N, S, S, 3) uint8 memory-mapped, ``landmarks`` (N, 5, 2), ``rows`` metadata."""

    images: np.ndarray
    landmarks: np.ndarray
    rows: list[dict[str, str]]
    recipe: dict[str, Any] = field(default_factory=dict)  # the recipe.json the store was made with

    @classmethod
    def open(cls, directory: Path) -> CropStore:
        images = np.load(directory / "crops.npy", mmap_mode="r")
        with (directory / "index.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        landmarks = np.array([json.loads(r["landmarks"]) for r in rows], np.float32).reshape(-1, 5, 2)
        if len(rows) != len(images):
            raise FacetrustError(f"crop store {directory} is inconsistent: {len(rows)} rows, {len(images)} crops")
        return cls(images=images, landmarks=landmarks, rows=rows, recipe=_read_recipe(directory / "recipe.json") or {})

    def indices(self, split: str, kind: str | None = None) -> np.ndarray:
        return np.array(
            [i for i, r in enumerate(self.rows) if r["split"] == split and (kind is None or r["kind"] == kind)],
            dtype=np.int64,
        )


def centre_cut(images: np.ndarray, side: int) -> np.ndarray:
    """The ``side × side`` centre of a stored crop ``(S, S, 3)`` or of a batch of them ``(N, S, S, 3)``: the
    store keeps a margin around the detectors' crop, which this cut removes."""
    top = (images.shape[-3] - side) // 2
    return np.ascontiguousarray(images[..., top : top + side, top : top + side, :])


def _split_of(group: str, holdout_fraction: float) -> str:
    digest = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "holdout" if digest < holdout_fraction else "train"


@dataclass(frozen=True)
class Manifest:
    """The rows of a data folder's ``manifest.csv`` and the sha256 of the file they were read from."""

    path: Path
    sha256: str
    rows: list[dict[str, str]]


def read_manifest(data_root: Path) -> Manifest:
    """Read ``data_root / "manifest.csv"``.

    No such file (or no such folder) → :class:`ConfigError` naming ``data_root``; a file that cannot be read,
    is not UTF-8 or lacks one of :data:`MANIFEST_COLUMNS` → :class:`InputError` naming the file.
    """
    path = data_root / "manifest.csv"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"data_root: no manifest.csv in {data_root} (looked for {path.resolve()}); "
            "data_root must be the data folder that holds manifest.csv"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""), restval="")
    columns = reader.fieldnames or []
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if missing:
        raise InputError(
            f"{path} lacks the column(s) {', '.join(missing)} (found: {', '.join(columns) or 'no header'}); "
            f"needed: {', '.join(MANIFEST_COLUMNS)}"
        )
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"{path} is not a valid CSV file (line {reader.line_num}): {exc}") from exc
    return Manifest(path=path, sha256=hashlib.sha256(raw).hexdigest(), rows=rows)


def _select_manifest_rows(cfg: TrainConfig, manifest: Manifest) -> list[dict[str, str]]:
    rows = [r for r in manifest.rows if r["label"] == "real" and r["path"].startswith("real/")]
    rng = np.random.default_rng(cfg.seed)
    selected: list[dict[str, str]] = []
    by_folder: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["kind"] == "video":
            selected.append(row)
        else:
            by_folder.setdefault(str(Path(row["path"]).parent), []).append(row)
    for folder in sorted(by_folder):
        items = by_folder[folder]
        if len(items) > cfg.image_limit_per_source:
            keep = rng.choice(len(items), cfg.image_limit_per_source, replace=False)
            items = [items[i] for i in sorted(keep)]
        selected.extend(items)
    return selected


def _largest_face(faces: list[FaceBox], min_size: float) -> tuple[FaceBox, np.ndarray] | None:
    """The largest confident face of at least ``min_size`` pixels that has landmarks, with its landmarks."""
    best: tuple[FaceBox, np.ndarray] | None = None
    for face in faces:
        landmarks = face.landmarks
        if landmarks is None or face.size < min_size or face.score < 0.9:
            continue
        if best is None or face.size > best[0].size:
            best = (face, landmarks)
    return best


def _read_recipe(file: Path) -> dict[str, Any] | None:
    try:
        recipe = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or damaged: prepare again
        return None
    return recipe if isinstance(recipe, dict) else None


def _replace_file(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``target`` through a temporary file and an atomic rename: readers never see a partial file, and
    a process that has the old file open or memory-mapped keeps its (now unlinked) data."""
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as handle:
        write(handle)
    os.replace(partial, target)


def _replace_text(target: Path, text: str) -> None:
    _replace_file(target, lambda handle: handle.write(text.encode("utf-8")))


def _recipe(cfg: TrainConfig, manifest: Manifest, detector: object) -> dict[str, Any]:
    return {
        "store_size": cfg.crop_store_size,
        "margin": cfg.crop_margin * cfg.crop_store_size / cfg.input_size,
        "image_limit_per_source": cfg.image_limit_per_source,
        "video_frames_per_clip": cfg.video_frames_per_clip,
        "holdout_fraction": cfg.holdout_fraction,
        "min_face_size": cfg.min_face_size,
        "seed": cfg.seed,
        "data_root": str(cfg.data_root.resolve()),
        "manifest_sha256": manifest.sha256,
        "face_detector": repr(detector),
        "facetrust_version": __version__,
    }


def crop_recipe(cfg: TrainConfig) -> dict[str, Any]:
    """The recipe a crop store for ``cfg`` is (or would be) made with, without preparing anything."""
    return _recipe(cfg, read_manifest(cfg.data_root), create_face_detector("mtcnn"))


def prepare_crops(cfg: TrainConfig, *, progress: bool = False) -> CropStore:
    """Detect faces in the real media of ``cfg.data_root`` and store crops + landmarks in ``cfg.cache_dir``.

    Re-uses an existing store whose recipe (settings, data folder, manifest checksum, face detector, facetrust
    version) matches; otherwise prepares it again. Files that fail to decode are skipped and counted.
    """
    out = cfg.cache_dir
    manifest = read_manifest(cfg.data_root)
    detector = create_face_detector("mtcnn")
    recipe = _recipe(cfg, manifest, detector)
    recipe_file = out / "recipe.json"
    stored = _read_recipe(recipe_file)
    if stored == recipe and (out / "crops.npy").is_file() and (out / "index.csv").is_file():
        logger.info("re-using prepared crops in %s", out)
        return CropStore.open(out)
    if stored is not None:
        changed = sorted(k for k in recipe.keys() | stored.keys() if stored.get(k) != recipe.get(k))
        logger.info("crops in %s were prepared with another %s; preparing them again", out, ", ".join(changed))
    out.mkdir(parents=True, exist_ok=True)
    # no recipe while the store is being rewritten: an interrupted run is never mistaken for a finished one
    recipe_file.unlink(missing_ok=True)
    spec = CropSpec(size=cfg.crop_store_size, margin=float(recipe["margin"]), align=False)
    rows = _select_manifest_rows(cfg, manifest)
    crops: list[np.ndarray] = []
    index: list[dict[str, object]] = []
    skipped: dict[str, int] = {}
    iterator = rows
    if progress:
        from rich.progress import track

        iterator = track(rows, description="preparing face crops")
    for row in iterator:
        path = cfg.data_root / row["path"]
        try:
            with open_media(path) as reader:
                if reader.info.kind == "video":
                    times = sample_times(reader.info, n=min(cfg.video_frames_per_clip, 300))
                else:
                    times = [0.0]
                frames = reader.read(times)
        except InputError as exc:
            logger.warning("skipping %s: %s", path, exc)
            skipped["unreadable"] = skipped.get("unreadable", 0) + 1
            continue
        detections = detector.detect([f.image for f in frames])
        for frame, faces in zip(frames, detections, strict=True):
            found = _largest_face(faces, cfg.min_face_size)
            if found is None:
                skipped["no_face"] = skipped.get("no_face", 0) + 1
                continue
            face, face_landmarks = found
            matrix = crop_matrix(face, spec)
            crops.append(crop_face(frame.image, face, spec))
            landmarks = transform_points(face_landmarks, matrix)
            index.append(
                {
                    "row": len(index),
                    "path": row["path"],
                    "kind": row["kind"],
                    "source": row["source"],
                    "group": row["group"],
                    "split": _split_of(row["group"], cfg.holdout_fraction),
                    "timestamp": f"{frame.timestamp:.3f}",
                    "face_size": f"{face.size:.1f}",
                    "landmarks": json.dumps([round(float(v), 2) for v in landmarks.ravel()]),
                }
            )
    if not crops:
        raise FacetrustError(f"no faces found in the real media of {cfg.data_root}")
    stacked = np.stack(crops)
    _replace_file(out / "crops.npy", lambda handle: np.save(handle, stacked))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=INDEX_FIELDS)
    writer.writeheader()
    writer.writerows(index)
    _replace_text(out / "index.csv", text.getvalue())
    _replace_text(out / "skipped.json", json.dumps(skipped, indent=2))
    _replace_text(out / "recipe.json", json.dumps(recipe, indent=2))  # last: the store is complete
    logger.info("stored %d crops in %s (skipped: %s)", len(crops), out, skipped)
    return CropStore.open(out)


def resize_store(source: Path, out: Path, store_size: int) -> CropStore:
    """Write a copy of the crop store ``source`` at ``store_size`` px (area resampling, landmarks scaled).

    The margin, the rows and the rest of the recipe stay the same, so a config with this ``crop_store_size``
    (and the matching ``input_size``, e.g. 128 → 112 for a margin of 1.3) re-uses it instead of running the
    face detector over every file again; the crops differ from freshly cut ones only by one resampling step."""
    store = CropStore.open(source)
    if not store.recipe:
        raise FacetrustError(f"{source} has no recipe.json: prepare it with `facetrust train` first")
    if not 16 <= store_size <= store.images.shape[1]:
        raise FacetrustError(f"store_size must be in 16..{store.images.shape[1]} (the source's), got {store_size}")
    scale = store_size / store.images.shape[1]
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").unlink(missing_ok=True)
    resized = np.stack([cv2.resize(np.asarray(image), (store_size, store_size), interpolation=cv2.INTER_AREA)
                        for image in store.images])
    _replace_file(out / "crops.npy", lambda handle: np.save(handle, resized))
    rows = []
    for row, landmarks in zip(store.rows, store.landmarks, strict=True):
        # pixel centres: a point at x in the source is at (x + 0.5) * scale - 0.5 in the copy
        points = (landmarks.astype(np.float64) + 0.5) * scale - 0.5
        rows.append({**row, "landmarks": json.dumps([round(float(v), 2) for v in points.ravel()])})
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=INDEX_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    _replace_text(out / "index.csv", text.getvalue())
    if (source / "skipped.json").is_file():
        _replace_text(out / "skipped.json", (source / "skipped.json").read_text(encoding="utf-8"))
    _replace_text(out / "recipe.json", json.dumps({**store.recipe, "store_size": store_size}, indent=2))
    logger.info("resized %d crops of %s to %d px in %s", len(rows), source, store_size, out)
    return CropStore.open(out)

