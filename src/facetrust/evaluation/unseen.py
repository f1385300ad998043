"""Unseen-generator evaluation: score detectors on generated videos that no facetrust model trained on.

The set is ``../shared/data/labelled`` (eleven generators: face swaps, lip-syncs, talking heads, each fake
sharing its ``group`` with its own real source where one exists) and, as a final sanity check only, the dev
set (``../shared/data/dev``). Nothing here chooses or fits anything: it reports.

What it costs is decoding and face detection (about 1.3 s a video on 2 cores), so each file is scanned once
(:func:`facetrust.pipeline.scan_faces`, the same sampling, face detector, crop and tracking as
``facetrust detect``) into a :class:`ScanCache`; a detector is then scored on the cached faces through
:meth:`facetrust.pipeline.Pipeline.report_from_scan`, which gives the very report ``facetrust detect`` gives.
Per-video results are cached per detector (keyed by its weights' checksums), so a table is rebuilt in seconds.

The table (:func:`unseen_tables`), for every generator:

- (a) its fakes against **their own real sources** (same ``group``: same person, usually the same frames),
  with the share of pairs in which the fake scores above its own source;
- (b) its fakes against **every real clip** of the set (their own sources and the fixed pool of the others);
- (c) families of generators and the whole set, the DeepFaceLive and Wav2Lip-family same-person checks on
  their own; the number of real clips called FAKE.

AUC intervals are 95 % bootstrap intervals that resample whole groups (a fake and its source together).
Items without a usable face (NO_FACE, unreadable) are listed and counted, never given a score.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import FacetrustError, InputError

logger = logging.getLogger(__name__)

SCAN_FORMAT = 2  # bump when what a cached scan holds changes (2: salvage of cut-off videos, warnings)

#: Families of generators in ``labelled/`` (their manifest ``method``), reported together as well as alone.
FAMILIES: dict[str, tuple[str, ...]] = {
    "face swap": ("deepfacelive", "roop"),
    "lip-sync": ("wav2lip", "wav2lip_gfpgan", "latentsync", "hyperlips", "dinet"),
    "talking head / reenactment": ("anitalker", "aniportrait", "geneface", "fsrt"),
}
#: The same-person checks with the most pairs, reported on their own (issue 12).
SAME_PERSON_CHECKS: dict[str, tuple[str, ...]] = {
    "DeepFaceLive vs own sources": ("deepfacelive",),
    "Wav2Lip family vs own sources": ("wav2lip", "wav2lip_gfpgan"),
}


@dataclass(frozen=True)
class EvalVideo:
    """One video of an evaluation set."""

    path: Path
    label: int  # 0 real, 1 fake
    method: str  # the generator ("camera" for reals)
    group: str  # a fake and its real source share one
    subset: str  # "labelled" or "dev"

    @property
    def key(self) -> str:
        return f"{self.subset}/{self.path.name}"


def load_labelled(data_root: Path) -> list[EvalVideo]:
    """The videos of ``DATA/labelled/manifest.csv``; :class:`InputError` when the set is missing."""
    return _load(Path(data_root) / "labelled", Path(data_root) / "labelled" / "manifest.csv", "labelled", "")


def load_dev(data_root: Path) -> list[EvalVideo]:
    """The dev videos of ``DATA/manifest.csv`` (rows under ``dev/``)."""
    return _load(Path(data_root), Path(data_root) / "manifest.csv", "dev", "dev/")


def _load(root: Path, manifest: Path, subset: str, prefix: str) -> list[EvalVideo]:
    if not manifest.is_file():
        raise InputError(f"no manifest at {manifest}: is the shared data folder there?")
    videos = []
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if not row["path"].startswith(prefix):
                continue
            if row["label"] not in ("real", "fake"):
                raise InputError(f"{manifest}: label must be real or fake, got {row['label']!r}")
            path = root / row["path"]
            if not path.is_file():
                raise InputError(f"{manifest} lists {row['path']}, which is missing under {root}")
            label = int(row["label"] == "fake")
            method = _method_name(row["method"]) if label else "real"
            videos.append(EvalVideo(path, label, method, row["group"], subset))
    if not videos:
        raise InputError(f"{manifest} lists no {subset} videos")
    return videos


def _method_name(method: str) -> str:
    """Short generator names for the dev set's long method descriptions (``PD-FGC (progressive …)``)."""
    return method.split("(")[0].strip().replace(" face swap", "").replace(" ", "_") or method


