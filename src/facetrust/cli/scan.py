"""``facetrust scan`` (a corpus on Ray, one row per file) and ``facetrust watch`` (rolling verdicts on a
stream). Thin shells over :mod:`facetrust.scan` and :mod:`facetrust.watch`, both imported when a command runs.

Exit codes as for ``detect``: 0 done, 1 some file failed (scan) or the source/detector could not be used,
2 usage error, 130 Ctrl-C (128 + N for signal N); what was finished is kept either way."""

from __future__ import annotations

import logging
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import facetrust
from facetrust.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    VERDICT_STYLE,
    Runtime,
    RuntimeOpt,
    Stopped,
    _check_output_file,
    _usage_error,
    err,
    expand_inputs,
    logger,
    out,
    restore_signals,
    stop_on_signals,
    unmatched_pattern,
)
from facetrust.utils.logging import setup_logging

if TYPE_CHECKING:
    from facetrust.scan import ScanSummary
    from facetrust.watch import RollingVerdict

DetectorOpt = Annotated[str, typer.Option(help="Detector name (see `facetrust models`) or spec .json path.")]
FaceDetectorOpt = Annotated[str, typer.Option(help="Face detector name (see `facetrust models`).")]
DeviceOpt = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")]
ThresholdOpt = Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Override the calibrated threshold.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")]


def _check_models(detector: str, face_detector: str, threshold: float | None) -> None:
    """Usage errors (exit 2) for a misspelt detector or face detector, or a threshold of 0 or 1."""
    from facetrust.faces import list_face_detectors
    from facetrust.models.catalog import resolve_detector

    if threshold is not None and not 0.0 < threshold < 1.0:
        raise _usage_error("--threshold must lie strictly between 0 and 1")
    if face_detector not in list_face_detectors():
        raise _usage_error(str(facetrust.UnknownNameError("face detector", face_detector, list_face_detectors())))
    try:
        resolve_detector(detector)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None


def _exit_for(signum: int) -> typer.Exit:
    return typer.Exit(EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum)


# ------------------------------------------------------------------------------------------------------ scan


