"""Face crops for training, cut with the same media, frame and face code as inference.

``prepare_crops`` reads ``manifest.csv`` of a data folder, keeps the real images and real videos, holds out
a share of identities (the manifest's ``group``) and stores, for every face found, a square crop of side
``crop_store_size`` together with its 5 landmarks in crop coordinates. The stored crop has a margin of
``crop_margin × store_size / input_size``, so that its central ``input_size`` square is exactly the crop
inference sees, and the border leaves room for translation jitter.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facetrust.errors import FacetrustError, InputError
from facetrust.faces import create_face_detector, crop_face, crop_matrix, transform_points
from facetrust.frames import sample_times
from facetrust.media import open_media
from facetrust.training.config import TrainConfig
from facetrust.types import CropSpec, FaceBox

logger = logging.getLogger(__name__)

INDEX_FIELDS = ("row", "path", "kind", "source", "group", "split", "timestamp", "face_size", "landmarks")


@dataclass
class CropStore:
    """Prepared crops: ``images`` (N, S, S, 3) uint8 memory-mapped, ``landmarks`` (N, 5, 2), ``rows`` metadata."""

    images: np.ndarray
    landmarks: np.ndarray
    rows: list[dict[str, str]]

    @classmethod
    def open(cls, directory: Path) -> CropStore:
        images = np.load(directory / "crops.npy", mmap_mode="r")
        with (directory / "index.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        landmarks = np.array([json.loads(r["landmarks"]) for r in rows], np.float32).reshape(-1, 5, 2)
        if len(rows) != len(images):
            raise FacetrustError(f"crop store {directory} is inconsistent: {len(rows)} rows, {len(images)} crops")
        return cls(images=images, landmarks=landmarks, rows=rows)

    def indices(self, split: str, kind: str | None = None) -> np.ndarray:
        return np.array(
            [i for i, r in enumerate(self.rows) if r["split"] == split and (kind is None or r["kind"] == kind)],
            dtype=np.int64,
        )


def _split_of(group: str, holdout_fraction: float) -> str:
    digest = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "holdout" if digest < holdout_fraction else "train"


def _select_manifest_rows(cfg: TrainConfig) -> list[dict[str, str]]:
    manifest = cfg.data_root / "manifest.csv"
    with manifest.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["label"] == "real" and r["path"].startswith("real/")]
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


def _largest_face(faces: list[FaceBox], min_size: float) -> FaceBox | None:
    faces = [f for f in faces if f.size >= min_size and f.landmarks is not None and f.score >= 0.9]
    return max(faces, key=lambda f: f.size) if faces else None


def prepare_crops(cfg: TrainConfig, *, progress: bool = False) -> CropStore:
    """Detect faces in the real media of ``cfg.data_root`` and store crops + landmarks in ``cfg.cache_dir``.

    Re-uses an existing store whose recipe matches. Files that fail to decode are skipped and counted.
    """
    out = cfg.cache_dir
    recipe = {
        "store_size": cfg.crop_store_size,
        "margin": cfg.crop_margin * cfg.crop_store_size / cfg.input_size,
        "image_limit_per_source": cfg.image_limit_per_source,
        "video_frames_per_clip": cfg.video_frames_per_clip,
        "holdout_fraction": cfg.holdout_fraction,
        "min_face_size": cfg.min_face_size,
        "seed": cfg.seed,
    }
    recipe_file = out / "recipe.json"
    if recipe_file.exists() and json.loads(recipe_file.read_text()) == recipe and (out / "crops.npy").exists():
        logger.info("re-using prepared crops in %s", out)
        return CropStore.open(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = CropSpec(size=cfg.crop_store_size, margin=float(recipe["margin"]), align=False)
    detector = create_face_detector("mtcnn")
    rows = _select_manifest_rows(cfg)
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
            face = _largest_face(faces, cfg.min_face_size)
            if face is None:
                skipped["no_face"] = skipped.get("no_face", 0) + 1
                continue
            matrix = crop_matrix(face, spec)
            crops.append(crop_face(frame.image, face, spec))
            assert face.landmarks is not None
            landmarks = transform_points(face.landmarks, matrix)
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
    np.save(out / "crops.npy", np.stack(crops))
    with (out / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        writer.writerows(index)
    (out / "skipped.json").write_text(json.dumps(skipped, indent=2))
    recipe_file.write_text(json.dumps(recipe, indent=2))
    logger.info("stored %d crops in %s (skipped: %s)", len(crops), out, skipped)
    return CropStore.open(out)