# --------------------------------------------------------------------------------------------- scanning


class ScanCache:
    """Face scans of media files on disk, keyed by the file (path, size, mtime), the sampling options, the
    face detector and the crop. A scan keeps only the crops of tracked faces."""

    def __init__(self, directory: Path, *, face_detector: str = "mtcnn", options: Any = None) -> None:
        from facetrust.pipeline import PipelineOptions

        self.directory = Path(directory)
        self.face_detector_name = face_detector
        self.options = options or PipelineOptions()
        self._face_detector: Any = None

    @property
    def face_detector(self) -> Any:
        """The face detector that scans (loaded on first use)."""
        from facetrust.faces import create_face_detector

        if self._face_detector is None:
            self._face_detector = create_face_detector(self.face_detector_name)
        return self._face_detector

    def _key(self, path: Path, crop: Any) -> str:
        stat = path.stat()
        ident = json.dumps([SCAN_FORMAT, str(path.resolve()), stat.st_size, stat.st_mtime_ns,
                            asdict(self.options), self.face_detector_name, asdict(crop)], sort_keys=True)
        return hashlib.sha256(ident.encode()).hexdigest()[:24]

    def scan(self, path: Path, crop: Any) -> Any:
        """The :class:`facetrust.pipeline.FaceScan` of ``path`` (from the cache when there), or the
        :class:`FacetrustError` that reading it raised (cached as well: an unreadable file stays unreadable)."""
        from facetrust.pipeline import scan_faces

        file = self.directory / f"{self._key(path, crop)}.pkl"
        if file.is_file():
            with file.open("rb") as handle:
                return pickle.load(handle)  # our own cache, written below
        try:
            result: Any = _slim(scan_faces(path, self.face_detector, crop, self.options))
        except FacetrustError as exc:
            result = exc
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=self.directory, delete=False, suffix=".tmp") as handle:
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, file)
        return result


def _slim(scan: Any) -> Any:
    """Drop the crops of faces that no track kept (the pipeline never scores them)."""
    face_keys = {id(face): (ordinal, k) for ordinal, _, faces in scan.sampled for k, face in enumerate(faces)}
    kept = {face_keys[id(obs.face)] for track in scan.tracking.tracks for obs in track.observations}
    return replace(scan, crops={k: v for k, v in scan.crops.items() if k in kept})


# ---------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class VideoResult:
    """One detector's answer for one video."""

    key: str
    verdict: str
    fake_probability: float | None  # None: no usable face, or unreadable
    members: dict[str, float] = field(default_factory=dict)  # ensemble members' mean probabilities
    error: str = ""


def detector_fingerprint(detector: Any) -> str:
    """A checksum of everything that decides a detector's scores: weights and rules, of every member."""
    spec = detector.spec
    parts: list[Any] = [spec.name, spec.sha256, spec.threshold, list(spec.uncertain_band),
                        spec.track_threshold, spec.track_uncertain_band, spec.track_min_frames]
    for member in getattr(detector, "members", ()):
        parts.append(detector_fingerprint(member))
    for attr in ("combination", "calibrations", "roles"):
        if hasattr(spec, attr):
            parts.append(repr(getattr(spec, attr)))
    return hashlib.sha256(json.dumps(parts, default=repr).encode()).hexdigest()[:16]


