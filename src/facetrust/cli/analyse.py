"""Commands for people who check media: ``detect``, ``models``, ``demo`` and ``export``."""

from __future__ import annotations

import logging
import math
import signal
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import facetrust
from facetrust.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    INTERNAL_ERROR,
    VERDICT_STYLE,
    Runtime,
    RuntimeOpt,
    Sampling,
    Stopped,
    _check_output_file,
    _error_text,
    _print_result,
    _usage_error,
    _write_outputs,
    err,
    expand_inputs,
    hold_signals,
    logger,
    out,
    printable,
    restore_signals,
    stop_on_signals,
    unmatched_pattern,
)
from facetrust.cli.journal import Journal, OutputLockedError, input_key
from facetrust.report.rows import result_entry
from facetrust.utils.logging import setup_logging


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
    runtime: RuntimeOpt = Runtime.auto,
    max_pixels: Annotated[int, typer.Option(
        min=1, help="Refuse frames of more pixels (width x height) than this, before decoding "
                    "(MediaTooLargeError).")] = 80_000_000,
    max_duration: Annotated[float, typer.Option(
        min=0.001, help="Refuse videos longer than this many seconds, before decoding (MediaTooLargeError).")]
        = 4 * 3600.0,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Skip the inputs a killed or interrupted run with the same --json/--csv already "
                         "finished (kept in FILE.partial.jsonl as each input finishes).")] = False,
    by_content: Annotated[bool, typer.Option(
        "--hash", help="With --resume: recognise finished inputs by the sha256 of their bytes, not by path, "
                       "size and modification time.")] = False,
    report_dir: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR", help="Write one self-contained HTML page per input (verdict in plain words, "
        "face thumbnails, timeline, heatmaps) and DIR/index.html.")] = None,
    plots_dir: Annotated[Path | None, typer.Option(
        "--plots", metavar="DIR", help="Write each person's fake-probability timeline as PNG into DIR.")] = None,
    trust_anchors: Annotated[Path | None, typer.Option(
        "--trust-anchors", metavar="PEM", help="Root certificates (PEM bundle) a C2PA signer must chain to for its "
        "credentials to count as trusted (default: $FACETRUST_TRUST_ANCHORS, else none: every signer is "
        "untrusted). Nothing is fetched.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
) -> None:
    """Analyse media files and print one verdict line per input (on stdout).

    Limits (each an option): frames of at most 80 million pixels, videos of at most 4 hours, at most 300
    frames analysed per video; anything larger is refused from its header, before decoding, as a failed
    input (MediaTooLargeError), and the other inputs go on."""
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
    if all(unmatched_pattern(p) for p in inputs):  # an empty folder or a pattern that matched nothing
        raise _usage_error(f"no media files found in {' '.join(paths)}")
    for option, file in (("--json", json_file), ("--csv", csv_file)):
        if file is not None:
            _check_output_file(option, file, inputs)
    if json_file is not None and csv_file is not None and json_file.resolve() == csv_file.resolve():
        raise _usage_error("--json and --csv name the same file")
    _check_trust_anchors(trust_anchors)
    for option, folder in (("--report", report_dir), ("--plots", plots_dir)):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise _usage_error(f"{option} {folder}: is a file, expected a folder")

    # inputs that cannot be opened at all (missing, a folder, unreadable, empty) are known before any model
    # loads: a batch of only such files is answered at once
    from facetrust.media.probe import resolve_path
    from facetrust.models.catalog import resolve_detector

    unreadable: dict[Path, facetrust.FacetrustError] = {}
    for path in inputs:
        try:
            resolve_path(path)
        except facetrust.FacetrustError as exc:
            unreadable[path] = exc
    try:
        resolve_detector(detector)  # a misspelt name is a usage error, whatever the inputs
        if len(unreadable) < len(inputs):  # fail early on devices and weights, before the first file
            facetrust.load_detector(detector, device=device, runtime=runtime.value)
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

    primary = json_file or csv_file
    if resume and primary is None:
        raise _usage_error("--resume needs --json or --csv: finished inputs are recorded beside that file")
    journal: Journal | None = None
    done: dict[str, dict[str, Any]] = {}
    keys = {path: input_key(path, by_content) for path in inputs} if primary is not None else {}
    if primary is not None:
        try:
            journal = Journal(primary, by_content=by_content)
        except OutputLockedError as exc:
            raise _usage_error(str(exc)) from None
        if resume:
            done = journal.finished(json_file)
        journal.start(keep=resume)

    options: dict[str, Any] = {
        "frames": 32 if frames is None else frames, "sampling": sampling.value,
        "every": 1 if every is None else every, "per_second": 1.0 if per_second is None else per_second,
        "detector": detector, "face_detector": face_detector, "device": device, "threshold": threshold,
        "runtime": runtime.value, "max_pixels": max_pixels, "max_duration": max_duration,
    }
    entries: list[dict[str, Any]] = []
    failed = internal = 0
    interrupted: int | None = None  # the signal that stopped the run
    width = max(len(printable(str(p))) for p in inputs)
    pages = None  # --report / --plots
    if report_dir is not None or plots_dir is not None:
        from facetrust.cli.report_pages import DetectPages

        try:
            pages = DetectPages(report_dir, plots_dir, detector)
        except OSError as exc:
            raise _usage_error(f"--report {report_dir}: {exc}") from None
    saved_anchors = _set_trust_anchors(trust_anchors)  # read by the provenance check; restored at the end
    previous = stop_on_signals()  # SIGTERM (timeout, kill, docker stop, systemd) and SIGHUP stop like Ctrl-C
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("analysing", total=len(inputs))
            earlier = {path: done[keys[path]] for path in inputs if keys.get(path) in done}
            readable = [p for p in inputs if p not in unreadable and p not in earlier]
            results = facetrust.analyze_many(readable, **options) if readable else iter(())
            next_readable = 0
            for path in inputs:
                progress.update(task, description=f"analysing {escape(printable(path.name)[:40])}")
                name = escape(f"{printable(str(path)):<{width}}")
                error: dict[str, str] | None = None
                outcome: facetrust.Report | Exception
                if path in earlier:  # finished by the run this one resumes: reported again, not redone
                    entry = {**earlier[path], "path": str(path)}
                    entries.append(entry)
                    failed += entry.get("error") is not None
                    _print_result(progress, f"{name}  {escape(_earlier_line(entry))}  (from the earlier run)")
                    progress.advance(task)
                    continue
                if path in unreadable:
                    outcome = unreadable[path]
                else:
                    source, outcome = next(results)  # the next file is decoded meanwhile (analyze_many)
                    assert source == readable[next_readable]
                    next_readable += 1
                if isinstance(outcome, facetrust.FacetrustError):  # ConfigError too: this input failed, the rest go on
                    error = {"type": type(outcome).__name__, "message": str(outcome)}
                elif isinstance(outcome, Exception):  # a bug, not a bad input: record it and go on with the others
                    logger.debug("internal error while analysing %s", path, exc_info=outcome)
                    internal += 1
                    error = {"type": INTERNAL_ERROR, "message": f"{type(outcome).__name__}: {outcome}"}
                else:
                    report = outcome
                entries.append({**result_entry(path, None if error else report, error), "input_key": keys.get(path)})
                if journal is not None:
                    journal.record(entries[-1])  # durable before it is reported and before the next input
                if error is not None:
                    failed += 1
                    _print_result(progress, f"{name}  [red]ERROR[/red]  {escape(printable(_error_text(error)))}")
                else:
                    style = VERDICT_STYLE.get(str(report.verdict), "none")
                    verdict, _, rest = report.summary().partition("  ")
                    _print_result(progress, f"{name}  [{style}]{escape(verdict)}[/{style}]  {escape(rest)}"
                                            f"{escape(_provenance_suffix(report))}")
                if pages is not None:  # after the result line: heatmaps take a moment
                    pages.add(path, None if error else report, error)
                progress.advance(task)
    except Stopped as stop:
        interrupted = stop.signum
    except KeyboardInterrupt:
        interrupted = signal.SIGINT
    finally:  # whatever happened, write what was analysed
        hold_signals(previous)
        complete = len(entries) == len(inputs)
        written = _write_outputs(json_file, csv_file, entries, complete=complete)
        if pages is not None:
            pages.finish()
            for failure in pages.failures:
                err.print(f"[red]Error:[/red] could not write {escape(failure)}")
            written = written and not pages.failures
        if journal is not None:
            journal.close(complete=complete and written)
        restore_signals(previous)
        _set_trust_anchors(saved_anchors, restore=True)
    if interrupted is not None:
        err.print(f"interrupted ({signal.Signals(interrupted).name}) after {len(entries)} of {len(inputs)} input(s)")
        raise typer.Exit(EXIT_INTERRUPTED if interrupted == signal.SIGINT else 128 + interrupted)
    if failed:
        err.print(f"{failed} of {len(inputs)} input(s) failed")
    if internal and not verbose:
        err.print(f"{internal} internal error(s): rerun with -v to see the traceback, and please report it")
    raise typer.Exit(EXIT_FAILED if failed or not written else EXIT_OK)


def _earlier_line(entry: dict[str, Any]) -> str:
    """The result line of an input finished by an earlier run, from its JSON entry."""
    error = entry.get("error")
    if error:
        return printable(f"ERROR  {error.get('type')}: {error.get('message')}")
    probability = entry.get("fake_probability")
    status = (entry.get("provenance") or {}).get("status", "none")
    return (f"{entry.get('verdict')}" + ("" if probability is None else f"  {probability:.2f}")
            + ("" if status == "none" else f"  provenance: {status}"))


def _provenance_suffix(report: facetrust.Report) -> str:
    """``"  provenance: verified_ai_generated, signed by Acme (untrusted)"``, or ``""`` when there is none."""
    words = report.provenance.short()
    if report.verdict_reason:
        words += " -> FAKE by provenance"
    return f"  provenance: {words}" if words else ""


def _check_trust_anchors(path: Path | None) -> None:
    """``--trust-anchors`` (else ``$FACETRUST_TRUST_ANCHORS``) must name a readable PEM bundle: a usage error
    otherwise, before any file is analysed."""
    from facetrust.provenance import load_trust_anchors

    try:
        load_trust_anchors(path)
    except facetrust.ConfigError as exc:
        raise _usage_error(f"--trust-anchors: {exc}" if path is not None else str(exc)) from None


def _set_trust_anchors(value: Path | str | None, *, restore: bool = False) -> str | None:
    """Point ``$FACETRUST_TRUST_ANCHORS`` (read by every provenance check) at ``value``; returns the value it
    had. ``value`` None leaves it alone, unless ``restore``: then None removes it again."""
    import os

    from facetrust.provenance import TRUST_ANCHORS_ENV

    before = os.environ.get(TRUST_ANCHORS_ENV)
    if value is not None:
        os.environ[TRUST_ANCHORS_ENV] = str(value)
    elif restore:
        os.environ.pop(TRUST_ANCHORS_ENV, None)
    return before


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


def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Keep the demo media in this folder.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N.")] = None,
    runtime: RuntimeOpt = Runtime.auto,
) -> None:
    """Make a real photo, a self-blended fake of it, and a video of each; analyse all four.

    Exits 1 if a verdict contradicts the truth (REAL for a fake, FAKE for the real one); an UNCERTAIN
    verdict is flagged as "not sure" but is not counted as wrong."""
    from facetrust.demo import make_demo_media

    setup_logging()
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise _usage_error(f"--out {out_dir}: is a file, expected a folder")
    try:
        facetrust.load_detector("default", device=device, runtime=runtime.value)  # missing or altered: fails here
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
            report = facetrust.analyze(item.path, device=device, runtime=runtime.value)
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




