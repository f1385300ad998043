"""End-to-end speed and memory of `facetrust.analyze` on a generated 10-second 1080p clip with a face.

Run: `make bench` or `.venv/bin/python benchmarks/bench_detect.py [--frames 32] [--device cpu] [--repeat 3]`.
Reports seconds per video (first call excluded: model loading is reported separately), per stage
(decode / detect / classify), and peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch


def make_clip(path: Path, seconds: float = 10.0, fps: int = 30) -> Path:
    """A 1920×1080 H.264 clip: the astronaut's face drifting over a textured background."""
    from skimage import data

    from facetrust.media.testing import write_video

    face = cv2.resize(data.astronaut(), (560, 560), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8), (0, 0), 6)
    frames = []
    for i in range(int(seconds * fps)):
        frame = background.copy()
        x = 300 + int(600 * i / (seconds * fps))
        y = 220 + int(40 * np.sin(i / 15))
        frame[y : y + 560, x : x + 560] = face
        frames.append(frame)
    return write_video(path, frames, fps=fps)


def measure(clip: Path, devices: list[str], frames: int, repeat: int) -> dict:
    """Run in a fresh process (see main), so its peak RSS is that of loading + analysing only."""
    import facetrust

    results: dict = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads", "runs": []}
    if True:
        for device in devices:
            started = time.perf_counter()
            facetrust.load_detector("default", device=device)
            from facetrust.pipeline import get_pipeline

            get_pipeline("default", device, "mtcnn")
            load_s = time.perf_counter() - started
            totals, stages = [], {"decode": [], "detect": [], "classify": []}
            report = None
            for _ in range(repeat):
                started = time.perf_counter()
                report = facetrust.analyze(clip, frames=frames, device=device)
                totals.append(time.perf_counter() - started)
                for key in stages:
                    stages[key].append(report.timings[key])
            assert report is not None
            run = {
                "device": device,
                "frames": frames,
                "model_load_s": round(load_s, 2),
                "seconds_per_video_median": round(statistics.median(totals), 2),
                "seconds_per_video_all": [round(t, 2) for t in totals],
                "stages_median_s": {k: round(statistics.median(v), 2) for k, v in stages.items()},
                "verdict": str(report.verdict),
                "fake_probability": report.fake_probability,
            }
            results["runs"].append(run)
    results["peak_rss_mb"] = peak_rss_mb()
    return results


def peak_rss_mb() -> int:
    """Peak resident memory of this process. VmHWM belongs to the current address space; ru_maxrss would
    also count the parent's memory at fork time, which Linux carries across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", action="append", help="cpu / cuda (default: cpu, plus cuda if present)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)  # internal: measure this clip, print JSON
    args = parser.parse_args()
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if args.clip:
        print(json.dumps(measure(args.clip, devices, args.frames, args.repeat)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        clip = make_clip(Path(tmp) / "bench 1080p.mp4")
        print(f"made {clip.name} ({clip.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
        command = [sys.executable, __file__, "--clip", str(clip), "--frames", str(args.frames),
                   "--repeat", str(args.repeat)] + [f"--device={d}" for d in devices]
        child = subprocess.run(command, check=True, capture_output=True, text=True)
    results = json.loads(child.stdout.strip().splitlines()[-1])
    for run in results["runs"]:
        print(json.dumps(run))
    print(f"peak RSS of the analysing process: {results['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
