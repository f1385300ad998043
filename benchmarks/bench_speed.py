"""Speed as a person measures it: `facetrust detect` timed from the shell, start-up, folder throughput, peak
memory, and a DFDC-winner-style pipeline on the same clip for the ratio (issue 13).

    .venv/bin/python benchmarks/bench_speed.py [--repeat 3] [--folder 20] [--json benchmarks/speed.json]

Clips: 10 s of 1920×1080 H.264 at 25 fps, made at run time from a real talking-face clip of
``../shared/data/real/videos`` (upscaled, looped; the astronaut photo drifting over a texture when the shared
data is absent), once with one keyframe every 250 frames (long GOP, as cameras and FF++ re-encodes) and once
every 25 frames (short GOP). Every figure is the wall time of a fresh process, median of ``--repeat`` runs:

(a) ``facetrust detect CLIP`` (default detector, 32 frames; start-up and model loading included);
(b) the same clip through a DFDC-winner-style pipeline: the same decoding and MTCNN, then EfficientNet-B7 at
    380 px (timm, random weights: timing only) on every face crop, also a fresh process;
(c) ``facetrust detect FOLDER`` on ``--folder`` copies of the long-GOP clip: videos per hour;
(d) start-up: an empty file rejected, and the time from launching a process to its first decoded frame
    (models loaded, as `detect` does before reading);
(e) peak RSS of (a) (``/usr/bin/time``-style, from ``wait4``).

The machine's speed is recorded before and after (``machine_reference_s``: a fixed pure-Python workload):
on a shared VM it drifts, so compare runs whose references agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FACETRUST = [sys.executable, "-m", "facetrust.cli.main"]
SOURCE_VIDEOS = ROOT.parent / "shared" / "data" / "real" / "videos"

DFDC_STYLE = r"""
import sys, time
import numpy as np, timm, torch
from facetrust.faces import create_face_detector, crop_face
from facetrust.frames import sample_times
from facetrust.media import open_media
from facetrust.types import CropSpec
torch.set_num_threads(2)
model = timm.create_model("efficientnet_b7", pretrained=False, num_classes=1).eval()
detector = create_face_detector("mtcnn")
with open_media(sys.argv[1]) as reader:
    frames = reader.read(sample_times(reader.info, mode="uniform", n=32))
faces = detector.detect([f.image for f in frames])
crops = [crop_face(f.image, boxes[0], CropSpec(size=380, margin=1.3)) for f, boxes in zip(frames, faces) if boxes]
x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255)
with torch.inference_mode():
    for start in range(0, len(x), 8):
        model(x[start:start + 8])
print(len(crops))
"""

FIRST_FRAME = r"""
import sys, time
import facetrust
from facetrust.pipeline import get_pipeline
from facetrust.media import open_media
from facetrust.frames import sample_times
get_pipeline("default", None, "mtcnn", "auto")
with open_media(sys.argv[1]) as reader:
    reader.read(sample_times(reader.info, mode="uniform", n=32)[:1])
print(time.time())
"""  # the parent subtracts the moment it launched this process (psutil's create_time is rounded to the boot
# time's whole second, too coarse for this)


def _source_frames(seconds: float, fps: int) -> list[np.ndarray]:
    import cv2

    from facetrust.media import open_media

    count = int(seconds * fps)
    candidates = sorted(SOURCE_VIDEOS.glob("*.mp4")) if SOURCE_VIDEOS.is_dir() else []
    frames: list[np.ndarray] = []
    for video in candidates:
        try:
            with open_media(video) as reader:
                if reader.info.duration and reader.info.duration >= 3 and min(reader.info.width, reader.info.height) >= 256:
                    times = [i / fps for i in range(min(count, int(reader.info.duration * fps) - 1))]
                    frames = [f.image for f in reader.read(times)]
                    break
        except Exception:  # noqa: BLE001 - any unreadable candidate: try the next one
            continue
    if not frames:  # no shared data: the astronaut drifting over a texture
        from skimage import data

        face = cv2.resize(data.astronaut(), (560, 560))
        rng = np.random.default_rng(0)
        background = cv2.GaussianBlur(rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8), (0, 0), 6)
        for i in range(count):
            frame = background.copy()
            x = 300 + int(600 * i / count)
            frame[220:780, x : x + 560] = face
            frames.append(frame)
        return frames
    looped = [frames[i % len(frames)] if (i // len(frames)) % 2 == 0 else frames[-1 - i % len(frames)]
              for i in range(count)]  # ping-pong, so the loop has no cut
    return [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC) for f in looped]


def make_clip(path: Path, frames: list[np.ndarray], gop: int) -> Path:
    from facetrust.media.testing import write_video

    return write_video(path, frames, fps=25, gop=gop, options={"preset": "veryfast", "crf": "20"})


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stdout of a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    stdout = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if process.stdout:
        process.stdout.close()
    return seconds, round(usage.ru_maxrss / 1024), stdout


REFERENCE = "sum(i * i for i in range(3_000_000))"  # single-threaded; ~0.25 s on this machine when fast


def _reference_seconds(repeat: int = 5) -> float:
    """Median wall time of a fixed pure-Python workload in this process: the machine's speed right now."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        eval(REFERENCE)  # noqa: S307 - a constant expression
        runs.append(time.perf_counter() - started)
    return round(statistics.median(runs), 3)


