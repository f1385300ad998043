"""Verdicts of ensemble specs, under their own rules, on the held-out set their fit uses (no fitting).

    python scripts/held_out_verdicts.py --detector default --detector runs/x/x.json \\
        --store data_cache/crops --extracted data_cache/wholeface --extra-fakes data_cache/wholeface_ae

Per held-out source (real videos, self-blended videos, real photos, FLUX, StyleGAN2, auto-encoder
reconstructions): REAL / UNCERTAIN / FAKE counts and the AUC against the matching reals. Use it to check a
spec whose rules were not fitted on this very set (a member swapped in, a kept calibration) against the
held-out real videos before it ships. Members run on the default runtime (onnxruntime where exported).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from facetrust.engine import load_detector
from facetrust.training.ensemble_fit import held_out_verdict, load_held_out, member_probabilities


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", action="append", required=True, help="ensemble name or spec .json")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--extracted", type=Path, nargs="+", required=True)
    parser.add_argument("--extra-fakes", type=Path, nargs="*", default=[])
    parser.add_argument("--frames-per-video", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    items = load_held_out(args.store, args.extracted, fakes=args.extra_fakes, frames_per_video=args.frames_per_video,
                          seed=args.seed)
    from sklearn.metrics import roc_auc_score

    results = {}
    for name in args.detector:
        ensemble = load_detector(name)
        probs = member_probabilities(ensemble.members, items, abstain=True)
        verdicts = [held_out_verdict(ensemble.ensemble, p, item.kind) for item, p in zip(items, probs, strict=True)]
        table: dict[str, dict[str, object]] = {}
        for source in sorted({item.source for item in items}):
            chosen = [i for i, item in enumerate(items) if item.source == source]
            counts = {v: sum(verdicts[i][1] == v for i in chosen) for v in ("REAL", "UNCERTAIN", "FAKE")}
            entry: dict[str, object] = {"n": len(chosen), **counts}
            if items[chosen[0]].label == 1:
                kind = items[chosen[0]].kind
                reals = [i for i, item in enumerate(items) if item.label == 0 and item.kind == kind]
                scores = np.array([verdicts[i][0] for i in reals + chosen])
                entry["auc_vs_reals_of_its_kind"] = round(float(roc_auc_score(
                    np.r_[np.zeros(len(reals)), np.ones(len(chosen))], scores)), 4)
            table[source] = entry
        results[name] = table
        print(name)
        for source, entry in table.items():
            print(f"  {source:28s} {entry}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
