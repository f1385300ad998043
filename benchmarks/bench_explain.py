"""Explanations: speed (issue 15 §Speed) and Grad-CAM localisation on held-out self-blends (issue 15 §1).

    .venv/bin/python benchmarks/bench_explain.py speed [--repeat 5] [--json benchmarks/results/explain_speed.json]
    .venv/bin/python benchmarks/bench_explain.py localisation [--count 80] \
        [--region face|lower] [--json benchmarks/results/explain_localisation.json]

speed: (a) Grad-CAM of one face crop with the default detector's blend member on PyTorch (model loaded;
median of ``--repeat``); (b) a 10-s 1920×1080 clip made as bench_speed.py makes it: ``facetrust.analyze``
against ``facetrust.explain.analyze_and_explain`` (default Grad-CAM, 3 faces per person), both warm (models
loaded, median of ``--repeat``), and the one-off cost of loading the PyTorch models the first time.

localisation: real faces of identities the blend member never trained on (the ``holdout`` rows of its crop
index, data_cache/crops/index.csv, at most 2 per identity), read from ../shared/data, found with MTCNN,
self-blended (facetrust.synthesis.self_blend, default SbiConfig) and cut like the detector cuts them; per
fake: the share of Grad-CAM (and Grad-CAM++) mass inside the blend mask divided by the mask's share of the
crop (1 = a uniform map), and the pointing game (is the map's maximum inside the mask). A centred Gaussian
(a map that only knows faces are in the middle) is scored the same way, as the bar to clear; ``--region
lower`` blends only the jaw and mouth (off-centre, where that bar is lower).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CROP_INDEX = ROOT / "data_cache" / "crops" / "index.csv"


def _machine() -> str:
    import os

    import torch

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}); "
            f"load average at start {load} (shared machine)")


def speed(repeat: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_speed import _source_frames, make_clip

    import facetrust
    import facetrust.explain as fx
    from facetrust.demo import self_blended_astronaut
    from facetrust.faces import create_face_detector, crop_face
    from facetrust.pipeline import get_detector

    results: dict[str, object] = {"machine": _machine()}
    started = time.perf_counter()
    ensemble = get_detector("default", None, "torch")
    results["load_torch_models_s"] = round(time.perf_counter() - started, 2)
    from facetrust.explain.target import ExplainTarget

    member = next(m for m in ensemble.members if m.spec.name == "sbi_effnet_lite0")
    target = ExplainTarget(member)
    image = self_blended_astronaut()
    face = create_face_detector("mtcnn").detect([image])[0][0]
    crop = crop_face(image, face, member.spec.crop)
    gradcam = fx.make_explainer("gradcam")
    gradcam.attribute(target, [crop], 0)  # warm-up (first call imports the grad-cam package)
    times = []
    for _ in range(repeat):
        mark = time.perf_counter()
        gradcam.attribute(target, [crop], 0)
        times.append(time.perf_counter() - mark)
    results["gradcam_one_face_s"] = {"median": round(statistics.median(times), 3), "all": [round(t, 3) for t in times]}

    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "clip.mp4", _source_frames(10.0, 25), 250)
        facetrust.analyze(clip)  # warm: the ONNX models and MTCNN loaded
        analyze_s, explain_s, reuse_s, faces = [], [], [], 0
        for _ in range(repeat):
            mark = time.perf_counter()
            report = facetrust.analyze(clip)
            analyze_s.append(time.perf_counter() - mark)
            mark = time.perf_counter()
            report2, explained = fx.analyze_and_explain(clip)
            explain_s.append(time.perf_counter() - mark)
            faces = len(explained)
            mark = time.perf_counter()
            fx.explain(clip, report=report)  # the report re-used: 3 frames decoded again, cut, explained
            reuse_s.append(time.perf_counter() - mark)
        a, e = statistics.median(analyze_s), statistics.median(explain_s)
        results["video_10s_1080p"] = {
            "verdict": str(report.verdict), "people": len(report.people), "faces_explained": faces,
            "analyze_s": {"median": round(a, 2), "all": [round(t, 2) for t in analyze_s]},
            "analyze_and_explain_s": {"median": round(e, 2), "all": [round(t, 2) for t in explain_s]},
            "added_by_explanations_s": round(e - a, 2),
            "explain_given_the_report_s": {"median": round(statistics.median(reuse_s), 2),
                                           "all": [round(t, 2) for t in reuse_s]},
            "note": "warm: models loaded; the first explanation in a process also loads the PyTorch models "
                    "(load_torch_models_s)",
        }
    return results


def _holdout_items(count: int) -> list[dict[str, str]]:
    rows = [r for r in csv.DictReader(CROP_INDEX.open()) if r["split"] == "holdout"]
    rng = np.random.default_rng(0)
    by_group: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_group.setdefault(row["group"], []).append(row)
    picked: list[dict[str, str]] = []
    for group in sorted(by_group):
        items = by_group[group]
        for i in rng.choice(len(items), size=min(2, len(items)), replace=False):
            picked.append(items[int(i)])
    rng.shuffle(picked)
    return picked[: count * 2]  # spares: some faces are not found again or too small


def _frame(row: dict[str, str]) -> np.ndarray | None:
    from facetrust.media import open_media

    with open_media(DATA / row["path"]) as reader:
        frames = reader.read([float(row["timestamp"] or 0.0)])
    return frames[0].image if frames else None


def localisation(count: int, region: str = "face") -> dict[str, object]:
    import facetrust.explain as fx
    from facetrust.explain.metrics import localisation as score
    from facetrust.explain.metrics import self_blended_crop
    from facetrust.explain.target import ExplainTarget
    from facetrust.faces import create_face_detector
    from facetrust.pipeline import get_detector
    from facetrust.synthesis import SbiConfig

    member = next(m for m in get_detector("default", None, "torch").members if m.spec.name == "sbi_effnet_lite0")
    target = ExplainTarget(member)
    finder = create_face_detector("mtcnn")
    methods = {name: fx.make_explainer(name) for name in ("gradcam", "gradcam++")}
    size = member.spec.crop.size
    ys, xs = np.mgrid[0:size, 0:size]
    centre = np.exp(-(((xs - size / 2) ** 2 + (ys - size / 2) ** 2) / (2 * (size / 5) ** 2))).astype(np.float32)
    config = SbiConfig(lower_face_share=1.0) if region == "lower" else SbiConfig()
    per_item: list[dict[str, object]] = []
    groups: set[str] = set()
    for n, row in enumerate(_holdout_items(count)):
        if len(per_item) >= count:
            break
        image = _frame(row)
        faces = finder.detect([image])[0] if image is not None else []
        faces = [f for f in faces if f.landmarks is not None and f.size >= 40]
        if not faces:
            continue
        face = max(faces, key=lambda f: f.size)
        crop, mask = self_blended_crop(image, face, member.spec.crop, np.random.default_rng(1000 + n), config)
        if mask.max() <= 0:
            continue
        item: dict[str, object] = {"path": row["path"], "group": row["group"],
                                   "fake_probability": round(target.probability([crop], 0), 4)}
        for name, explainer in methods.items():
            result = score(explainer.attribute(target, [crop], 0).heatmap, mask)
            item[name] = {"mass_ratio": round(result.mass_ratio, 3), "hit": result.pointing_hit,
                          "region_share": round(result.region_share, 3)}
        baseline = score(centre, mask)
        item["centre_gaussian"] = {"mass_ratio": round(baseline.mass_ratio, 3), "hit": baseline.pointing_hit}
        per_item.append(item)
        groups.add(row["group"])
        print(f"{len(per_item):3d} {row['group']:<40} p={item['fake_probability']:.2f} "
              f"gradcam ratio {item['gradcam']['mass_ratio']:.2f} hit {item['gradcam']['hit']}", file=sys.stderr)

    def summary(items: list[dict[str, object]], key: str) -> dict[str, object]:
        ratios = [float(i[key]["mass_ratio"]) for i in items]  # type: ignore[index]
        return {"n": len(items), "mass_ratio_mean": round(float(np.mean(ratios)), 3),
                "mass_ratio_median": round(float(np.median(ratios)), 3),
                "share_above_1": round(float(np.mean([r > 1 for r in ratios])), 3),
                "pointing_game": round(float(np.mean([i[key]["hit"] for i in items])), 3)}  # type: ignore[index]

    threshold = member.spec.threshold
    flagged = [i for i in per_item if float(i["fake_probability"]) >= threshold]  # type: ignore[arg-type]
    return {
        "machine": _machine(), "detector": member.spec.name, "blend_region": region, "identities": len(groups),
        "region_share_mean": round(float(np.mean([i["gradcam"]["region_share"] for i in per_item])), 3),  # type: ignore[index]
        "all": {key: summary(per_item, key) for key in ("gradcam", "gradcam++", "centre_gaussian")},
        f"called_fake_p>={threshold}": {key: summary(flagged, key) for key in ("gradcam", "gradcam++",
                                                                                   "centre_gaussian")},
        "items": per_item,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "localisation"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--region", choices=["face", "lower"], default="face",
                        help="localisation: blend the inner face (default) or only the jaw and mouth")
    parser.add_argument("--omp-passive", action="store_true",
                        help="set OMP_WAIT_POLICY=PASSIVE before torch loads (idle OpenMP threads sleep instead "
                             "of spinning: much faster on a busy 2-core machine)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.omp_passive:
        import os

        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read once, when torch's OpenMP runtime starts
    results = speed(args.repeat) if args.what == "speed" else localisation(args.count, args.region)
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text if args.what == "speed" else json.dumps({k: v for k, v in results.items() if k != "items"}, indent=2))


if __name__ == "__main__":
    main()
