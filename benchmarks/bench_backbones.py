"""CPU cost of the detector backbones: milliseconds per face crop, forward only, as `facetrust detect` runs them.

Run: `.venv/bin/python benchmarks/bench_backbones.py [--threads 2] [--batch 8] [--repeat 20]
[--arch efficientnet_lite0:224 efficientnet_lite1:240 ...] [--json FILE]`.
Weights do not change the cost, so the networks are built randomly initialised (nothing is loaded).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from facetrust.models import build_model

DEFAULT_ARCHS = [
    "efficientnet_lite0:224",
    "efficientnet_lite1:224",
    "efficientnet_lite2:224",
    "efficientnet_lite1:240",
    "efficientnet_lite2:260",
]


def time_backbone(architecture: str, size: int, *, batch: int, repeat: int) -> dict[str, float | int | str]:
    """Median and best milliseconds per crop over ``repeat`` batches (after two warm-up batches)."""
    model = build_model(architecture).eval().to(memory_format=torch.channels_last)
    images = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        for i in range(repeat + 2):
            start = time.perf_counter()
            model(images)
            if i >= 2:
                times.append((time.perf_counter() - start) * 1000 / batch)
    return {
        "architecture": architecture,
        "input_size": size,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "ms_per_crop_median": round(statistics.median(times), 2),
        "ms_per_crop_best": round(min(times), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=DEFAULT_ARCHS, help="NAME:SIZE pairs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for item in args.arch:
        name, _, size = item.partition(":")
        rows.append(time_backbone(name, int(size or 224), batch=args.batch, repeat=args.repeat))
        row = rows[-1]
        print(
            f"{row['architecture']:<20} {row['input_size']:>4} px  {row['params_m']:>5} M params  "
            f"{row['ms_per_crop_median']:>7} ms/crop (best {row['ms_per_crop_best']})"
        )
    if args.json:
        meta = {"threads": args.threads, "batch": args.batch, "repeat": args.repeat, "cpu": platform.processor()}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"settings": meta, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
