"""The CLI in-process: exit codes, output lines, JSON and CSV files, bad inputs among good ones.

``result.stdout`` holds the result lines, ``result.stderr`` the progress bar, warnings and summary, and
``result.output`` both interleaved (Click >= 8.2 keeps them apart without ``mix_stderr``)."""

import csv
import json
import re
import shutil
import traceback
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import facetrust
import facetrust.cli.analyse as cli
import facetrust.cli.common as cli_common
from facetrust.cli.main import app

runner = CliRunner()


def run(*args: str):
    """Invoke the CLI; fail if it raised anything but SystemExit (CliRunner would swallow a traceback)."""
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "".join(traceback.format_exception(*result.exc_info)) + result.output
    )
    return result


def one_by_one(analyze):
    """An ``analyze_many`` that calls ``analyze`` per file: the tests' own failures go through the CLI's
    batch path exactly as errors of the real pipeline do."""
    def analyze_many(paths, **kwargs):
        for path in paths:
            try:
                yield path, analyze(path, **kwargs)
            except Exception as exc:  # noqa: BLE001 - what the real generator yields
                yield path, exc
    return analyze_many


def frames_sampled(json_file: Path) -> list[int]:
    return [r["frames_sampled"] for r in json.loads(json_file.read_text())["results"]]


@pytest.fixture
def folder(tmp_path: Path, media_dir: Path) -> Path:
    """A folder (with a sub-folder) holding two good files and one corrupt file."""
    root = tmp_path / "inbox dir"
    (root / "sub ü").mkdir(parents=True)
    shutil.copy(media_dir / "astronaut photo ü.jpg", root / "photo.jpg")
    shutil.copy(media_dir / "face clip.mp4", root / "sub ü" / "clip 1.mp4")
    shutil.copy(media_dir / "truncated.mp4", root / "broken.mp4")
    (root / "readme.txt").write_text("not media, ignored by folder expansion")
    return root


def test_folder_with_one_corrupt_file(folder: Path, tiny_detector: Path, tmp_path: Path) -> None:
    out_json, out_csv = tmp_path / "out.json", tmp_path / "out.csv"
    result = run("detect", str(folder), "--detector", str(tiny_detector), "--frames", "4",
                 "--json", str(out_json), "--csv", str(out_csv))
    assert result.exit_code == 1, result.output
    results = json.loads(out_json.read_text())["results"]
    assert len(results) == 3
    by_name = {Path(r["path"]).name: r for r in results}
    assert by_name["broken.mp4"]["error"]["type"] in {"CorruptMediaError", "UnsupportedMediaError"}
    assert by_name["broken.mp4"]["verdict"] is None and by_name["broken.mp4"]["fake_probability"] is None
    for name in ("photo.jpg", "clip 1.mp4"):
        entry = by_name[name]
        assert entry["error"] is None
        for key in ("path", "verdict", "fake_probability", "threshold", "people", "frames_sampled",
                    "faces_found", "timings", "detector", "weights_sha256"):
            assert key in entry
        assert entry["verdict"] in {"REAL", "FAKE", "UNCERTAIN"}
        assert len(entry["people"]) == 1
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert len(rows) == 3 and {r["error_type"] for r in rows} - {""}
    assert "broken.mp4" in result.output and "ERROR" in result.output


def test_all_good_inputs_exit_zero_and_print_one_line_each(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "astronaut photo ü.jpg"), str(media_dir / "face clip.mp4"),
                 "--detector", str(tiny_detector), "--frames", "4")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "person 1" in line]
    assert len(lines) == 2


def test_glob_pattern(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "face*.mp4"), "--detector", str(tiny_detector), "--frames", "2")
    assert result.exit_code == 0, result.output
    assert "face clip.mp4" in result.output


def test_no_face_video_is_not_a_failure(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "no face.mp4"), "--detector", str(tiny_detector))
    assert result.exit_code == 0 and "NO_FACE" in result.output


@pytest.mark.parametrize("name", ["empty.mp4", "notes.mp4", "missing file.mp4"])
def test_bad_single_inputs_exit_one_without_traceback(media_dir: Path, tiny_detector: Path, name: str) -> None:
    result = run("detect", str(media_dir / name), "--detector", str(tiny_detector))
    assert result.exit_code == 1
    assert "Error" in result.stdout  # the failed-input line is a result
    assert "1 of 1 input(s) failed" in result.stderr


