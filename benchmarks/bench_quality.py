"""Detection quality against issue 12's targets: the default detector on generators it never saw.

Run: `make bench-quality` or `.venv/bin/python benchmarks/bench_quality.py [--detector default]`. Needs
`../shared/data` (its `labelled/` and `dev/` sets). It scores the detector exactly as `make eval-unseen` does
(same scan and result caches under `data_cache/eval_scans`: about 5 minutes the first time, seconds after),
checks every target (`facetrust.evaluation.unseen.check_targets`) and writes
benchmarks/results/quality_unseen.json: the goals, what was measured, whether each is met, and the headline
numbers with their 95 % bootstrap intervals. Nothing is chosen or fitted here; it records where we stand.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="default", help="detector name or spec .json")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / "data_cache" / "eval_scans")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "quality_unseen.json")
    parser.add_argument("--bootstrap", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    from facetrust.errors import FacetrustError
    from facetrust.evaluation.unseen import (
        ScanCache,
        check_targets,
        load_dev,
        load_labelled,
        score_sets,
    )
    from facetrust.pipeline import PipelineOptions

    try:
        sets = {"labelled": load_labelled(args.data), "dev": load_dev(args.data)}
    except FacetrustError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cache = ScanCache(args.cache / "scans", options=PipelineOptions(frames=32))
    logging.info("scoring %s on %s", args.detector, ", ".join(f"{len(v)} {k} videos" for k, v in sets.items()))
    try:
        name, tables = score_sets(args.detector, sets, cache, results_dir=args.cache / "results",
                                  n_bootstrap=args.bootstrap)
    except FacetrustError as exc:
        print(f"error: {args.detector}: {exc}", file=sys.stderr)
        return 2
    targets = check_targets(tables)
    labelled = tables["labelled"]
    checks = {c["name"]: c["own_sources"] for c in labelled["same_person"]}
    record = {
        "detector": name,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "targets_met": sum(t.met is True for t in targets),
        "targets_missed": sum(t.met is False for t in targets),
        "targets": [asdict(t) for t in targets],
        "headline": {
            "labelled_overall_auc": {k: labelled["overall"]["all_reals"][k] for k in ("auc", "low", "high")},
            "same_person": {k: {m: v[m] for m in ("auc", "low", "high", "pairs_fake_higher")}
                            for k, v in checks.items()},
            "families_vs_all_reals": {f["name"]: f["all_reals"]["auc"] for f in labelled["families"]},
            "labelled_reals_called_fake": labelled["reals"]["called_fake"],
            "dev_overall_auc": tables["dev"]["overall"]["all_reals"]["auc"],
            "dev_reals_called_fake": tables["dev"]["reals"]["called_fake"],
        },
        "how": "scripts/eval_unseen.py's tables (make eval-unseen); docs/detection-quality.md §12 explains them",
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    for t in targets:
        mark = "met" if t.met else "MISSED" if t.met is False else "n/a"
        measured = "—" if t.measured is None else f"{t.measured:.3f}"
        print(f"{t.subset:9s} {t.name:42s} {t.goal:>8s}  {measured:>6s}  {mark}")
    print(f"{record['targets_met']} met, {record['targets_missed']} missed; wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
