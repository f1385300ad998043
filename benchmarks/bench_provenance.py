"""What the provenance check adds per file (issue 17: at most 50 ms when no manifest is present).

    nice .venv/bin/python benchmarks/bench_provenance.py [--repeat 30] [--json benchmarks/results/provenance_cpu.json]

Files are made at run time in a temporary folder, all without Content Credentials unless named "signed":
a 1920×1080 JPEG and PNG, a 4000×3000 JPEG, a 10 s 1280×720 H.264 MP4, and a C2PA-signed 1920×1080 JPEG
for comparison. Per file: the median and 95th percentile of ``check_provenance`` over ``--repeat`` calls in
one process (warm: c2pa, PyAV and Pillow already imported, file in the page cache, as in a batch), split into
the unsigned-metadata readers (XMP/EXIF/PNG text/container tags) and the C2PA reader. Also the one-off cost
of the first call in a fresh process (importing c2pa), median of 5 processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_files(folder: Path) -> dict[str, Path]:
    import cv2
    from skimage import data

    from facetrust.media.testing import write_image, write_video
    from facetrust.provenance.testing import IPTC, actions_manifest, make_test_signer, sign_file

    rng = np.random.default_rng(0)
    photo = cv2.resize(np.ascontiguousarray(data.astronaut()), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    noisy = np.clip(photo.astype(np.int16) + rng.integers(-12, 12, photo.shape), 0, 255).astype(np.uint8)
    files = {
        "jpeg_1080p": folder / "photo_1080p.jpg",
        "png_1080p": folder / "photo_1080p.png",
        "jpeg_12mp": folder / "photo_12mp.jpg",
        "mp4_720p_10s": folder / "clip_720p.mp4",
        "signed_jpeg_1080p": folder / "signed_1080p.jpg",
    }
    write_image(files["jpeg_1080p"], noisy)
    write_image(files["png_1080p"], noisy)
    write_image(files["jpeg_12mp"], cv2.resize(noisy, (4000, 3000), interpolation=cv2.INTER_CUBIC))
    small = cv2.resize(noisy, (1280, 720), interpolation=cv2.INTER_AREA)
    write_video(files["mp4_720p_10s"], [np.roll(small, 4 * i, axis=1) for i in range(250)], fps=25)
    manifest = actions_manifest({"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"})
    sign_file(files["jpeg_1080p"], files["signed_jpeg_1080p"], manifest, make_test_signer())
    return files


def time_calls(function, repeat: int) -> dict[str, float]:
    function()  # warm-up: imports, page cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2)}


def first_call_ms(path: Path, kind: str, processes: int = 5) -> float:
    """Wall time of the first check_provenance in a fresh process (c2pa imported then), median."""
    code = ("import time; from facetrust.provenance import check_provenance; s = time.perf_counter(); "
            f"check_provenance({str(path)!r}, media_kind={kind!r}); print((time.perf_counter() - s) * 1000)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(processes)]
    return round(statistics.median(runs), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from facetrust.provenance import check_provenance
    from facetrust.provenance.credentials import read_credentials
    from facetrust.provenance.embedded import read_embedded
    from facetrust.provenance.trust import NO_TRUST_ANCHORS

    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "repeat": args.repeat,
    }
    with tempfile.TemporaryDirectory(prefix="facetrust-provenance-bench-") as tmp:
        files = make_files(Path(tmp))
        for name, path in files.items():
            kind = "video" if path.suffix == ".mp4" else "image"
            status = check_provenance(path, media_kind=kind).status
            results[name] = {
                "size_mb": round(path.stat().st_size / 1e6, 2),
                "status": str(status),
                "total": time_calls(lambda p=path, k=kind: check_provenance(p, media_kind=k), args.repeat),
                "unsigned_metadata": time_calls(lambda p=path, k=kind: read_embedded(p, k), args.repeat),
                "c2pa": time_calls(lambda p=path: read_credentials(p, NO_TRUST_ANCHORS), args.repeat),
            }
            print(f"{name:18} {results[name]['size_mb']:6.2f} MB  {status:18}  "  # noqa: T201 - a script
                  f"total {results[name]['total']['median_ms']:6.2f} ms (p95 {results[name]['total']['p95_ms']:.2f})")
        results["first_call_in_new_process_ms"] = first_call_ms(files["jpeg_1080p"], "image")
        print(f"first call in a fresh process (imports c2pa): {results['first_call_in_new_process_ms']} ms")  # noqa: T201
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