def score_videos(
    detector: str | os.PathLike[str] | Any,
    videos: Sequence[EvalVideo],
    cache: ScanCache,
    *,
    results_dir: Path | None = None,
    on_video: Callable[[int, int, EvalVideo], None] | None = None,
) -> tuple[str, dict[str, VideoResult]]:
    """Score ``videos`` with ``detector`` (a name, a spec file, or a detector already loaded by
    :func:`facetrust.engine.load_detector`) on cached scans.

    Returns the detector's display name and ``{video key: result}``. With ``results_dir``, results are
    kept per detector fingerprint and reused."""
    from facetrust.engine import load_detector, runtime_of
    from facetrust.pipeline import Pipeline

    # as `facetrust detect` runs it (onnxruntime when it has graphs)
    model = detector if hasattr(detector, "spec") else load_detector(str(detector))
    name = model.spec.name
    stored: dict[str, dict[str, Any]] = {}
    store_file = None
    if results_dir is not None:
        # keyed by the weights and rules, and by how scans are made: results of older scans are not reused
        store_file = (Path(results_dir)
                      / f"{name}-{detector_fingerprint(model)}-scan{SCAN_FORMAT}-{runtime_of(model)}.json")
        if store_file.is_file():
            stored = json.loads(store_file.read_text(encoding="utf-8"))
    pipeline = Pipeline(model, cache.face_detector)
    results: dict[str, VideoResult] = {}
    for n, video in enumerate(videos):
        if on_video is not None:
            on_video(n, len(videos), video)
        if video.key in stored:
            results[video.key] = VideoResult(**stored[video.key])
            continue
        scan = cache.scan(video.path, model.spec.crop)
        if isinstance(scan, FacetrustError):
            result = VideoResult(video.key, "ERROR", None, error=f"{type(scan).__name__}: {scan}")
        else:
            report = pipeline.report_from_scan(scan, cache.options, path=str(video.path))
            members: dict[str, float] = {}
            for person in report.people:
                for member in person.members:
                    members[member.member] = max(members.get(member.member, 0.0), member.fake_probability)
            result = VideoResult(video.key, str(report.verdict), report.fake_probability, members)
        results[video.key] = result
        stored[video.key] = asdict(result)
    if store_file is not None:
        store_file.parent.mkdir(parents=True, exist_ok=True)
        store_file.write_text(json.dumps(stored, indent=1, sort_keys=True), encoding="utf-8")
    return name, results