def test_unknown_detector_is_a_usage_error(media_dir: Path) -> None:
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", "defualt")
    assert result.exit_code == 2
    assert "default" in result.output


def test_bad_options_are_usage_errors(media_dir: Path, tiny_detector: Path, tmp_path: Path) -> None:
    assert run("detect", str(media_dir / "face clip.mp4"), "--frames", "0").exit_code == 2
    assert run("detect", str(media_dir / "face clip.mp4"), "--frames", "301").exit_code == 2
    empty = tmp_path / "empty dir"
    empty.mkdir()
    assert run("detect", str(empty), "--detector", str(tiny_detector)).exit_code == 2


def test_altered_weights_are_refused(tiny_detector: Path, tmp_path: Path, media_dir: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(tiny_detector.parent, copy)
    weights = copy / "tiny_random.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(copy / "tiny_random.json"))
    assert result.exit_code == 1
    assert "WeightsError" in result.output and "checksum" in result.output


def test_models_lists_detectors() -> None:
    result = run("models")
    assert result.exit_code == 0
    assert "mtcnn" in result.output
    # the zoo: every frame and clip architecture, and which ones start from scratch
    for name in ("efficientnet_lite0", "resnet50", "cnn_lstm_attention", "mesonet4"):
        assert name in result.output
    assert "ImageNet" in result.output and "scratch" in result.output


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (its data is not there)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_huge_header_is_refused_before_decoding(tmp_path: Path, tiny_detector: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(40000, 40000))
    out_json = tmp_path / "r.json"
    result = run("detect", str(bomb), "--detector", str(tiny_detector), "--json", str(out_json))
    assert result.exit_code == 1
    entry = json.loads(out_json.read_text())["results"][0]
    assert entry["error"]["type"] == "MediaTooLargeError" and entry["fake_probability"] is None


def test_one_pixel_image_is_no_face(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "tiny.png"), "--detector", str(tiny_detector))
    assert result.exit_code == 0 and "NO_FACE" in result.output


def test_missing_weights_file_is_refused(tiny_detector: Path, tmp_path: Path, media_dir: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(tiny_detector.parent, copy)
    (copy / "tiny_random.safetensors").unlink()
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(copy / "tiny_random.json"))
    assert result.exit_code == 1
    assert "WeightsError" in result.output


def test_bracketed_names_print_intact_and_do_not_stop_the_batch(tmp_path: Path, media_dir: Path,
                                                               tiny_detector: Path) -> None:
    root = tmp_path / "in [b]"
    (root / "a [").mkdir(parents=True)
    final = root / "clip [final].mp4"
    closing = root / "a [" / "x] b.mp4"  # its path reads "a [/x] b.mp4": a closing tag to Rich markup
    emoji = root / "smile :joy: [bold].jpg"
    shutil.copy(media_dir / "face clip.mp4", final)
    shutil.copy(media_dir / "face clip.mp4", closing)
    shutil.copy(media_dir / "astronaut photo ü.jpg", emoji)
    missing = root / "gone [/y].mp4"
    out_json = tmp_path / "r [1].json"
    result = run("detect", str(root), str(final), str(missing), "--detector", str(tiny_detector), "--frames", "2",
                 "--json", str(out_json))
    assert result.exit_code == 1, result.output
    assert str(Path("a [") / "x] b.mp4") == "a [/x] b.mp4"
    for path in (final, closing, emoji):
        assert sum(line.startswith(str(path) + " ") for line in result.stdout.splitlines()) == 1, result.stdout
    [missing_line] = [line for line in result.stdout.splitlines() if line.startswith(str(missing))]
    assert "ERROR" in missing_line and "MediaNotFoundError" in missing_line
    assert "1 of 4 input(s) failed" in result.stderr
    assert len(json.loads(out_json.read_text())["results"]) == 4


