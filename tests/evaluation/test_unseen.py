"""The unseen-generator evaluation: manifests, the scan cache, scoring from cached scans, and the tables."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import InputError
from facetrust.evaluation.unseen import (
    EvalVideo,
    ScanCache,
    VideoResult,
    check_targets,
    load_labelled,
    render_markdown,
    score_sets,
    score_videos,
    unseen_tables,
)
from facetrust.pipeline import Pipeline, PipelineOptions

REPO = Path(__file__).resolve().parents[2]


def _video(name: str, label: int, method: str, group: str) -> EvalVideo:
    return EvalVideo(Path(f"/x/{name}.mp4"), label, method, group, "labelled")


def _result(video: EvalVideo, p: float | None, verdict: str = "") -> VideoResult:
    verdict = verdict or ("NO_FACE" if p is None else "FAKE" if p >= 0.7 else "REAL" if p < 0.4 else "UNCERTAIN")
    return VideoResult(video.key, verdict, p)


def test_tables_pair_each_fake_with_its_own_source_and_with_every_real() -> None:
    # swap fakes beat their own sources but not the lone real clip; lip-syncs are caught everywhere
    videos = [
        _video("swap_a", 1, "deepfacelive", "a"), _video("real_a", 0, "real", "a"),
        _video("swap_b", 1, "deepfacelive", "b"), _video("real_b", 0, "real", "b"),
        _video("lip_c", 1, "wav2lip", "c"), _video("real_c", 0, "real", "c"),
        _video("lone_real", 0, "real", "d"), _video("unreadable", 1, "wav2lip", "e"),
    ]
    p = {"swap_a": 0.5, "real_a": 0.2, "swap_b": 0.6, "real_b": 0.3, "lip_c": 0.95, "real_c": 0.1,
         "lone_real": 0.9, "unreadable": None}
    results = {v.key: _result(v, p[v.path.stem]) for v in videos}
    tables = unseen_tables(videos, results, n_bootstrap=50)
    swaps = next(r for r in tables["generators"] if r["name"] == "deepfacelive")
    assert swaps["own_sources"]["auc"] == 1.0 and swaps["own_sources"]["pairs_fake_higher"] == 1.0
    assert swaps["all_reals"]["auc"] == pytest.approx(6 / 8)  # below the lone real clip (0.9) only
    lips = next(r for r in tables["generators"] if r["name"] == "wav2lip")
    assert lips["n_fake"] == 1 and lips["all_reals"]["auc"] == 1.0  # the unreadable fake is not scored
    assert tables["unscored"] == [{"video": "labelled/unreadable.mp4", "verdict": "NO_FACE", "error": ""}]
    assert tables["reals"]["called_fake"] == ["labelled/lone_real.mp4"]
    assert tables["overall"]["all_reals"]["auc"] == pytest.approx(10 / 12)
    check = next(c for c in tables["same_person"] if c["name"].startswith("DeepFaceLive"))
    assert check["own_sources"]["n_fake"] == 2 and check["own_sources"]["n_real"] == 2
    assert tables["generators_min_auc"] == pytest.approx(0.75)
    text = render_markdown("toy", {"labelled": tables})
    assert "deepfacelive" in text and "Not scored: labelled/unreadable.mp4 (NO_FACE)" in text


def test_a_fake_without_a_real_source_has_no_same_person_number() -> None:
    videos = [_video("gen", 1, "anitalker", "x"), _video("real", 0, "real", "y")]
    tables = unseen_tables(videos, {v.key: _result(v, q) for v, q in zip(videos, (0.3, 0.6), strict=True)},
                           n_bootstrap=0)
    row = tables["generators"][0]
    assert row["own_sources"]["auc"] is None and row["own_sources"]["pairs_fake_higher"] is None
    assert row["all_reals"]["auc"] == 0.0


def test_targets_are_checked_against_the_tables() -> None:
    videos = [
        _video("swap_a", 1, "deepfacelive", "a"), _video("real_a", 0, "real", "a"),
        _video("swap_b", 1, "deepfacelive", "b"), _video("real_b", 0, "real", "b"),
        _video("head", 1, "anitalker", "h"), _video("lone_real", 0, "real", "d"),
    ]
    p = {"swap_a": 0.8, "real_a": 0.2, "swap_b": 0.9, "real_b": 0.3, "head": 0.25, "lone_real": 0.75}
    labelled = unseen_tables(videos, {v.key: _result(v, p[v.path.stem]) for v in videos}, n_bootstrap=0)
    dev_videos = [EvalVideo(Path(f"/d/{n}.mp4"), label, m, n, "dev")
                  for n, label, m in (("g", 1, "GHOST"), ("r1", 0, "real"), ("r2", 0, "real"))]
    dev = unseen_tables(dev_videos, {v.key: _result(v, q) for v, q in zip(dev_videos, (0.9, 0.1, 0.2), strict=True)},
                        n_bootstrap=0)
    targets = {(t.subset, t.name): t for t in check_targets({"labelled": labelled, "dev": dev})}
    assert targets["labelled", "DeepFaceLive vs own sources AUC"].met is True  # 1.0 against its own sources
    assert targets["labelled", "anitalker AUC (vs all reals)"].met is False  # 0.25 sits below every real
    overall = targets["labelled", "overall AUC"]
    assert overall.measured == pytest.approx(7 / 9) and overall.met is False
    fpr = targets["labelled", "real clips called FAKE (share)"]
    assert fpr.measured == pytest.approx(1 / 3) and fpr.met is False  # the lone real clip at 0.75
    assert targets["dev", "overall AUC"].met is True and targets["dev", "GHOST AUC (vs all reals)"].met is True
    assert targets["dev", "real videos called FAKE (count)"].measured == 0.0
    assert [t.subset for t in check_targets({"dev": dev})] == ["dev"] * 3  # a missing subset is skipped


def test_load_labelled_reads_the_manifest_and_refuses_missing_files(tmp_path: Path) -> None:
    root = tmp_path / "data" / "labelled"
    (root / "videos" / "fake" / "wav2lip").mkdir(parents=True)
    (root / "videos" / "real").mkdir(parents=True)
    (root / "videos" / "fake" / "wav2lip" / "f.mp4").write_bytes(b"x")
    (root / "videos" / "real" / "r.mp4").write_bytes(b"x")
    rows = [("videos/fake/wav2lip/f.mp4", "fake", "wav2lip", "w:1"), ("videos/real/r.mp4", "real", "camera", "w:1")]
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "method", "group"])
        writer.writerows(rows)
    videos = load_labelled(tmp_path / "data")
    assert [(v.label, v.method, v.group) for v in videos] == [(1, "wav2lip", "w:1"), (0, "real", "w:1")]
    (root / "videos" / "real" / "r.mp4").unlink()
    with pytest.raises(InputError, match="missing"):
        load_labelled(tmp_path / "data")
    with pytest.raises(InputError, match="no manifest"):
        load_labelled(tmp_path / "elsewhere")


def test_cached_scans_give_the_report_of_a_live_analysis(media_dir: Path, tiny_detector: Path, tmp_path: Path) -> None:
    from facetrust.faces import create_face_detector
    from facetrust.models import create_detector

    videos = [EvalVideo(media_dir / "face clip.mp4", 1, "toy", "g", "labelled"),
              EvalVideo(media_dir / "no face.mp4", 0, "real", "g", "labelled"),
              EvalVideo(media_dir / "notes.mp4", 0, "real", "h", "labelled")]
    options = PipelineOptions(frames=6)
    cache = ScanCache(tmp_path / "scans", options=options)
    name, results = score_videos(str(tiny_detector), videos, cache, results_dir=tmp_path / "results")
    assert name == "tiny_random"
    live = Pipeline(create_detector(str(tiny_detector)), create_face_detector("mtcnn")).analyze(
        media_dir / "face clip.mp4", options)
    assert results[videos[0].key].fake_probability == live.fake_probability
    assert results[videos[1].key].verdict == "NO_FACE" and results[videos[1].key].fake_probability is None
    assert results[videos[2].key].error.startswith("UnsupportedMediaError")
    assert len(list((tmp_path / "scans").glob("*.pkl"))) == 3  # the unreadable file is remembered too
    stored = list((tmp_path / "results").glob("tiny_random-*.json"))
    assert len(stored) == 1 and len(json.loads(stored[0].read_text())) == 3
    # a second run reads both caches: no file is opened again
    cache_again = ScanCache(tmp_path / "scans", options=options)
    cache_again.scan = None  # type: ignore[method-assign]  # would fail if called
    _, again = score_videos(str(tiny_detector), videos, cache_again, results_dir=tmp_path / "results")
    assert again == results

    # every named set scored and tabulated at once, with progress per set (from the caches above)
    seen: list[tuple[str, int, int]] = []
    name, tables = score_sets(str(tiny_detector), {"labelled": videos, "dev": videos[:1]}, cache_again,
                              results_dir=tmp_path / "results", n_bootstrap=0,
                              on_video=lambda subset, n, total, video: seen.append((subset, n, total)))
    assert name == "tiny_random" and set(tables) == {"labelled", "dev"}
    assert tables["labelled"] == unseen_tables(videos, results, n_bootstrap=0)
    assert seen == [("labelled", 0, 3), ("labelled", 1, 3), ("labelled", 2, 3), ("dev", 0, 1)]


def test_scan_cache_key_follows_the_file_and_the_options(media_dir: Path, tmp_path: Path) -> None:
    from facetrust.types import CropSpec

    clip = tmp_path / "clip.mp4"
    shutil.copy(media_dir / "face clip.mp4", clip)
    crop = CropSpec(size=64, margin=1.3)
    a = ScanCache(tmp_path / "s", options=PipelineOptions(frames=4))
    b = ScanCache(tmp_path / "s", options=PipelineOptions(frames=5))
    assert a._key(clip, crop) != b._key(clip, crop)
    assert a._key(clip, crop) != a._key(clip, CropSpec(size=96, margin=1.3))
    before = a._key(clip, crop)
    clip.write_bytes(clip.read_bytes() + b"\0")
    assert a._key(clip, crop) != before
    scan = a.scan(clip, crop)
    kept = {(o.frame_index, k) for t in scan.tracking.tracks for k, o in enumerate(t.observations)}
    assert len(scan.crops) <= sum(len(faces) for _, _, faces in scan.sampled) and kept
    assert all(isinstance(c, np.ndarray) and c.shape == (64, 64, 3) for c in scan.crops.values())


def test_eval_unseen_script_reports_a_missing_data_folder_as_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "eval_unseen.py"), "--data", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "no manifest" in done.stderr and "Traceback" not in done.stderr