def score_sets(
    detector: str | os.PathLike[str],
    sets: Mapping[str, Sequence[EvalVideo]],
    cache: ScanCache,
    *,
    results_dir: Path | None = None,
    n_bootstrap: int = 2000,
    on_video: Callable[[str, int, int, EvalVideo], None] | None = None,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """:func:`score_videos` then :func:`unseen_tables` for each named set (e.g. ``{"labelled": ..., "dev":
    ...}``): the detector's display name and ``{set: tables}``. ``on_video(set, n, total, video)`` reports
    progress."""
    from facetrust.engine import load_detector

    model = load_detector(str(detector))  # once for every set
    name, tables = model.spec.name, {}
    for subset, videos in sets.items():
        report = None if on_video is None else (lambda n, total, video, subset=subset: on_video(subset, n, total, video))
        name, results = score_videos(model, videos, cache, results_dir=results_dir, on_video=report)
        tables[subset] = unseen_tables(videos, results, n_bootstrap=n_bootstrap)
    return name, tables


def probabilities_from(
    scores: Mapping[str, float | None], videos: Sequence[EvalVideo], name: str = "scores"
) -> dict[str, VideoResult]:
    """Wrap plain per-video probabilities (e.g. of an experimental model scored elsewhere) as results, so
    :func:`unseen_tables` can tabulate them; verdicts are not known and left empty."""
    return {v.key: VideoResult(v.key, "", scores.get(v.key)) for v in videos}


# ---------------------------------------------------------------------------------------------- tables


def _auc(fakes: Sequence[float], reals: Sequence[float], fake_groups: Sequence[str], real_groups: Sequence[str],
         *, n_bootstrap: int, seed: int) -> dict[str, Any]:
    from facetrust.evaluation.metrics import binary_report

    out: dict[str, Any] = {"n_fake": len(fakes), "n_real": len(reals), "auc": None, "low": None, "high": None}
    if not fakes or not reals:
        return out
    labels = [1] * len(fakes) + [0] * len(reals)
    report = binary_report(labels, list(fakes) + list(reals), groups=list(fake_groups) + list(real_groups),
                           n_bootstrap=n_bootstrap if len(set(fake_groups) | set(real_groups)) > 1 else 0,
                           seed=seed)
    interval = report.intervals.get("auc")
    out.update(auc=report.auc, low=interval.low if interval else None, high=interval.high if interval else None)
    return out


def _verdict_counts(results: Iterable[VideoResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return counts


def unseen_tables(
    videos: Sequence[EvalVideo],
    results: Mapping[str, VideoResult],
    *,
    n_bootstrap: int = 2000,
    seed: int = 0,
    families: Mapping[str, Sequence[str]] | None = None,
    same_person: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Per-generator, per-family and overall numbers for one detector's ``results`` on ``videos``."""
    families = FAMILIES if families is None else families
    same_person = SAME_PERSON_CHECKS if same_person is None else same_person
    scored = [v for v in videos if results.get(v.key) is not None and results[v.key].fake_probability is not None]
    unscored = [{"video": v.key, "verdict": results[v.key].verdict if v.key in results else "missing",
                 "error": results[v.key].error if v.key in results else ""}
                for v in videos if v not in scored]
    p = {v.key: float(results[v.key].fake_probability) for v in scored}  # type: ignore[arg-type]
    reals = [v for v in scored if v.label == 0]
    fakes = [v for v in scored if v.label == 1]
    reals_by_group: dict[str, list[EvalVideo]] = {}
    for v in reals:
        reals_by_group.setdefault(v.group, []).append(v)

    def own_sources(selected: Sequence[EvalVideo]) -> tuple[list[EvalVideo], list[EvalVideo]]:
        paired = [f for f in selected if f.group in reals_by_group]
        sources = sorted({r for f in paired for r in reals_by_group[f.group]}, key=lambda r: r.key)
        return paired, sources

    def row(name: str, selected: Sequence[EvalVideo]) -> dict[str, Any]:
        paired, sources = own_sources(selected)
        wins = [float(np.mean([p[f.key] > p[r.key] for r in reals_by_group[f.group]])) for f in paired]
        return {
            "name": name,
            "n_fake": len(selected),
            "mean_probability": float(np.mean([p[f.key] for f in selected])) if selected else None,
            "verdicts": _verdict_counts(results[f.key] for f in selected),
            "own_sources": {
                **_auc([p[f.key] for f in paired], [p[r.key] for r in sources], [f.group for f in paired],
                       [r.group for r in sources], n_bootstrap=n_bootstrap, seed=seed),
                "pairs_fake_higher": float(np.mean(wins)) if wins else None,
            },
            "all_reals": _auc([p[f.key] for f in selected], [p[r.key] for r in reals],
                              [f.group for f in selected], [r.group for r in reals],
                              n_bootstrap=n_bootstrap, seed=seed),
        }

    methods = sorted({v.method for v in fakes})
    per_method = [row(m, [f for f in fakes if f.method == m]) for m in methods]
    family_rows = [row(name, [f for f in fakes if f.method in members])
                   for name, members in families.items() if any(f.method in members for f in fakes)]
    checks = [row(name, [f for f in fakes if f.method in members])
              for name, members in same_person.items() if any(f.method in members for f in fakes)]
    overall = row("all generators", fakes)
    aucs = [r["all_reals"]["auc"] for r in per_method if r["all_reals"]["auc"] is not None]
    return {
        "n_videos": len(videos),
        "n_scored": len(scored),
        "unscored": unscored,
        "reals": {"n": len(reals), "verdicts": _verdict_counts(results[r.key] for r in reals),
                  "called_fake": sorted(r.key for r in reals if results[r.key].verdict == "FAKE")},
        "overall": overall,
        "generators_macro_auc": float(np.mean(aucs)) if aucs else None,
        "generators_min_auc": min(aucs) if aucs else None,
        "same_person": checks,
        "families": family_rows,
        "generators": per_method,
        "per_video": {v.key: {"label": v.label, "method": v.method, "group": v.group,
                              **asdict(results[v.key])} for v in videos if v.key in results},
    }


# ---------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class QualityTarget:
    """One quality goal of issue 12, checked on the tables of :func:`unseen_tables`."""

    name: str
    subset: str  # "labelled" or "dev"
    goal: str  # the goal, in words
    measured: float | None
    met: bool | None  # None: not measurable on these tables (e.g. a generator missing)


def check_targets(tables: Mapping[str, Mapping[str, Any]]) -> list[QualityTarget]:
    """The issue's targets against ``{"labelled": tables, "dev": tables}`` (either may be missing): overall
    AUC ≥ 0.85 and no generator below 0.70 on ``labelled/``, DeepFaceLive against its own sources ≥ 0.80,
    real clips called FAKE ≤ 5 %, dev AUC ≥ 0.85 with no real dev video FAKE, and each dev generator reported
    (goal ≥ 0.70, as for the unseen ones)."""

    def at_least(name: str, subset: str, value: float | None, goal: float) -> QualityTarget:
        return QualityTarget(name, subset, f">= {goal:.2f}", value, None if value is None else value >= goal)

    targets: list[QualityTarget] = []
    for subset, overall_goal in (("labelled", 0.85), ("dev", 0.85)):
        table = tables.get(subset)
        if table is None:
            continue
        targets.append(at_least("overall AUC", subset, table["overall"]["all_reals"]["auc"], overall_goal))
        for row in table["generators"]:
            targets.append(at_least(f"{row['name']} AUC (vs all reals)", subset, row["all_reals"]["auc"], 0.70))
        reals = table["reals"]
        called = len(reals["called_fake"])
        share = called / reals["n"] if reals["n"] else None
        if subset == "labelled":
            checks = {c["name"]: c for c in table["same_person"]}
            dfl = checks.get("DeepFaceLive vs own sources")
            targets.append(at_least("DeepFaceLive vs own sources AUC", subset,
                                    dfl["own_sources"]["auc"] if dfl else None, 0.80))
            targets.append(QualityTarget("real clips called FAKE (share)", subset, "<= 0.05", share,
                                         None if share is None else share <= 0.05))
        else:
            targets.append(QualityTarget("real videos called FAKE (count)", subset, "== 0", float(called),
                                         called == 0))
    return targets


def _fmt_auc(block: Mapping[str, Any]) -> str:
    if block.get("auc") is None:
        return "—"
    text = f"{block['auc']:.3f}"
    if block.get("low") is not None:
        text += f" [{block['low']:.2f}, {block['high']:.2f}]"
    return text


def _fmt_verdicts(counts: Mapping[str, int]) -> str:
    return " / ".join(str(counts.get(k, 0)) for k in ("REAL", "UNCERTAIN", "FAKE"))


def render_markdown(detector: str, tables: Mapping[str, Mapping[str, Any]]) -> str:
    """One markdown section per set (``{"labelled": tables, "dev": tables}``) for ``detector``."""
    lines = [f"# `{detector}` on generators it never saw", ""]
    for subset, t in tables.items():
        reals = t["reals"]
        lines += [
            f"## {subset}: {t['n_scored']} of {t['n_videos']} videos scored", "",
            f"Overall AUC (all fakes vs all {reals['n']} reals): **{_fmt_auc(t['overall']['all_reals'])}**; "
            f"per generator: mean {_num(t['generators_macro_auc'])}, lowest {_num(t['generators_min_auc'])}. "
            f"Real clips REAL / UNCERTAIN / FAKE: {_fmt_verdicts(reals['verdicts'])}"
            + (f" (FAKE: {', '.join(reals['called_fake'])})" if reals["called_fake"] else "") + ".", "",
            "| generator | fakes | REAL / UNC / FAKE | mean p | AUC vs own sources [95 % CI] | pairs fake > source "
            "| AUC vs all reals [95 % CI] |",
            "|---|---|---|---|---|---|---|",
        ]
        for rows in (t["same_person"], t["families"], t["generators"], [t["overall"]]):
            if not rows:
                continue
            for r in rows:
                own = r["own_sources"]
                pairs = own["pairs_fake_higher"]
                lines.append(
                    f"| {r['name']} | {r['n_fake']} | {_fmt_verdicts(r['verdicts'])} | {_num(r['mean_probability'])} "
                    f"| {_fmt_auc(own)} (n={own['n_fake']}/{own['n_real']}) "
                    f"| {'—' if pairs is None else f'{pairs:.2f}'} | {_fmt_auc(r['all_reals'])} |"
                )
            lines.append("| | | | | | | |")
        lines.pop()
        if t["unscored"]:
            lines += ["", "Not scored: " + ", ".join(f"{u['video']} ({u['verdict']}{': ' + u['error'] if u['error'] else ''})"
                                                    for u in t["unscored"]) + "."]
        lines.append("")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


__all__ = [
    "FAMILIES",
    "SAME_PERSON_CHECKS",
    "EvalVideo",
    "QualityTarget",
    "ScanCache",
    "VideoResult",
    "check_targets",
    "detector_fingerprint",
    "load_dev",
    "load_labelled",
    "probabilities_from",
    "render_markdown",
    "score_sets",
    "score_videos",
    "unseen_tables",
]