class ExportFormat(StrEnum):
    """What ``facetrust export`` writes."""

    onnx = "onnx"


def export(
    detector: Annotated[str, typer.Argument(help="Detector name (see `facetrust models`), spec or ensemble .json.")]
        = "default",
    format: Annotated[ExportFormat, typer.Option("--format", help="Graph format.")] = ExportFormat.onnx,  # noqa: A002
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the graphs (default: beside each "
                                                  "spec; elsewhere the spec and weights are copied along).")] = None,
    opset: Annotated[int, typer.Option(min=17, help="ONNX opset.")] = 17,
) -> None:
    """Export a detector's frame models (an ensemble's members one by one) for the torch-free engine:
    NAME.onnx (dynamic batch, checked against PyTorch) and NAME.onnx.json (checksums) beside each spec."""
    from facetrust.engine import export_onnx

    setup_logging(logging.WARNING)
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise _usage_error(f"--out {out_dir}: is a file, expected a folder")
    try:
        with err.status(f"exporting {escape(detector)} to {format.value}"):
            graphs = export_onnx(detector, out_dir, opset=opset)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    if not graphs:
        err.print(f"{escape(detector)} has no frame model to export (clip models run on torch)")
        raise typer.Exit(EXIT_FAILED)
    for graph in graphs:
        out.print(escape(f"{graph.name}: {graph.graph} (sha256 {graph.sha256[:12]}, max logit difference vs "
                         f"PyTorch {graph.max_logit_difference:.1e})"))
