"""``facetrust detect | models | demo | train``. Each command calls the public API and maps errors to exit
codes: 0 every input analysed, 1 some input failed (the rest are still analysed), 2 usage error."""

from __future__ import annotations

import csv
import glob
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
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
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
VERDICT_STYLE = {"REAL": "green", "FAKE": "bold red", "UNCERTAIN": "yellow", "NO_FACE": "cyan"}


def _usage_error(message: str) -> typer.Exit:
    err.print(f"[red]Error:[/red] {message}")
    return typer.Exit(EXIT_USAGE)


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
            paths.extend(sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file()))
        else:
            paths.append(path)
    seen: set[Path] = set()
    return [p for p in paths if not (p in seen or seen.add(p))]


def _entry(path: Path, report: facetrust.Report | None, error: Exception | None) -> dict[str, Any]:
    if report is not None:
        return {**report.to_dict(), "path": str(path), "error": None}
    assert error is not None
    return {
        "path": str(path),
        "verdict": None,
        "fake_probability": None,
        "threshold": None,
        "people": [],
        "error": {"type": type(error).__name__, "message": str(error)},
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


@app.command()
def detect(
    paths: Annotated[list[str], typer.Argument(help="Images, videos, folders (searched recursively) or glob patterns.")],
    json_file: Annotated[Path | None, typer.Option("--json", help="Write all results as JSON to this file.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write one CSV row per input to this file.")] = None,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames analysed per video.")] = 32,
    detector: Annotated[str, typer.Option(help="Detector name (see `facetrust models`) or spec .json path.")] = "default",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")] = None,
    threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Override the calibrated threshold.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
) -> None:
    """Analyse media files and print one verdict line per input."""
    setup_logging(logging.INFO if verbose else logging.WARNING)
    inputs = expand_inputs(paths)
    if not inputs:
        raise _usage_error(f"no media files found in {' '.join(paths)}")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise _usage_error("--threshold must lie strictly between 0 and 1")
    try:
        facetrust.load_detector(detector, device=device)  # fail early on names and weights
    except facetrust.UnknownNameError as exc:
        raise _usage_error(str(exc)) from None
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None

    entries: list[dict[str, Any]] = []
    failed = 0
    width = max(len(str(p)) for p in inputs)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("analysing", total=len(inputs))
        for path in inputs:
            progress.update(task, description=f"analysing {path.name[:40]}")
            try:
                report = facetrust.analyze(path, frames=frames, detector=detector, device=device, threshold=threshold)
            except facetrust.ConfigError as exc:
                raise _usage_error(str(exc)) from None
            except facetrust.FacetrustError as exc:
                failed += 1
                entries.append(_entry(path, None, exc))
                progress.console.print(f"{str(path):<{width}}  [red]ERROR[/red]  {type(exc).__name__}: {exc}")
            else:
                entries.append(_entry(path, report, None))
                style = VERDICT_STYLE.get(str(report.verdict), "")
                verdict, _, rest = report.summary().partition("  ")
                progress.console.print(f"{str(path):<{width}}  [{style}]{verdict}[/{style}]  {rest}")
            progress.advance(task)
    if json_file is not None:
        json_file.write_text(json.dumps({"results": entries}, indent=2), encoding="utf-8")
    if csv_file is not None:
        _write_csv(csv_file, entries)
    if failed:
        err.print(f"{failed} of {len(inputs)} input(s) failed")
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


@app.command()
def models() -> None:
    """List the deepfake detectors and face detectors available offline."""
    from facetrust.faces import list_face_detectors

    table = Table(title="deepfake detectors")
    for column in ("name", "architecture", "input", "bundled", "sha256", "description"):
        table.add_column(column)
    for info in facetrust.list_detectors():
        table.add_row(info.name, info.architecture, str(info.input_size), "yes" if info.bundled else "no",
                      (info.sha256 or "")[:12], info.description)
    out.print(table)
    out.print("face detectors: " + ", ".join(list_face_detectors()))


@app.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Keep the demo media in this folder.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N.")] = None,
) -> None:
    """Make a real photo, a self-blended fake of it, and a video of each; analyse all four."""
    from facetrust.demo import make_demo_media

    setup_logging()
    directory = out_dir or Path(tempfile.mkdtemp(prefix="facetrust-demo-"))
    with err.status("making demo media (real astronaut photo and a self-blended fake)"):
        items = make_demo_media(directory)
    wrong = 0
    for item in items:
        try:
            report = facetrust.analyze(item.path, device=device)
        except facetrust.FacetrustError as exc:
            err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
            raise typer.Exit(EXIT_FAILED) from None
        ok = str(report.verdict) == item.expected
        wrong += not ok
        style = VERDICT_STYLE.get(str(report.verdict), "")
        verdict, _, rest = report.summary().partition("  ")
        mark = "[green]as expected[/green]" if ok else f"[red]expected {item.expected}[/red]"
        out.print(f"{item.description:<24} {item.path.name:<28} [{style}]{verdict:<9}[/{style}] {rest}  ({mark})")
    out.print(f"demo media in {directory}")
    raise typer.Exit(EXIT_FAILED if wrong else EXIT_OK)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
def train(
    config: Annotated[Path, typer.Argument(help="YAML training config, e.g. configs/default_detector.yaml.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides of the config.")] = None,
) -> None:
    """Train a detector with self-blended images from real faces; writes weights, spec and metrics."""
    from facetrust.config import load_config
    from facetrust.training import TrainConfig
    from facetrust.training.train import train as run_training

    setup_logging(logging.INFO)
    try:
        cfg = load_config(TrainConfig, config, overrides or [])
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    command = "facetrust train " + " ".join([str(config), *(overrides or [])])
    try:
        spec = run_training(cfg, command=command)
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(f"saved {spec.name} to {cfg.output_dir} (sha256 {spec.sha256})")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