def scan(
    sources: Annotated[list[str], typer.Argument(help="Folders (searched recursively), files or glob patterns.")],
    out_path: Annotated[Path, typer.Option(
        "--out", help="results.parquet (a folder of Parquet part files) or results.jsonl. An existing output is "
                      "resumed: the files it holds are skipped.")],
    workers: Annotated[int | None, typer.Option(
        min=0, show_default=False,
        help="Ray workers, each loading the models once (default: one per CPU of this machine, or of the "
             "cluster with --address); 0 = no Ray, one file after the other in this process.")] = None,
    address: Annotated[str | None, typer.Option(
        help="Run on an existing Ray cluster: auto (the one this machine belongs to) or ray://HEAD:10001. The "
             "files must be at the same paths on every node.")] = None,
    by_content: Annotated[bool, typer.Option(
        "--hash", help="Recognise files already done by the sha256 of their bytes, not by path, size and "
                       "modification time.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Start a fresh output: delete the rows it holds.")]
        = False,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames analysed per video.")] = 32,
    detector: DetectorOpt = "default",
    face_detector: FaceDetectorOpt = "mtcnn",
    device: DeviceOpt = None,
    threshold: ThresholdOpt = None,
    runtime: RuntimeOpt = Runtime.auto,
    cpus_per_worker: Annotated[float, typer.Option(min=0.01, help="CPUs Ray reserves for each worker.")] = 1.0,
    gpus_per_worker: Annotated[float, typer.Option(min=0.0, help="GPUs Ray reserves for each worker.")] = 0.0,
    verbose: VerboseOpt = False,
) -> None:
    """Analyse every image and video of a corpus on Ray; one row per file in a Parquet or JSON Lines output.

    Rows are written as files finish (a crash or Ctrl-C loses none), failed files become rows with the error's
    type and message, and running the same command again resumes: files already in the output are skipped.
    The progress bar and the summary go to stderr."""
    from facetrust.scan import CorpusScan, OutputInUseError, output_format

    setup_logging(logging.INFO if verbose else logging.WARNING)
    logger.setLevel(logging.DEBUG if verbose else logging.NOTSET)
    try:
        output_format(out_path)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    if workers == 0 and address:
        raise _usage_error("--workers 0 analyses in this process; it cannot be combined with --address")
    _check_models(detector, face_detector, threshold)
    inputs = expand_inputs(sources)
    if not inputs or all(unmatched_pattern(p) for p in inputs):
        raise _usage_error(f"no media files found in {' '.join(sources)}")
    if out_path.suffix.lower() == ".jsonl":
        _check_output_file("--out", out_path, inputs)
    elif out_path.exists() and not out_path.is_dir():
        raise _usage_error(f"--out {out_path}: exists and is not a folder (Parquet results are a folder of part "
                           "files)")
    elif not out_path.parent.is_dir():
        raise _usage_error(f"--out {out_path}: folder {out_path.parent} does not exist")
    try:
        job = CorpusScan(out_path, workers=workers, address=address, by_content=by_content, overwrite=overwrite,
                         cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, frames=frames,
                         detector=detector, face_detector=face_detector, device=device, threshold=threshold,
                         runtime=runtime.value)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None

    interrupted: int | None = None
    previous = stop_on_signals()  # SIGTERM and SIGHUP stop like Ctrl-C: finished rows are kept
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[counts]}"), console=err, transient=False) as progress:
            task = progress.add_task("reading the output", total=None, counts="")

            def started(todo: int, skipped: int) -> None:
                note = f" ({skipped} already done)" if skipped else ""
                progress.update(task, total=todo, description=f"starting workers{note}")

            def ready(count: int) -> None:
                where = f"on {count} Ray worker(s)" if count else "in this process"
                progress.update(task, description=f"scanning {where}")

            def finished(row: dict[str, Any]) -> None:
                progress.update(task, advance=1, counts=_counts(job.summary))

            job.run(inputs, on_start=started, on_ready=ready, on_row=finished)
    except Stopped as stop:
        interrupted = stop.signum
    except KeyboardInterrupt:
        interrupted = signal.SIGINT
    except (facetrust.ConfigError, OutputInUseError) as exc:  # resuming with/without --hash; a second writer
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:  # the output is in use, a worker cannot load the detector, no Ray...
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        _print_summary(job.summary)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        restore_signals(previous)
    _print_summary(job.summary)
    if interrupted is not None:
        raise _exit_for(interrupted)
    raise typer.Exit(EXIT_FAILED if job.summary.failed else EXIT_OK)


def _counts(summary: ScanSummary) -> str:
    parts = [f"{label} {n}" for label, n in sorted(summary.verdicts.items())]
    if summary.failed:
        parts.append(f"errors {summary.failed}")
    return escape(", ".join(parts))


def _print_summary(summary: ScanSummary) -> None:
    if summary.inputs:
        err.print(escape(summary.text()))


# ----------------------------------------------------------------------------------------------------- watch

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|min|h)?\s*$", re.IGNORECASE)
_UNIT = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_seconds(text: str, option: str) -> float:
    """``"2"``, ``"2s"``, ``"500ms"``, ``"1.5m"``, ``"1h"`` → seconds (> 0); a usage error otherwise."""
    match = _DURATION.match(text)
    seconds = float(match.group(1)) * _UNIT[match.group(2) and match.group(2).lower()] if match else 0.0
    if not seconds > 0:
        raise _usage_error(f"{option} {text!r}: expected a duration > 0 such as 2, 2s, 500ms, 1.5m or 1h")
    return seconds


