"""``facetrust detect | models | demo | train | extract | eval | benchmark | ensemble``. Each command calls the public API and maps errors to exit
codes: 0 every input analysed, 1 some input failed (the rest are still analysed) or the detector could not be
loaded, 2 usage error (checked before any analysis), 130 interrupted (results so far are still written).

Output: one result line per input on stdout (failed inputs too: ``path  ERROR  Type: message``), so
``facetrust detect dir > results.txt`` captures them; the progress bar, warnings and the summary go to stderr.
Every path and message is escaped before it reaches Rich markup, so ``clip [final].mp4`` prints intact."""

from __future__ import annotations

import csv
import glob
import json
import logging
import math
import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import facetrust
from facetrust.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from facetrust.utils.logging import setup_logging

app = typer.Typer(
    name="facetrust",
    help="Tell whether the faces in images and videos have been altered.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Both consoles look up sys.stdout / sys.stderr when they write (no file is bound at import), so redirection
# and test runners see every line. emoji=False: a file named ``a:joy:.jpg`` must not turn into an emoji.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
logger = logging.getLogger("facetrust.cli")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
VERDICT_STYLE = {"REAL": "green", "FAKE": "bold red", "UNCERTAIN": "yellow", "NO_FACE": "cyan"}
INTERNAL_ERROR = "InternalError"


class Sampling(StrEnum):
    """How frames are picked from a video (``facetrust.analyze(sampling=...)``)."""

    uniform = "uniform"
    stride = "stride"
    per_second = "per_second"


def _usage_error(message: str) -> typer.Exit:
    """Print ``message`` (plain text, escaped here) and return the exit to raise: code 2."""
    err.print(f"[red]Error:[/red] {escape(message)}")
    return typer.Exit(EXIT_USAGE)


def _error_text(error: dict[str, str]) -> str:
    return f"{error['type']}: {error['message']}"


def expand_inputs(items: list[str]) -> list[Path]:
    """Files as given; folders searched recursively for media files; glob patterns expanded.
    Paths that do not exist are kept, so they are reported as failed inputs."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
            paths.extend(found)
        elif path.exists():
            paths.append(path)
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            paths.extend(matches or [path])  # no match: keep it, so it is reported rather than dropped
        else:
            paths.append(path)
    seen: set[Path] = set()
    return [p for p in paths if not (p in seen or seen.add(p))]


def _check_output_file(option: str, file: Path, inputs: list[Path]) -> None:
    """Raise a usage error unless ``file`` can be written: its folder exists and is writable, it is not a
    folder, not read-only, and not one of the inputs (which it would overwrite)."""
    parent = file.parent
    if file.is_dir():
        raise _usage_error(f"{option} {file}: is a folder, expected a file name")
    if not parent.is_dir():
        raise _usage_error(f"{option} {file}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _usage_error(f"{option} {file}: folder {parent} is not writable")
    if file.exists() and not os.access(file, os.W_OK):
        raise _usage_error(f"{option} {file}: file is not writable")
    resolved = file.resolve()
    if any(resolved == p.resolve() for p in inputs):
        raise _usage_error(f"{option} {file}: is also an input; refusing to overwrite it")


def _entry(path: Path, report: facetrust.Report | None, error: dict[str, str] | None) -> dict[str, Any]:
    if report is not None:
        return {**report.to_dict(), "path": str(path), "error": None}
    assert error is not None
    return {
        "path": str(path),
        "verdict": None,
        "fake_probability": None,
        "threshold": None,
        "people": [],
        "error": error,
    }


def _write_csv(file: Path, entries: list[dict[str, Any]]) -> None:
    with file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "verdict", "fake_probability", "threshold", "people", "fake_people",
                         "frames_sampled", "faces_found", "error_type", "error_message"])
        for e in entries:
            error = e["error"] or {}
            fake_people = [str(p["person"]) for p in e["people"] if p["verdict"] == "FAKE"]
            writer.writerow([e["path"], e["verdict"] or "", e["fake_probability"] if e["fake_probability"] is not None else "",
                             e["threshold"] if e["threshold"] is not None else "", len(e["people"]),
                             " ".join(fake_people), e.get("frames_sampled", ""), e.get("faces_found", ""),
                             error.get("type", ""), error.get("message", "")])


def _write_outputs(json_file: Path | None, csv_file: Path | None, entries: list[dict[str, Any]],
                   complete: bool) -> bool:
    """Write the JSON / CSV files; on failure print why and return False (never raises an OSError)."""
    ok = True
    if json_file is not None:
        try:
            json_file.write_text(json.dumps({"complete": complete, "results": entries}, indent=2), encoding="utf-8")
        except OSError as exc:
            err.print(f"[red]Error:[/red] could not write {escape(str(json_file))}: {escape(str(exc))}")
            ok = False
    if csv_file is not None:
        try:
            _write_csv(csv_file, entries)
        except OSError as exc:
            err.print(f"[red]Error:[/red] could not write {escape(str(csv_file))}: {escape(str(exc))}")
            ok = False
    return ok


def _print_result(progress: Progress, line: str) -> None:
    """Print a result line on stdout. While the progress bar is drawn on the same terminal, the bar is taken
    down and put back around the line, so the line lands above it (Rich's own redirection would send it to
    stderr, and ``out`` bypasses that redirection: it writes to the real stdout, e.g. ``> results.txt``)."""
    if progress.live.is_started and out.is_terminal and err.is_terminal:
        progress.stop()
        out.print(line)
        progress.start()
    else:
        out.print(line)


@app.command()
def detect(
    paths: Annotated[list[str], typer.Argument(help="Images, videos, folders (searched recursively) or glob patterns.")],
    json_file: Annotated[Path | None, typer.Option("--json", help="Write all results as JSON to this file.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write one CSV row per input to this file.")] = None,
    sampling: Annotated[Sampling, typer.Option(
        help="How video frames are picked: uniform = --frames evenly spaced frames; stride = every K-th frame "
             "(--every K); per_second = K frames per second of video (--per-second K). At most 300 frames per "
             "video either way (longer lists are thinned evenly). Images are one frame.")] = Sampling.uniform,
    frames: Annotated[int | None, typer.Option(
        min=1, max=300, show_default=False,
        help="uniform sampling: evenly spaced frames analysed per video, 1-300 (default 32).")] = None,
    every: Annotated[int | None, typer.Option(
        "--every", min=1, metavar="K", show_default=False,
        help="stride sampling: analyse every K-th frame, starting with the first (default 1).")] = None,
    per_second: Annotated[float | None, typer.Option(
        "--per-second", metavar="K", show_default=False,
        help="per_second sampling: K frames per second of video, > 0; 0.5 = one every 2 s (default 1).")] = None,
    detector: Annotated[str, typer.Option(help="Detector name (see `facetrust models`) or spec .json path.")] = "default",
    face_detector: Annotated[str, typer.Option(help="Face detector name (see `facetrust models`).")] = "mtcnn",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")] = None,
    threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Override the calibrated threshold.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
) -> None:
    """Analyse media files and print one verdict line per input (on stdout)."""
    from facetrust.faces import list_face_detectors

    setup_logging(logging.INFO if verbose else logging.WARNING)
    logger.setLevel(logging.DEBUG if verbose else logging.NOTSET)  # -v also shows tracebacks of internal errors

    # usage errors: all checked before anything is loaded or analysed
    for option, given, mode in (("--frames", frames, Sampling.uniform), ("--every", every, Sampling.stride),
                                ("--per-second", per_second, Sampling.per_second)):
        if given is not None and sampling is not mode:
            raise _usage_error(f"{option} applies to --sampling {mode.value} only (sampling is {sampling.value})")
    if per_second is not None and not (math.isfinite(per_second) and per_second > 0):
        raise _usage_error(f"--per-second must be a number > 0, got {per_second}")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise _usage_error("--threshold must lie strictly between 0 and 1")
    if face_detector not in list_face_detectors():
        raise _usage_error(str(facetrust.UnknownNameError("face detector", face_detector, list_face_detectors())))
    inputs = expand_inputs(paths)
    if not inputs:
        raise _usage_error(f"no media files found in {' '.join(paths)}")
    for option, file in (("--json", json_file), ("--csv", csv_file)):
        if file is not None:
            _check_output_file(option, file, inputs)
    if json_file is not None and csv_file is not None and json_file.resolve() == csv_file.resolve():
        raise _usage_error("--json and --csv name the same file")

    try:
        facetrust.load_detector(detector, device=device)  # fail early on names, devices and weights
    except facetrust.ConfigError as exc:  # UnknownNameError included
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    except Exception as exc:
        logger.debug("loading detector %s failed", detector, exc_info=True)
        err.print(f"[red]{INTERNAL_ERROR}:[/red] could not load detector {escape(detector)}: "
                  f"{escape(f'{type(exc).__name__}: {exc}')}")
        raise typer.Exit(EXIT_FAILED) from None

    options: dict[str, Any] = {
        "frames": 32 if frames is None else frames, "sampling": sampling.value,
        "every": 1 if every is None else every, "per_second": 1.0 if per_second is None else per_second,
        "detector": detector, "face_detector": face_detector, "device": device, "threshold": threshold,
    }
    entries: list[dict[str, Any]] = []
    failed = internal = 0
    interrupted = False
    width = max(len(str(p)) for p in inputs)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("analysing", total=len(inputs))
            for path in inputs:
                progress.update(task, description=f"analysing {escape(path.name[:40])}")
                name = escape(f"{str(path):<{width}}")
                error: dict[str, str] | None = None
                try:
                    report = facetrust.analyze(path, **options)
                except facetrust.FacetrustError as exc:  # ConfigError too: this input failed, the rest go on
                    error = {"type": type(exc).__name__, "message": str(exc)}
                except Exception as exc:  # a bug, not a bad input: record it and go on with the others
                    logger.debug("internal error while analysing %s", path, exc_info=True)
                    internal += 1
                    error = {"type": INTERNAL_ERROR, "message": f"{type(exc).__name__}: {exc}"}
                if error is not None:
                    failed += 1
                    entries.append(_entry(path, None, error))
                    _print_result(progress, f"{name}  [red]ERROR[/red]  {escape(_error_text(error))}")
                else:
                    entries.append(_entry(path, report, None))
                    style = VERDICT_STYLE.get(str(report.verdict), "none")
                    verdict, _, rest = report.summary().partition("  ")
                    _print_result(progress, f"{name}  [{style}]{escape(verdict)}[/{style}]  {escape(rest)}")
                progress.advance(task)
    except KeyboardInterrupt:
        interrupted = True
    finally:  # whatever happened, write what was analysed
        written = _write_outputs(json_file, csv_file, entries, complete=len(entries) == len(inputs))
    if interrupted:
        err.print(f"interrupted after {len(entries)} of {len(inputs)} input(s)")
        raise typer.Exit(EXIT_INTERRUPTED)
    if failed:
        err.print(f"{failed} of {len(inputs)} input(s) failed")
    if internal and not verbose:
        err.print(f"{internal} internal error(s): rerun with -v to see the traceback, and please report it")
    raise typer.Exit(EXIT_FAILED if failed or not written else EXIT_OK)


@app.command()
def models() -> None:
    """List the deepfake detectors and face detectors available offline."""
    from facetrust.faces import list_face_detectors

    table = Table(title="deepfake detectors")
    table.add_column("name", no_wrap=True)
    for column in ("architecture", "input", "bundled", "sha256", "description"):
        table.add_column(column)
    for info in facetrust.list_detectors():
        table.add_row(escape(info.name), escape(info.architecture), str(info.input_size),
                      "yes" if info.bundled else "no", (info.sha256 or "")[:12], escape(info.description))
    out.print(table)
    out.print("face detectors: " + escape(", ".join(list_face_detectors())))
    from facetrust.models import list_architectures

    zoo = Table(title="architectures to train (facetrust train ... architecture=NAME)")
    zoo.add_column("name", no_wrap=True)
    zoo.add_column("input")
    zoo.add_column("px")  # native input size
    zoo.add_column("params", no_wrap=True)
    zoo.add_column("init", no_wrap=True)  # "ImageNet" / "scratch": never cut short
    zoo.add_column("timm model", overflow="fold")
    for arch in list_architectures():
        zoo.add_row(escape(arch.name), arch.input, str(arch.native_input_size),
                    f"{arch.params / 1e6:.2f} M", "ImageNet" if arch.imagenet_init else "scratch",
                    escape(arch.timm_name or "own module"))
    out.print(zoo)


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Keep the demo media in this folder.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N.")] = None,
) -> None:
    """Make a real photo, a self-blended fake of it, and a video of each; analyse all four.

    Exits 1 if a verdict contradicts the truth (REAL for a fake, FAKE for the real one); an UNCERTAIN
    verdict is flagged as "not sure" but is not counted as wrong."""
    from facetrust.demo import make_demo_media

    setup_logging()
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise _usage_error(f"--out {out_dir}: is a file, expected a folder")
    try:
        facetrust.load_detector("default", device=device)  # a missing or altered model fails here, once
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    directory = out_dir or Path(tempfile.mkdtemp(prefix="facetrust-demo-"))
    try:
        with err.status("making demo media (real astronaut photo and a self-blended fake)"):
            items = make_demo_media(directory)
    except (facetrust.FacetrustError, OSError) as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] could not make the demo media: {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    wrong = 0
    for item in items:
        label = escape(f"{item.description:<24} {item.path.name:<28}")
        try:
            report = facetrust.analyze(item.path, device=device)
        except Exception as exc:  # FacetrustError, or a bug: say which item failed and go on with the others
            logger.debug("analysing demo item %s failed", item.path, exc_info=True)
            if isinstance(exc, facetrust.FacetrustError):
                error = {"type": type(exc).__name__, "message": str(exc)}
            else:
                error = {"type": INTERNAL_ERROR, "message": f"{type(exc).__name__}: {exc}"}
            wrong += 1
            out.print(f"{label} [red]ERROR[/red]  {escape(_error_text(error))}")
            continue
        ok = str(report.verdict) == item.expected
        # UNCERTAIN is an honest "not sure", flagged but not counted as wrong; REAL for a fake is wrong
        contradicted = str(report.verdict) in {"REAL", "FAKE", "NO_FACE"} and not ok
        wrong += contradicted
        style = VERDICT_STYLE.get(str(report.verdict), "none")
        verdict, _, rest = report.summary().partition("  ")
        if ok:
            mark = "[green]as expected[/green]"
        elif contradicted:
            mark = f"[red]wrong: expected {escape(item.expected)}[/red]"
        else:
            mark = f"[yellow]not sure: expected {escape(item.expected)}[/yellow]"
        out.print(f"{label} [{style}]{escape(f'{verdict:<9}')}"
                  f"[/{style}] {escape(rest)}  ({mark})")
    out.print(f"demo media in {escape(str(directory))}")
    raise typer.Exit(EXIT_FAILED if wrong else EXIT_OK)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
def train(
    config: Annotated[Path, typer.Argument(help="YAML training config, e.g. configs/default_detector.yaml.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides of the config.")] = None,
) -> None:
    """Train a frame or clip detector on self-blended images and/or extracted real fakes; writes weights, spec,
    metrics and curves. Several processes: torchrun --standalone --nproc_per_node N -m facetrust.cli.main train ..."""
    from facetrust.config import load_config
    from facetrust.training import TrainConfig
    from facetrust.training.train import train as run_training

    setup_logging(logging.INFO)
    try:
        cfg = load_config(TrainConfig, config, overrides or [])
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    command = "facetrust train " + " ".join([str(config), *(overrides or [])])
    from facetrust.training.train import TrainingPaused

    try:
        spec = run_training(cfg, command=command)
    except TrainingPaused as paused:
        out.print(escape(str(paused)))
        raise typer.Exit(EXIT_OK) from None
    except facetrust.ConfigError as exc:  # found once the data or init_from were looked at: still a usage error
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(escape(f"saved {spec.name} to {cfg.output_dir} (sha256 {spec.sha256})"))


def _open_dataset(dataset: Path, adapter: str, split: str | None, limit: int | None) -> Any:
    """Index ``dataset`` with ``adapter`` (usage errors → exit 2), optionally one split and the first N items."""
    from facetrust.datasets import index_dataset

    try:
        index = index_dataset(adapter, dataset)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:  # the folder matches no known layout, unreadable CSV, ...
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    if split is not None:
        index = index.filter(split=split)
    if limit is not None:
        from dataclasses import replace

        index = replace(index, items=tuple(index.items[:limit]))
    if len(index) == 0:
        raise _usage_error(f"no items in {dataset}" + (f" for split {split!r}" if split else ""))
    err.print(escape(index.summary()))
    return index


DatasetArg = Annotated[Path, typer.Argument(help="Dataset folder (FF++, Celeb-DF, DFDC, real/+fake/ folders) or CSV.")]
AdapterOpt = Annotated[str, typer.Option(help="Dataset layout: auto, ffpp, celebdf, dfdc, generic, csv.")]
SplitOpt = Annotated[str | None, typer.Option(help="Only this split (train, val, test).")]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N items (a quick look).")]


@app.command()
def extract(
    dataset: DatasetArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (crops/, index.csv, skipped.csv).")],
    adapter: AdapterOpt = "auto",
    split: SplitOpt = None,
    limit: LimitOpt = None,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames per video.")] = 32,
    crop_size: Annotated[int, typer.Option(help="Side of the saved crops in pixels.")] = 256,
    margin: Annotated[float, typer.Option(help="Crop side = margin × face box side.")] = 1.3,
    workers: Annotated[int, typer.Option(min=1, help="Parallel worker processes.")] = 1,
) -> None:
    """Cut face crops from every item of a dataset, as `detect` does (resumable: rerun to continue)."""
    from facetrust.extract import ExtractOptions, extract_dataset

    setup_logging(logging.WARNING)
    try:
        options = ExtractOptions(frames=frames, crop_size=crop_size, crop_margin=margin)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    index = _open_dataset(dataset, adapter, split, limit)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("extracting", total=len(index))
            summary = extract_dataset(index, out_dir, options, workers=workers,
                                      on_item=lambda part: progress.advance(task))
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except KeyboardInterrupt:
        err.print("interrupted: rerun the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped.items())) or "nothing"
    out.print(escape(f"{summary.crops} crops from {summary.items} items ({summary.done_before} done before, "
                     f"{summary.failed} failed) in {summary.out_dir}; skipped: {skipped}"))
    raise typer.Exit(EXIT_FAILED if summary.failed else EXIT_OK)


def _check_detectors(names: list[str], device: str | None) -> None:
    for name in names:
        try:
            facetrust.load_detector(name, device=device)
        except facetrust.ConfigError as exc:
            raise _usage_error(str(exc)) from None
        except facetrust.FacetrustError as exc:
            err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_FAILED) from None


@app.command("eval")
def evaluate(
    detector: Annotated[str, typer.Argument(help="Detector name (see `facetrust models`) or spec .json path.")],
    dataset: DatasetArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder for metrics, tables and plots.")],
    adapter: AdapterOpt = "auto",
    split: SplitOpt = None,
    limit: LimitOpt = None,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames per video.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95% intervals.")] = 1000,
) -> None:
    """Evaluate a detector on a dataset: video- and frame-level metrics, curves, metrics.json and a table."""
    from facetrust.evaluation.runner import evaluate_detector

    setup_logging(logging.WARNING)
    index = _open_dataset(dataset, adapter, split, limit)
    _check_detectors([detector], device)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(index))
        result = evaluate_detector(detector, index, out_dir, frames=frames, device=device,
                                   n_bootstrap=bootstrap, on_item=lambda row: progress.advance(task))
    out.print(escape(result.outputs["markdown"].read_text(encoding="utf-8")))
    err.print(escape(f"wrote {out_dir}/metrics.json, metrics.md, predictions.csv and the plots"))
    raise typer.Exit(EXIT_OK if result.scored else EXIT_FAILED)


@app.command()
def benchmark(
    dataset: DatasetArg,
    detectors: Annotated[list[str] | None, typer.Option("--detector", "-d", help="Detector to compare (repeat); "
                                                        "default: every listed detector.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Also write each detector's evaluation here.")] = None,
    adapter: AdapterOpt = "auto",
    split: SplitOpt = None,
    limit: LimitOpt = None,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames per video.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")] = None,
) -> None:
    """Evaluate several detectors on one dataset and print the comparison table (video level)."""
    from facetrust.evaluation.runner import evaluate_detector
    from facetrust.evaluation.tables import comparison_table

    setup_logging(logging.WARNING)
    names = detectors or [d.name for d in facetrust.list_detectors() if "alias of" not in d.description]
    if not names:
        raise _usage_error("no detectors to compare")
    index = _open_dataset(dataset, adapter, split, limit)
    _check_detectors(names, device)
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("benchmark", total=len(index) * len(names))
        for name in names:
            label = Path(name).stem if name.endswith(".json") else name  # a spec path → its file name
            progress.update(task, description=f"evaluating {escape(label)}")
            result = evaluate_detector(name, index, out_dir / label if out_dir else None, frames=frames,
                                       device=device, n_bootstrap=0, on_item=lambda row: progress.advance(task))
            rows.append({**result.summary_row(), "detector": label})
    table = comparison_table(rows)
    out.print(escape(table))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "benchmark.md").write_text(table + "\n", encoding="utf-8")


class EnsembleMethod(StrEnum):
    """How an ensemble combines its members."""

    average = "average"
    weighted = "weighted"


@app.command()
def ensemble(
    name: Annotated[str, typer.Argument(help="Name of the new ensemble detector.")],
    members: Annotated[list[str], typer.Argument(help="Member detectors (names or spec .json paths), 2 or more.")],
    method: Annotated[EnsembleMethod, typer.Option(help="average or weighted (stacking: Python API).")] =
        EnsembleMethod.average,
    weights: Annotated[str | None, typer.Option(help="Comma-separated weights for --method weighted.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for NAME.json.")] = Path("."),
) -> None:
    """Create an ensemble detector file (use it with --detector PATH/NAME.json)."""
    from facetrust.models.ensemble import EnsembleSpec, save_ensemble

    try:
        parsed = tuple(float(w) for w in weights.split(",")) if weights else None
        # member paths are stored relative to the ensemble file, so the folder can be moved as a whole
        stored = tuple(
            os.path.relpath(Path(m).resolve(), out_dir.resolve()) if m.endswith(".json") or os.sep in m else m
            for m in members
        )
        spec = EnsembleSpec(name=name, members=stored, method=method.value, weights=parsed)
    except (ValueError, facetrust.ConfigError) as exc:
        raise _usage_error(str(exc)) from None
    _check_detectors(list(members), "cpu")
    path = save_ensemble(spec, out_dir)
    out.print(escape(f"wrote {path}: {method.value} ensemble of {', '.join(members)}. Its threshold is 0.5 "
                     "until calibrated: evaluate it with `facetrust eval` before trusting its verdicts."))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