@pytest.mark.parametrize("both_terminals", [False, True], ids=["stdout-redirected", "terminal"])
def test_results_on_stdout_progress_and_summary_on_stderr(folder: Path, tiny_detector: Path,
                                                          monkeypatch: pytest.MonkeyPatch, both_terminals: bool) -> None:
    # stderr a terminal, so the progress bar is drawn; stdout a terminal too, or redirected to a file
    err = Console(stderr=True, force_terminal=True, width=120, highlight=False, emoji=False)
    for module in (cli, cli_common):  # detect draws the bar; the shared result printer checks both consoles
        monkeypatch.setattr(module, "err", err)
    if both_terminals:
        out = Console(force_terminal=True, soft_wrap=True, emoji=False, highlight=False)
        for module in (cli, cli_common):
            monkeypatch.setattr(module, "out", out)
    result = run("detect", str(folder), "--detector", str(tiny_detector), "--frames", "2")
    assert result.exit_code == 1, result.output
    stdout, stderr = (re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text) for text in (result.stdout, result.stderr))
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 3, stdout
    assert all(line.startswith(str(folder)) for line in lines)
    assert any("ERROR" in line for line in lines)
    assert "analysing" in stderr and "━" in stderr and "1 of 3 input(s) failed" in stderr
    assert "analysing" not in stdout and "failed" not in stdout
    assert str(folder) not in stderr  # no result line went to stderr