def watch(
    source: Annotated[str, typer.Argument(help="A video file, a stream URL (rtsp://, rtmp://, http(s)://, "
                                               "udp://, srt://...) or a webcam index (0).")],
    every: Annotated[str, typer.Option(help="A verdict every this much stream time (2, 2s, 500ms).")] = "2s",
    window: Annotated[str, typer.Option(help="Each verdict judges the faces of the last this much stream time.")]
        = "10s",
    fps: Annotated[float, typer.Option(
        min=0.1, max=30.0, help="Frames analysed per second of stream, at most; when the CPU cannot keep up, "
                                "frames are skipped (each verdict says the rate achieved).")] = 2.0,
    realtime: Annotated[bool, typer.Option(
        "--realtime/--no-realtime", help="Play the source at its own speed, as a live stream arrives; "
                                         "--no-realtime analyses every sample of a recording (a file or a URL) "
                                         "as fast as possible. Webcams are always watched in real time.")]
        = True,
    until: Annotated[str | None, typer.Option(
        help="Stop after this much stream time (60, 90s, 5m); default: the end of the stream or Ctrl-C.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print each verdict as one line of JSON.")] = False,
    detector: DetectorOpt = "default",
    face_detector: FaceDetectorOpt = "mtcnn",
    device: DeviceOpt = None,
    threshold: ThresholdOpt = None,
    runtime: RuntimeOpt = Runtime.auto,
    verbose: VerboseOpt = False,
) -> None:
    """Watch a stream, a webcam or a video file and print a rolling verdict every few seconds (on stdout).

    Each verdict covers the faces of the last --window of stream, per tracked person: REAL, FAKE, UNCERTAIN or
    NO_FACE, with the stream time. At most --fps frames per second are analysed (default 2); the start line
    and the end summary go to stderr."""
    from facetrust.watch import describe_source
    from facetrust.watch import watch as watch_stream

    setup_logging(logging.INFO if verbose else logging.WARNING)
    every_s, window_s = parse_seconds(every, "--every"), parse_seconds(window, "--window")
    until_s = parse_seconds(until, "--until") if until is not None else None
    _check_models(detector, face_detector, threshold)
    kind = describe_source(source)
    try:
        verdicts = watch_stream(source, every=every_s, window=window_s, fps=fps, realtime=realtime, until=until_s,
                                detector=detector, face_detector=face_detector, device=device,
                                runtime=runtime.value, threshold=threshold)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    pace = " in real time" if realtime or kind == "webcam" else " as fast as possible"
    err.print(f"watching {escape(source)}{pace}: up to {fps:g} frames/s analysed, a verdict every {every_s:g} s "
              f"over the last {window_s:g} s")

    last: RollingVerdict | None = None
    count = 0
    stopped: int | None = None
    previous = stop_on_signals()
    try:
        for verdict in verdicts:
            last, count = verdict, count + 1
            if jsonl:
                out.print(verdict.to_json(), markup=False, highlight=False, soft_wrap=True)
            else:
                style = VERDICT_STYLE.get(str(verdict.verdict), "none")
                out.print(f"[{style}]{escape(verdict.line())}[/{style}]")
    except Stopped as stop:
        stopped = stop.signum
    except KeyboardInterrupt:
        stopped = signal.SIGINT
    except facetrust.FacetrustError as exc:  # the stream broke off, or decoded no frame at all
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        verdicts.close()  # type: ignore[attr-defined]  # stops the reader thread and closes the stream
        restore_signals(previous)
    how = "interrupted" if stopped is not None else ("--until reached" if until_s is not None and last is not None
                                                      and last.time >= until_s - 1e-3 else "end of stream")
    if last is None:
        err.print(f"stopped ({how}) before the first verdict")
    else:
        err.print(f"stopped at {last.time:.1f} s ({how}): {count} verdict(s), {last.frames_decoded} frames decoded, "
                  f"{last.analysed_fps:.1f} frames/s analysed in the last window"
                  + (f", {last.frames_behind} samples skipped to keep up" if last.frames_behind else ""))
    if stopped is not None:
        raise _exit_for(stopped)
    raise typer.Exit(EXIT_OK)


__all__ = ["parse_seconds", "scan", "watch"]
