"""Fit the track rule of an already trained detector without retraining it.

Usage: ``python -m facetrust.training.recalibrate SPEC.json CONFIG.yaml [key=value ...]`` — CONFIG is the
training config the detector was made with (its crop cache and held-out split are reused). Rewrites the
spec's ``track_threshold`` / ``track_uncertain_band`` (the weights and their sha256 are untouched) and
prints the per-video numbers as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from facetrust.config import load_config
from facetrust.models import load_detector_files
from facetrust.models.weights import spec_to_json
from facetrust.scoring import select_device
from facetrust.training.config import TrainConfig
from facetrust.training.prepare import prepare_crops
from facetrust.training.train import track_calibration


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        raise SystemExit(__doc__)
    spec_path, config_path, overrides = Path(args[0]), Path(args[1]), args[2:]
    cfg = load_config(TrainConfig, config_path, overrides)
    model, spec = load_detector_files(spec_path)
    device = select_device(None if cfg.device == "auto" else cfg.device)
    model = model.to(device)
    tracks = track_calibration(model, prepare_crops(cfg), cfg, spec.temperature, device)
    if not tracks:
        raise SystemExit("no held-out video crops: nothing to calibrate the track rule on")
    provenance = dict(spec.provenance)
    provenance["track_calibration"] = "per-video means over held-out real videos and their self-blends " \
        "(facetrust.training.recalibrate)"
    updated = dataclasses.replace(
        spec,
        track_threshold=float(tracks["track_threshold"]),  # type: ignore[arg-type]
        track_uncertain_band=tuple(tracks["track_uncertain_band"]),  # type: ignore[arg-type]
        provenance=provenance,
    )
    spec_path.write_text(spec_to_json(updated), encoding="utf-8")
    print(json.dumps(tracks, indent=2))


if __name__ == "__main__":
    main()