@pytest.mark.parametrize("where", ["missing folder", "a folder", "an input"])
def test_bad_output_paths_are_usage_errors_before_analysis(where: str, tmp_path: Path, media_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be loaded or analysed before the options are checked")

    for name in ("analyze", "analyze_many", "load_detector"):
        monkeypatch.setattr(facetrust, name, fail)
    clip = tmp_path / "clip.mp4"
    shutil.copy(media_dir / "face clip.mp4", clip)
    target = {"missing folder": tmp_path / "no such dir" / "out.json", "a folder": tmp_path,
              "an input": clip}[where]
    for option in ("--json", "--csv"):
        result = run("detect", str(clip), option, str(target))
        assert result.exit_code == 2, result.output
        assert option in result.stderr and str(target) in result.stderr
    assert clip.read_bytes() == (media_dir / "face clip.mp4").read_bytes()


def test_internal_and_config_errors_are_failed_inputs(media_dir: Path, tiny_detector: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real_analyze = facetrust.analyze
    names = ["bug.jpg", "config.jpg", "good.jpg"]
    for name in names:
        shutil.copy(media_dir / "astronaut photo ü.jpg", tmp_path / name)

    def analyze(path: Path, **kwargs: object) -> facetrust.Report:
        if path.name == "bug.jpg":
            raise ValueError("boom [/x]")
        if path.name == "config.jpg":
            raise facetrust.ConfigError("bad setting")
        return real_analyze(path, **kwargs)

    monkeypatch.setattr(facetrust, "analyze_many", one_by_one(analyze))
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = run("detect", *(str(tmp_path / n) for n in names), "--detector", str(tiny_detector),
                 "--json", str(out_json), "--csv", str(out_csv))
    assert result.exit_code == 1, result.output
    errors = {Path(r["path"]).name: r["error"] for r in json.loads(out_json.read_text())["results"]}
    assert errors == {"bug.jpg": {"type": "InternalError", "message": "ValueError: boom [/x]"},
                      "config.jpg": {"type": "ConfigError", "message": "bad setting"}, "good.jpg": None}
    assert "InternalError: ValueError: boom [/x]" in result.stdout
    assert "2 of 3 input(s) failed" in result.stderr and "-v" in result.stderr
    assert len(list(csv.DictReader(out_csv.open(encoding="utf-8")))) == 3


def test_interrupt_still_writes_what_was_analysed(media_dir: Path, tiny_detector: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_analyze = facetrust.analyze

    def analyze(path: Path, **kwargs: object) -> facetrust.Report:
        if path.name == "no face.mp4":
            raise KeyboardInterrupt
        return real_analyze(path, **kwargs)

    monkeypatch.setattr(facetrust, "analyze_many", one_by_one(analyze))
    out_json = tmp_path / "r.json"
    result = run("detect", str(media_dir / "tiny.png"), str(media_dir / "no face.mp4"), str(media_dir / "empty.mp4"),
                 "--detector", str(tiny_detector), "--json", str(out_json))
    assert result.exit_code == 130, result.output
    written = json.loads(out_json.read_text())
    assert written["complete"] is False and [Path(r["path"]).name for r in written["results"]] == ["tiny.png"]
    assert "interrupted (SIGINT) after 1 of 3" in result.stderr


@pytest.mark.parametrize(("options", "expected"), [
    ([], 12),  # uniform, 32 asked: a 12-frame clip gives every frame once
    (["--sampling", "stride", "--every", "3"], 4),  # frames 0, 3, 6, 9
    (["--sampling", "per_second", "--per-second", "2"], 1),  # 0.48 s at 2/s: t = 0 only
    (["--sampling", "per_second", "--per-second", "10"], 5),  # t = 0, 0.1, 0.2, 0.3, 0.4
])
def test_sampling_options(options: list[str], expected: int, media_dir: Path, tiny_detector: Path,
                          tmp_path: Path) -> None:
    out_json = tmp_path / "r.json"
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(tiny_detector), *options,
                 "--json", str(out_json))
    assert result.exit_code == 0, result.output
    assert frames_sampled(out_json) == [expected]


@pytest.mark.parametrize("options", [
    ["--sampling", "random"],
    ["--sampling", "stride", "--every", "0"],
    ["--sampling", "per_second", "--per-second", "0"],
    ["--sampling", "per_second", "--per-second", "nan"],
    ["--every", "3"],  # --every without --sampling stride would be silently ignored
    ["--sampling", "stride", "--frames", "4"],
    ["--sampling", "uniform", "--per-second", "2"],
    ["--face-detector", "mtcn"],
])
def test_bad_sampling_and_face_detector_options_are_usage_errors(options: list[str], media_dir: Path,
                                                                 tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(tiny_detector), *options)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    if "--face-detector" in options:
        assert "mtcnn" in result.stderr


def test_a_symlink_loop_with_json_is_a_failed_input_not_a_traceback(tmp_path: Path, tiny_detector: Path) -> None:
    # issue 14, defect 2: Path.resolve() raised RuntimeError in the output-file check
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    result = run("detect", str(tmp_path / "a"), "--detector", str(tiny_detector), "--json", str(tmp_path / "x.json"))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "ERROR" in result.stdout
    assert json.loads((tmp_path / "x.json").read_text())["results"][0]["error"]["type"] == "MediaNotFoundError"


def test_a_pattern_that_matches_nothing_is_a_usage_error(tmp_path: Path, media_dir: Path) -> None:
    # issue 14, defect 4: like an empty folder, "no media found" is exit 2
    result = run("detect", str(tmp_path / "*.mp4"))
    assert result.exit_code == 2 and "no media files found" in result.stderr
    # with another input, the unmatched pattern is a failed input like a missing file, and the rest goes on
    result = run("detect", str(tmp_path / "*.mp4"), str(media_dir / "empty.mp4"))
    assert result.exit_code == 1 and result.stdout.count("ERROR") == 2


def test_control_characters_in_names_stay_on_one_line(tmp_path: Path, media_dir: Path, tiny_detector: Path) -> None:
    # issue 14, defect 6: a newline in a file name split its result line in two; the JSON keeps the real name
    odd = tmp_path / "two\nlines\x1b[31m.jpg"
    shutil.copy(media_dir / "astronaut photo ü.jpg", odd)
    result = run("detect", str(odd), "--detector", str(tiny_detector), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and "two\\nlines\\x1b[31m.jpg" in lines[0] and "\x1b" not in lines[0]
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["path"] == str(odd)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_stopped_batch_writes_what_it_analysed(signame: str, tmp_path: Path, media_dir: Path,
                                                 tiny_detector: Path) -> None:
    # issue 14, defect 1: `timeout`, `kill`, `docker stop` and systemd send SIGTERM; only SIGINT was handled
    import signal
    import subprocess
    import sys

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        shutil.copy(media_dir / "face clip.mp4", folder / f"clip_{i:02d}.mp4")
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    process = subprocess.Popen([sys.executable, "-m", "facetrust.cli.main", "detect", str(folder), "--detector",
                                str(tiny_detector), "--frames", "4", "--json", str(out_json), "--csv", str(out_csv)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()  # one result is in: stop the run now
    assert "clip_00.mp4" in first
    process.send_signal(getattr(signal, signame))
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + getattr(signal, signame), stderr
    written = json.loads(out_json.read_text())
    done = len(written["results"])
    assert written["complete"] is False and 1 <= done < 40
    assert len(list(csv.DictReader(out_csv.open(encoding="utf-8")))) == done
    assert f"interrupted ({signame})" in stderr and "Traceback" not in stderr


def test_limits_are_options_and_refuse_from_the_header(media_dir: Path, tiny_detector: Path, tmp_path: Path) -> None:
    # issue 14, defect 10: the limits are documented and configurable
    out_json = tmp_path / "r.json"
    result = run("detect", str(media_dir / "face clip.mp4"), str(media_dir / "astronaut photo ü.jpg"),
                 "--detector", str(tiny_detector), "--max-pixels", "100000", "--json", str(out_json))
    assert result.exit_code == 1, result.output
    errors = [r["error"] for r in json.loads(out_json.read_text())["results"]]
    assert errors[0] is None and errors[1]["type"] == "MediaTooLargeError"  # 320x240 passes, 512x512 does not
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(tiny_detector), "--max-duration", "0.1")
    assert result.exit_code == 1 and "MediaTooLargeError" in result.stdout
    help_text = run("detect", "--help").stdout
    assert "max-pixels" in help_text and "80 million" in help_text and "4 hours" in help_text


def _folder_run(folder: Path, tiny_detector: Path, out_json: Path, *extra: str):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "facetrust.cli.main", "detect", str(folder), "--detector",
                             str(tiny_detector), "--frames", "4", "--json", str(out_json), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGKILL"])
def test_a_killed_run_resumes_and_gives_every_result_exactly_once(signame: str, tmp_path: Path, media_dir: Path,
                                                                  tiny_detector: Path) -> None:
    # issue 14: results are journalled as each input finishes (fsync'd), so even SIGKILL loses none
    import signal

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        shutil.copy(media_dir / ("face clip.mp4" if i % 3 else "astronaut photo ü.jpg"),
                    folder / f"item_{i:02d}{'.mp4' if i % 3 else '.jpg'}")
    shutil.copy(media_dir / "empty.mp4", folder / "item_99.mp4")  # a failed input is a result too
    out_json = tmp_path / "r.json"
    process = _folder_run(folder, tiny_detector, out_json)
    assert process.stdout is not None
    for _ in range(3):
        process.stdout.readline()  # three results are in
    process.send_signal(getattr(signal, signame))
    process.communicate(timeout=120)
    journal = tmp_path / "r.json.partial.jsonl"
    assert journal.is_file() and 3 <= len(journal.read_text().splitlines()) < 13
    resumed = run("detect", str(folder), "--detector", str(tiny_detector), "--frames", "4", "--json",
                  str(out_json), "--resume")
    assert resumed.exit_code == 1, resumed.output  # the empty file failed, in the first run or this one
    results = json.loads(out_json.read_text())
    paths = [Path(r["path"]).name for r in results["results"]]
    assert results["complete"] is True and sorted(paths) == sorted(p.name for p in folder.iterdir())
    assert "(from the earlier run)" in resumed.stdout and not journal.exists()
    fresh = run("detect", str(folder), "--detector", str(tiny_detector), "--frames", "4", "--json",
                str(tmp_path / "fresh.json"))
    expected = {Path(r["path"]).name: r["fake_probability"] for r in json.loads((tmp_path / "fresh.json").read_text())["results"]}
    assert {Path(r["path"]).name: r["fake_probability"] for r in results["results"]} == expected
    assert fresh.exit_code == 1


def test_two_runs_on_one_output_and_resume_without_output_are_usage_errors(tmp_path: Path, media_dir: Path,
                                                                           tiny_detector: Path) -> None:
    import fcntl

    out_json = tmp_path / "r.json"
    with (tmp_path / "r.json.lock").open("a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("pid 12345")
        lock.flush()
        result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(tiny_detector), "--json",
                     str(out_json))
    assert result.exit_code == 2 and "another facetrust run" in result.stderr and "pid 12345" in result.stderr
    assert not out_json.exists()
    result = run("detect", str(media_dir / "face clip.mp4"), "--resume")
    assert result.exit_code == 2 and "--resume needs --json or --csv" in result.stderr


def test_resume_by_content_recognises_a_moved_file(tmp_path: Path, media_dir: Path, tiny_detector: Path) -> None:
    first = tmp_path / "a"
    first.mkdir()
    shutil.copy(media_dir / "face clip.mp4", first / "clip.mp4")
    out_json = tmp_path / "r.json"
    journal = tmp_path / "r.json.partial.jsonl"
    result = run("detect", str(first), "--detector", str(tiny_detector), "--frames", "4", "--json", str(out_json),
                 "--hash")
    assert result.exit_code == 0 and not journal.exists()
    # a journal left by a killed run names the same bytes under another path: --hash recognises them
    entry = json.loads(out_json.read_text())["results"][0]
    journal.write_text(json.dumps(entry) + "\n")
    moved = tmp_path / "b"
    first.rename(moved)
    result = run("detect", str(moved), "--detector", str(tiny_detector), "--frames", "4", "--json", str(out_json),
                 "--resume", "--hash")
    assert result.exit_code == 0 and "(from the earlier run)" in result.stdout