def median_of(repeat: int, command: list[str]) -> dict[str, object]:
    runs = [timed(command) for _ in range(repeat)]
    return {"median_s": round(statistics.median(r[0] for r in runs), 2), "all_s": [round(r[0], 2) for r in runs],
            "peak_rss_mb": max(r[1] for r in runs), "output": runs[-1][2].strip()[:200]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=int, default=20, help="clips in the folder-throughput run (0: skip)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the DFDC-style pipeline")
    parser.add_argument("--runtime", default="auto", help="facetrust detect --runtime")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--make-clips", type=Path, help=argparse.SUPPRESS)  # internal: write the two clips here
    args = parser.parse_args()
    if args.make_clips:
        frames = _source_frames(10.0, 25)
        make_clip(args.make_clips / "clip_gop250.mp4", frames, 250)
        make_clip(args.make_clips / "clip_gop25.mp4", frames, 25)
        return
    import psutil

    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {psutil.cpu_count(logical=True)} cores, "
                   f"{round(psutil.virtual_memory().total / 2**30)} GiB, {platform.python_version()}",
        "runtime": args.runtime,
    }
    # the VM's speed drifts (the same detect took 2.6 s and 4.2 s within ten minutes): a fixed pure-Python
    # workload, timed before and after, says how fast the machine was while the figures were taken
    results["machine_reference_s"] = {"before": _reference_seconds()}
    print("machine reference", results["machine_reference_s"], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # made in a child process: this one stays small, so the children's peak RSS is theirs alone
        subprocess.run([sys.executable, __file__, "--make-clips", str(folder)], check=True)
        clips = {"long_gop": folder / "clip_gop250.mp4", "short_gop": folder / "clip_gop25.mp4"}
        empty = folder / "empty.mp4"
        empty.write_bytes(b"")
        for name, clip in clips.items():
            results[f"detect_{name}"] = median_of(args.repeat, [*FACETRUST, "detect", str(clip), "--runtime",
                                                                 args.runtime])
            print(name, results[f"detect_{name}"], flush=True)
        if not args.no_baseline:
            script = folder / "dfdc_style.py"
            script.write_text(DFDC_STYLE)
            results["dfdc_style_long_gop"] = median_of(args.repeat, [sys.executable, str(script),
                                                                     str(clips["long_gop"])])
            ratio = results["dfdc_style_long_gop"]["median_s"] / results["detect_long_gop"]["median_s"]  # type: ignore[index]
            results["speedup_vs_dfdc_style"] = round(ratio, 1)
            print("dfdc-style", results["dfdc_style_long_gop"], "speed-up", results["speedup_vs_dfdc_style"], flush=True)
        results["startup_empty_file"] = median_of(args.repeat, [*FACETRUST, "detect", str(empty)])
        script = folder / "first_frame.py"
        script.write_text(FIRST_FRAME)
        firsts = []
        for _ in range(args.repeat):
            launched = time.time()
            printed = timed([sys.executable, str(script), str(clips["long_gop"])])[2].strip().splitlines()[-1]
            firsts.append(float(printed) - launched)
        results["startup_to_first_frame_s"] = round(statistics.median(firsts), 2)
        print("start-up", results["startup_empty_file"], "first frame", results["startup_to_first_frame_s"], flush=True)
        if args.folder:
            many = folder / "many"
            many.mkdir()
            for i in range(args.folder):
                shutil.copy(clips["long_gop"], many / f"clip_{i:02d}.mp4")
            seconds, rss, _ = timed([*FACETRUST, "detect", str(many), "--runtime", args.runtime])
            results["folder"] = {"videos": args.folder, "seconds": round(seconds, 1),
                                 "videos_per_hour": round(args.folder * 3600 / seconds), "peak_rss_mb": rss}
            print("folder", results["folder"], flush=True)
    results["machine_reference_s"]["after"] = _reference_seconds()  # type: ignore[index]
    print("machine reference", results["machine_reference_s"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
