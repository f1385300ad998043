"""Files per hour of a corpus scan on this machine: in-process, 1 and 2 Ray workers, on N short clips.

Run: `nice .venv/bin/python benchmarks/bench_scan.py [--clips 16] [--frames 32] [--workers 0 1 2] [--repeat 1]`.
The clips are 2-second 448x448 pans (25 fps) over the astronaut photo and over a self-blended fake of it, as
in `facetrust demo`. Each run starts from an empty output and, for Ray, starts its own local Ray (its start-up
is counted in "files/hour", and reported apart). Writes benchmarks/results/scan_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clips(directory: Path, count: int) -> list[Path]:
    from facetrust.demo import astronaut, self_blended_astronaut
    from facetrust.media.testing import write_video

    sources = [astronaut(), self_blended_astronaut()]
    paths = []
    for i in range(count):
        image = sources[i % 2]
        top, travel, size = 40 + 4 * (i // 2), 20 + 5 * (i // 2), 448
        frames = [np.ascontiguousarray(image[top : top + size, int(travel * k / 49) : int(travel * k / 49) + size])
                  for k in range(50)]
        paths.append(write_video(directory / f"clip_{i:02d}_{'real' if i % 2 == 0 else 'fake'}.mp4", frames, fps=25))
    return paths


def run_once(paths: list[Path], workers: int, frames: int, directory: Path) -> dict:
    from facetrust.scan import read_results, scan_corpus

    out = directory / f"results_{workers}_{time.monotonic_ns()}.parquet"
    summary = scan_corpus(paths, out, workers=workers, frames=frames)
    rows = read_results(out)
    assert summary.analysed == len(paths) and not summary.failed, summary.text()
    steady = summary.seconds - summary.startup_seconds
    return {
        "seconds": summary.seconds,
        "startup_seconds": summary.startup_seconds,
        "files_per_hour": summary.files_per_hour,
        "files_per_hour_after_startup": round(len(paths) / steady * 3600, 1) if steady > 0 else None,
        "mean_seconds_per_file_in_worker": round(statistics.mean(r["seconds"] for r in rows), 3),
        "verdicts": summary.verdicts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scan_cpu.json")
    args = parser.parse_args()

    import ray

    with tempfile.TemporaryDirectory(prefix="facetrust-bench-scan-") as tmp:
        directory = Path(tmp)
        paths = make_clips(directory, args.clips)
        runs: dict[str, list[dict]] = {}
        load_before = os.getloadavg()
        for _ in range(args.repeat):
            for workers in args.workers:
                label = "in-process" if workers == 0 else f"ray_{workers}_workers"
                result = run_once(paths, workers, args.frames, directory)
                runs.setdefault(label, []).append(result)
                print(f"{label:>15}: {result['seconds']:6.1f} s (start-up {result['startup_seconds']:4.1f} s), "
                      f"{result['files_per_hour']:8,.0f} files/h, {result['files_per_hour_after_startup']:8,.0f} "
                      f"files/h after start-up, {result['mean_seconds_per_file_in_worker']:.2f} s per file in a worker",
                      flush=True)
    summary = {label: {key: round(statistics.median(r[key] for r in results), 2) for key in
                       ("seconds", "startup_seconds", "files_per_hour", "files_per_hour_after_startup",
                        "mean_seconds_per_file_in_worker")} for label, results in runs.items()}
    record = {
        "what": f"facetrust scan of {args.clips} clips (2 s, 448x448, 25 fps; {args.frames} frames analysed each)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"Ray {ray.__version__}",
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "median": summary,
        "runs": runs,
        "command": "nice .venv/bin/python benchmarks/bench_scan.py " + " ".join(
            f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in
            (("clips", args.clips), ("frames", args.frames), ("workers", args.workers), ("repeat", args.repeat))),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
