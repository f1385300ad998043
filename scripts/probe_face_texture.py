"""Probe: are the generated faces of ../shared/data/labelled cleaner than the real clips? (no detector, no training)

    python scripts/probe_face_texture.py            # after `make eval-unseen` has cached the face scans

Every detector facetrust has trained scores the talking heads of ``labelled/`` *below* the real clips (AUC
< 0.5). This probe measures, per video, plain texture statistics of the cached face crops of
``make eval-unseen`` (the default detector's crops) and tabulates each statistic as if it were a detector
(higher = "more fake"), with the same tables: fine detail (variance of the Laplacian), noise (residual of a
3×3 median filter) and face size. It chooses nothing; it explains what the detectors see.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from facetrust.evaluation.unseen import (
    ScanCache,
    load_dev,
    load_labelled,
    probabilities_from,
    unseen_tables,
)

STATISTICS = ("smoothness", "low_noise", "face_size")


def texture(crops: list[np.ndarray]) -> dict[str, float]:
    """Per-video means over its face crops (uint8 RGB), signed so that higher means cleaner or larger."""
    detail, noise = [], []
    for crop in crops:
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        inner = grey[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]  # the inner face, away from the background
        detail.append(float(cv2.Laplacian(inner, cv2.CV_64F).var()))
        noise.append(float(np.abs(inner.astype(np.float64) - cv2.medianBlur(inner, 3)).mean()))
    return {"smoothness": -float(np.log1p(np.median(detail))), "low_noise": -float(np.median(noise))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("data_cache/eval_scans"))
    parser.add_argument("--out", type=Path, default=Path("runs/eval_unseen/probe_face_texture.json"))
    args = parser.parse_args()
    from facetrust.engine import load_detector
    from facetrust.pipeline import PipelineOptions

    crop = load_detector("default").spec.crop
    cache = ScanCache(args.cache / "scans", options=PipelineOptions(frames=32))
    report: dict[str, dict] = {}
    for subset, videos in (("labelled", load_labelled(args.data)), ("dev", load_dev(args.data))):
        values: dict[str, dict[str, float | None]] = {name: {} for name in STATISTICS}
        for video in videos:
            scan = cache.scan(video.path, crop)
            crops = [] if isinstance(scan, Exception) else list(scan.crops.values())
            if not crops:
                continue
            stats = texture(crops)
            sizes = [box.size for _, _, faces in scan.sampled for box in faces]
            stats["face_size"] = float(np.median(sizes)) if sizes else 0.0
            for name in STATISTICS:
                values[name][video.key] = stats[name]
        report[subset] = {}
        for name in STATISTICS:
            keys = list(values[name])
            ranks = np.argsort(np.argsort([values[name][k] for k in keys]))  # AUCs need [0, 1]: ranks keep them
            as_scores = {k: float((r + 1) / (len(keys) + 1)) for k, r in zip(keys, ranks, strict=True)}
            tables = unseen_tables(videos, probabilities_from(as_scores, videos), n_bootstrap=500)
            families = {row["name"]: row["all_reals"]["auc"] for row in tables["families"]}
            generators = {row["name"]: row["all_reals"]["auc"] for row in tables["generators"]}
            checks = {c["name"]: c["own_sources"]["auc"] for c in tables["same_person"]}
            report[subset][name] = {"overall": tables["overall"]["all_reals"]["auc"], "families": families,
                                    "generators": generators, "same_person": checks}
            print(subset, name, json.dumps(report[subset][name], default=lambda v: round(v, 3)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
