"""Score detectors on the eleven generators of ../shared/data/labelled that no facetrust model trained on.

    python scripts/eval_unseen.py                               # the default detector and its members
    python scripts/eval_unseen.py --detector runs/x/x.json      # any detector name or spec file (repeatable)
    make eval-unseen                                            # the same as the first line

Each video is decoded and its faces found once (``--cache``, about 1.3 s a video on 2 cores, so about
3 minutes for the 117 videos the first time); every detector is then scored on the cached faces exactly as
``facetrust detect`` scores them, and its per-video results are kept too, so a rerun takes seconds.

Writes ``OUT/<detector>.md`` and ``OUT/<detector>.json`` (per generator: against its own real sources and
against every real clip, families, the same-person checks, real clips called FAKE, every video's score) and
``OUT/summary.md``, one line per detector. Dev is scored as a final sanity check (``--no-dev`` to skip):
report it, never choose on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from facetrust.errors import FacetrustError
from facetrust.evaluation.unseen import (
    ScanCache,
    load_dev,
    load_labelled,
    render_markdown,
    score_sets,
)

DEFAULT_DETECTORS = ("default", "sbi_effnet_lite0", "wholeface_lite0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", action="append", help="detector name or spec .json (repeatable); "
                        f"default: {', '.join(DEFAULT_DETECTORS)}")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--cache", type=Path, default=Path("data_cache/eval_scans"), help="face scans and results")
    parser.add_argument("--out", type=Path, default=Path("runs/eval_unseen"))
    parser.add_argument("--frames", type=int, default=32, help="frames sampled per video (as facetrust detect)")
    parser.add_argument("--no-dev", action="store_true", help="skip the dev sanity check")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for the intervals")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from facetrust.pipeline import PipelineOptions

    try:
        sets = {"labelled": load_labelled(args.data)}
        if not args.no_dev:
            sets["dev"] = load_dev(args.data)
    except FacetrustError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cache = ScanCache(args.cache / "scans", options=PipelineOptions(frames=args.frames))
    args.out.mkdir(parents=True, exist_ok=True)
    summary = []
    for detector in args.detector or DEFAULT_DETECTORS:
        with Progress(TextColumn("{task.fields[label]}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("{task.description}"), transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def advance(subset: str, n: int, total: int, video, bar=bar, tasks=tasks, detector=detector) -> None:
                if subset not in tasks:
                    tasks[subset] = bar.add_task("", total=total, label=f"{detector} · {subset}")
                bar.update(tasks[subset], completed=n, description=video.path.name[:50])

            try:
                name, tables = score_sets(detector, sets, cache, results_dir=args.cache / "results",
                                          n_bootstrap=args.bootstrap, on_video=advance)
            except FacetrustError as exc:
                print(f"error: {detector}: {exc}", file=sys.stderr)
                return 2
        (args.out / f"{name}.json").write_text(json.dumps({"detector": name, "source": str(detector), **tables},
                                                          indent=1), encoding="utf-8")
        text = render_markdown(name, tables)
        (args.out / f"{name}.md").write_text(text, encoding="utf-8")
        print(text)
        summary.append(_summary_row(name, tables))
    header = ("| detector | labelled AUC | lowest generator | DeepFaceLive vs own | Wav2Lip family vs own "
              "| labelled reals FAKE | dev AUC | dev reals FAKE |\n|---|---|---|---|---|---|---|---|")
    (args.out / "summary.md").write_text(header + "\n" + "\n".join(summary) + "\n", encoding="utf-8")
    print(header, *summary, sep="\n")
    return 0


def _summary_row(name: str, tables: dict) -> str:
    lab = tables["labelled"]
    checks = {c["name"]: c["own_sources"]["auc"] for c in lab["same_person"]}
    lowest = min(lab["generators"], key=lambda r: r["all_reals"]["auc"] if r["all_reals"]["auc"] is not None else 2)

    def num(v) -> str:
        return "—" if v is None else f"{v:.3f}"

    dev = tables.get("dev")
    return (f"| {name} | {num(lab['overall']['all_reals']['auc'])} | {lowest['name']} "
            f"{num(lowest['all_reals']['auc'])} | {num(checks.get('DeepFaceLive vs own sources'))} "
            f"| {num(checks.get('Wav2Lip family vs own sources'))} | {lab['reals']['verdicts'].get('FAKE', 0)} / "
            f"{lab['reals']['n']} | {num(dev['overall']['all_reals']['auc']) if dev else '—'} "
            f"| {dev['reals']['verdicts'].get('FAKE', 0) if dev else '—'} / {dev['reals']['n'] if dev else '—'} |")


if __name__ == "__main__":
    sys.exit(main())
