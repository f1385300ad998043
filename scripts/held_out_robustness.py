"""Score the default ensemble's held-out media under harsher re-encoding than training used.

    python scripts/held_out_robustness.py --detector blend_wholeface --store data_cache/crops \\
        --extracted data_cache/wholeface --extra-fakes data_cache/wholeface_ae --out runs/robustness.json

Same held-out items as ``scripts/fit_default_ensemble.py``; every crop of every class is re-encoded the same
way: ``training`` (the training degradations), ``h264_crf30`` / ``h264_crf38`` (always H.264 at that CRF),
``jpeg50`` (always JPEG quality 50), ``half_res`` (down- and up-scaled ×0.5). Prints, per setting, the AUC of
each fake source against the reals of its kind and how many held-out reals / fakes the fitted rules call FAKE.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from facetrust.models import create_detector
from facetrust.models.ensemble import combine
from facetrust.synthesis.degrade import DegradeConfig
from facetrust.training.ensemble_fit import load_held_out, member_probabilities

NONE = {"downscale_p": 0.0, "blur_p": 0.0, "motion_blur_p": 0.0, "noise_p": 0.0, "h264_p": 0.0, "jpeg_p": 0.0}
SETTINGS = {
    "training": DegradeConfig(),
    "h264_crf30": DegradeConfig(**{**NONE, "h264_p": 1.0, "h264_crf": (30, 30)}),
    "h264_crf38": DegradeConfig(**{**NONE, "h264_p": 1.0, "h264_crf": (38, 38)}),
    "jpeg50": DegradeConfig(**{**NONE, "jpeg_p": 1.0, "jpeg_quality": (50, 50)}),
    "half_res": DegradeConfig(**{**NONE, "downscale_p": 1.0, "downscale_range": (0.5, 0.5)}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="default")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--extracted", type=Path, nargs="+", required=True)
    parser.add_argument("--extra-fakes", type=Path, nargs="*", default=[])
    parser.add_argument("--frames-per-video", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    ensemble = create_detector(args.detector, device="cpu")
    results: dict[str, dict[str, object]] = {}
    for name, degradations in SETTINGS.items():
        items = load_held_out(args.store, args.extracted, fakes=args.extra_fakes,
                              frames_per_video=args.frames_per_video, degradations=degradations)
        probs = member_probabilities(ensemble.members, items)
        p = np.array([float(combine(ensemble.ensemble, x).mean()) for x in probs])
        labels = np.array([i.label for i in items])
        kinds = np.array([i.kind for i in items])
        sources = np.array([i.source for i in items])
        spec = ensemble.ensemble
        edge = np.where(kinds == "video", spec.track_uncertain_band[1], spec.uncertain_band[1])
        row: dict[str, object] = {}
        for source in sorted(set(sources.tolist())):
            chosen = sources == source
            entry: dict[str, object] = {"n": int(chosen.sum()), "called_fake": int((p[chosen] >= edge[chosen]).sum())}
            if labels[chosen][0] == 1:
                both = chosen | ((labels == 0) & (kinds == kinds[chosen][0]))
                entry["auc"] = round(float(roc_auc_score(labels[both], p[both])), 4)
            row[source] = entry
        results[name] = row
        print(name, json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
