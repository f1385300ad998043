"""Dataset extraction: face crops of every item of a dataset, cut exactly as ``facetrust detect`` cuts them.

Each item (video or image) goes through :func:`facetrust.pipeline.scan_faces` (the same sampling, face
detector, tracking and crop as detection) and its kept faces are written as JPEG files. The output folder::

    OUT/crops/<item id>/<frame index>_p<person>.jpg
    OUT/parts/<item id>.json     one per finished item: its crops, skipped frames/faces, or its error
    OUT/index.csv                every crop: item path, label, method, group, split, frame, time, person, box
    OUT/skipped.csv              everything left out, and why (no_face, too_small, low_score, decode_failed,
                                 or the item's error such as CorruptMediaError)
    OUT/extract.json             the settings (an existing folder made with other settings is refused)

Work is resumable: a finished item has its part file (written last, atomically), so running the same command
again skips finished items. Items run in parallel worker processes, each with its own face detector.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from facetrust._version import __version__
from facetrust.datasets import DatasetIndex, DatasetItem
from facetrust.errors import ConfigError, FacetrustError

logger = logging.getLogger(__name__)

INDEX_COLUMNS = ("item", "path", "label", "method", "group", "split", "kind", "frame_index", "timestamp",
                 "person", "x1", "y1", "x2", "y2", "face_score", "crop")
SKIPPED_COLUMNS = ("item", "path", "label", "frame_index", "timestamp", "reason", "detail")


@dataclass(frozen=True)
class ExtractOptions:
    """How faces are sampled and cut (the defaults are those of ``facetrust detect``)."""

    frames: int = 32
    sampling: str = "uniform"
    every: int = 1
    per_second: float = 1.0
    crop_size: int = 256
    crop_margin: float = 1.3
    align: bool = False
    min_face_size: float = 40.0
    min_face_score: float = 0.9
    jpeg_quality: int = 95
    face_detector: str = "mtcnn"

    def __post_init__(self) -> None:
        if not 32 <= self.crop_size <= 1024:
            raise ConfigError(f"crop_size must be in 32..1024, got {self.crop_size}")
        if not self.crop_margin >= 1:
            raise ConfigError(f"crop_margin must be >= 1, got {self.crop_margin}")
        if not 50 <= self.jpeg_quality <= 100:
            raise ConfigError(f"jpeg_quality must be in 50..100, got {self.jpeg_quality}")


@dataclass(frozen=True)
class ExtractSummary:
    """What one extraction run did."""

    out_dir: Path
    items: int
    done_before: int  # items found finished from an earlier run (resumed)
    extracted: int  # items processed now
    failed: int  # items that could not be read (their error is in skipped.csv)
    crops: int
    skipped: dict[str, int]  # reason → count


def item_id(item: DatasetItem, root: Path) -> str:
    """A stable, file-system-safe id: the file stem plus a hash of its path relative to the dataset root."""
    try:
        relative = item.path.relative_to(root).as_posix()
    except ValueError:
        relative = item.path.as_posix()
    digest = hashlib.sha1(relative.encode("utf-8")).hexdigest()[:10]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in item.path.stem)[:40]
    return f"{stem}-{digest}"


# ------------------------------------------------------------------------------ worker side (one process)

_WORKER: dict[str, Any] = {}


def _init_worker(face_detector: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from facetrust.faces import create_face_detector

    _WORKER["face_detector"] = create_face_detector(face_detector)


def _write_jpeg(path: Path, image: Any, quality: int) -> None:
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FacetrustError(f"could not encode {path.name} as JPEG")
    path.write_bytes(data.tobytes())


def _atomic_json(path: Path, data: object) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(data, stream)
    os.replace(temporary, path)


def extract_item(item: DatasetItem, key: str, out_dir: Path, options: ExtractOptions) -> dict[str, Any]:
    """Scan one item and write its crops and part file; returns the part (also on a per-item error)."""
    from facetrust.pipeline import PipelineOptions, scan_faces
    from facetrust.types import CropSpec

    face_detector = _WORKER.get("face_detector")
    if face_detector is None:
        _init_worker(options.face_detector)
        face_detector = _WORKER["face_detector"]
    part: dict[str, Any] = {"item": key, "path": str(item.path), "crops": [], "skipped": [], "error": None}
    pipeline_options = PipelineOptions(
        frames=options.frames, sampling=options.sampling, every=options.every, per_second=options.per_second,
        min_face_size=options.min_face_size, min_face_score=options.min_face_score,
    )
    crop_spec = CropSpec(size=options.crop_size, margin=options.crop_margin, align=options.align)
    try:
        scan = scan_faces(item.path, face_detector, crop_spec, pipeline_options)
    except FacetrustError as exc:
        part["error"] = {"type": type(exc).__name__, "message": str(exc)}
        part["skipped"].append({"frame_index": "", "timestamp": "", "reason": type(exc).__name__, "detail": str(exc)})
        _atomic_json(out_dir / "parts" / f"{key}.json", part)
        return part
    kept = {id(o.face): track.track_id for track in scan.tracking.tracks for o in track.observations}
    folder = out_dir / "crops" / key
    folder.mkdir(parents=True, exist_ok=True)
    for ordinal, timestamp, faces in scan.sampled:
        frame_index = scan.frame_indices[ordinal]
        if not faces:
            part["skipped"].append({"frame_index": frame_index, "timestamp": round(timestamp, 3),
                                    "reason": "no_face", "detail": ""})
        for k, face in enumerate(faces):
            person = kept.get(id(face))
            if person is None:
                reason = "too_small" if face.size < options.min_face_size else "low_score"
                part["skipped"].append({"frame_index": frame_index, "timestamp": round(timestamp, 3),
                                        "reason": reason,
                                        "detail": f"size {face.size:.0f} px, score {face.score:.3f}"})
                continue
            name = f"{frame_index:06d}_p{person}.jpg"
            _write_jpeg(folder / name, scan.crops[(ordinal, k)], options.jpeg_quality)
            x1, y1, x2, y2 = (round(float(v), 1) for v in face.box)
            part["crops"].append({"frame_index": frame_index, "timestamp": round(timestamp, 3), "person": person,
                                  "x1": x1, "y1": y1, "x2": x2, "y2": y2, "face_score": round(float(face.score), 4),
                                  "crop": f"crops/{key}/{name}"})
    if scan.decode_failures:
        part["skipped"].append({"frame_index": "", "timestamp": "", "reason": "decode_failed",
                                "detail": f"{scan.decode_failures} sampled frame(s) could not be decoded"})
    _atomic_json(out_dir / "parts" / f"{key}.json", part)
    return part


# ------------------------------------------------------------------------------------------ driver side


def _check_settings(out_dir: Path, settings: dict[str, Any]) -> None:
    file = out_dir / "extract.json"
    if file.is_file():
        before = json.loads(file.read_text(encoding="utf-8"))
        changed = sorted(k for k in set(before) | set(settings) if k != "version" and before.get(k) != settings.get(k))
        if changed:
            raise ConfigError(
                f"{out_dir} holds an extraction made with other settings ({', '.join(changed)} differ); "
                "use another --out folder or the same settings to resume"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(settings, indent=2), encoding="utf-8")


def extract_dataset(
    index: DatasetIndex,
    out_dir: Path,
    options: ExtractOptions | None = None,
    *,
    workers: int = 1,
    on_item: Callable[[dict[str, Any]], None] | None = None,
) -> ExtractSummary:
    """Extract face crops for every item of ``index`` into ``out_dir`` (resumable; see the module doc).

    ``on_item`` is called once per item as it finishes (also for items already done), e.g. for a progress bar.
    One bad item never stops the others: its error is recorded in ``skipped.csv``."""
    options = options or ExtractOptions()
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    _check_settings(out_dir, {"dataset": index.name, "root": str(index.root), "options": asdict(options),
                              "version": __version__})
    (out_dir / "parts").mkdir(parents=True, exist_ok=True)
    keys = {item_id(item, index.root): item for item in index.items}
    done = {key for key in keys if (out_dir / "parts" / f"{key}.json").is_file()}
    todo = [(key, item) for key, item in keys.items() if key not in done]
    logger.info("extracting %d items (%d already done) with %d worker(s)", len(todo), len(done), workers)
    for _ in done:
        if on_item is not None:
            on_item({"resumed": True})
    if workers == 1:
        _init_worker(options.face_detector)
        for key, item in todo:
            part = extract_item(item, key, out_dir, options)
            if on_item is not None:
                on_item(part)
    else:
        # spawn, not fork: forking a process that already runs onnxruntime / torch thread pools can deadlock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, mp_context=context,
                                 initargs=(options.face_detector,)) as pool:
            pending: set[Future[dict[str, Any]]] = set()
            queue = iter(todo)
            for key, item in _take(queue, 2 * workers):
                pending.add(pool.submit(extract_item, item, key, out_dir, options))
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    part = future.result()
                    if on_item is not None:
                        on_item(part)
                for key, item in _take(queue, len(finished)):
                    pending.add(pool.submit(extract_item, item, key, out_dir, options))
    return write_index(index, keys, out_dir, resumed=len(done), processed=len(todo))


def _take(iterator: Iterable[Any], n: int) -> list[Any]:
    out = []
    for value in iterator:
        out.append(value)
        if len(out) >= n:
            break
    return out


def write_index(index: DatasetIndex, keys: dict[str, DatasetItem], out_dir: Path, *, resumed: int = 0,
                processed: int = 0) -> ExtractSummary:
    """Merge the part files into ``index.csv`` and ``skipped.csv``; the dataset's own skipped entries too."""
    crops = 0
    failed = 0
    reasons: dict[str, int] = {}
    with (out_dir / "index.csv").open("w", newline="", encoding="utf-8") as index_file, \
            (out_dir / "skipped.csv").open("w", newline="", encoding="utf-8") as skipped_file:
        rows = csv.DictWriter(index_file, fieldnames=INDEX_COLUMNS)
        skipped = csv.DictWriter(skipped_file, fieldnames=SKIPPED_COLUMNS)
        rows.writeheader()
        skipped.writeheader()
        for path, reason in index.skipped:
            skipped.writerow({"item": "", "path": str(path), "label": "", "frame_index": "", "timestamp": "",
                              "reason": "not_indexed", "detail": reason})
            reasons["not_indexed"] = reasons.get("not_indexed", 0) + 1
        for key, item in keys.items():
            part_file = out_dir / "parts" / f"{key}.json"
            if not part_file.is_file():
                continue
            part = json.loads(part_file.read_text(encoding="utf-8"))
            failed += part.get("error") is not None
            common = {"item": key, "path": str(item.path), "label": item.label}
            for entry in part["skipped"]:
                skipped.writerow({**common, **entry})
                reasons[entry["reason"]] = reasons.get(entry["reason"], 0) + 1
            for entry in part["crops"]:
                rows.writerow({**common, "method": item.method, "group": item.group, "split": item.split or "",
                               "kind": item.kind, **entry})
                crops += 1
    return ExtractSummary(out_dir=out_dir, items=len(keys), done_before=resumed, extracted=processed,
                          failed=failed, crops=crops, skipped=reasons)


__all__ = ["ExtractOptions", "ExtractSummary", "extract_dataset", "extract_item", "item_id", "write_index"]
