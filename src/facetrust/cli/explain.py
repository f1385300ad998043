"""``facetrust explain PATH``: heatmaps of the most suspicious faces, as PNG panels (and ``.npy`` on request).

Exit codes as ``detect``: 0 done (also when no face was found: nothing to explain), 1 the input or the
detector failed, 2 usage error (checked before anything is analysed)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

import facetrust
from facetrust.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    INTERNAL_ERROR,
    VERDICT_STYLE,
    Runtime,
    RuntimeOpt,
    _usage_error,
    err,
    logger,
    out,
    printable,
)
from facetrust.report.report import format_time
from facetrust.utils.logging import setup_logging


def explain(
    path: Annotated[Path, typer.Argument(help="An image or a video.")],
    method: Annotated[str, typer.Option(
        help="gradcam, gradcam++, saliency, integrated_gradients, feature_maps, attention (clip models), "
             "lime or shap (slow: seconds per face).")] = "gradcam",
    faces: Annotated[int, typer.Option(min=1, max=50, help="Most suspicious faces explained per person.")] = 3,
    detector: Annotated[str, typer.Option(help="Detector name (see `facetrust models`) or spec .json path.")]
        = "default",
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the panels (default: ./explanations/<file name without extension>/).")] = None,
    npy: Annotated[bool, typer.Option("--npy", help="Also write each heatmap as a float32 .npy array.")] = False,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced video frames analysed.")] = 32,
    samples: Annotated[int | None, typer.Option(
        min=1, help="LIME: perturbed samples (default 300); SHAP: model evaluations (default 300); "
                    "integrated_gradients: steps (default 32).")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")] = None,
    threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Override the calibrated threshold.")]
        = None,
    runtime: RuntimeOpt = Runtime.auto,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
) -> None:
    """Explain the most suspicious faces of each person in one image or video: writes a PNG panel per face
    (face crop | heatmap | overlay, captioned) and prints one line per face (on stdout).

    A heatmap of a face the detector calls REAL (or UNCERTAIN) is drawn in grey and captioned "not
    evidence": it shows what would push the detector towards fake, not a sign of manipulation."""
    import facetrust.explain as fx

    setup_logging(logging.INFO if verbose else logging.WARNING)
    logger.setLevel(logging.DEBUG if verbose else logging.NOTSET)
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise _usage_error("--threshold must lie strictly between 0 and 1")
    options = None
    if samples is not None:
        key = {"lime": "samples", "shap": "evals", "integrated_gradients": "steps"}.get(method)
        if key is None:
            raise _usage_error(f"--samples applies to lime, shap and integrated_gradients, not {method!r}")
        options = {key: samples}
    try:
        fx.make_explainer(method, options)
        from facetrust.models.catalog import resolve_detector

        resolve_detector(detector)
    except facetrust.ConfigError as exc:  # UnknownNameError included: "did you mean"
        raise _usage_error(str(exc)) from None
    directory = out_dir if out_dir is not None else Path("explanations") / _safe_name(path.stem)
    if directory.exists() and not directory.is_dir():
        raise _usage_error(f"--out {directory}: is a file, expected a folder")

    try:
        report, explained = fx.analyze_and_explain(
            path, method=method, faces_per_person=faces, detector=detector, frames=frames, device=device,
            threshold=threshold, runtime=runtime.value, options=options)
    except facetrust.ConfigError as exc:  # e.g. 'attention' asked of a frame model
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        out.print(f"{escape(printable(str(path)))}  [red]ERROR[/red]  {escape(printable(f'{type(exc).__name__}: {exc}'))}")
        raise typer.Exit(EXIT_FAILED) from None
    except Exception as exc:  # a bug, not a bad input: one clear line, the traceback with -v
        logger.debug("explaining %s failed", path, exc_info=True)
        out.print(f"{escape(printable(str(path)))}  [red]ERROR[/red]  "
                  f"{escape(printable(f'{INTERNAL_ERROR}: {type(exc).__name__}: {exc}'))}")
        raise typer.Exit(EXIT_FAILED) from None

    style = VERDICT_STYLE.get(str(report.verdict), "none")
    verdict, _, rest = report.summary().partition("  ")
    err.print(f"{escape(printable(str(path)))}  [{style}]{escape(verdict)}[/{style}]  {escape(rest)}")
    if not explained:
        err.print("no face to explain")
        raise typer.Exit(EXIT_OK)
    try:
        written = _write(explained, directory, npy)
    except OSError as exc:
        err.print(f"[red]Error:[/red] could not write to {escape(str(directory))}: {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    for item, png in zip(explained, written, strict=True):
        mark = "evidence" if item.is_evidence else f"not evidence (face called {item.label})"
        member = f"  model {item.member}" if item.member else ""
        out.print(escape(f"person {item.person}  frame {item.frame_index}  {format_time(item.timestamp, tenths=True)}"
                         f"  p(fake) {item.fake_probability:.2f}  {item.label}  {mark}{member}  {png}"))
    raise typer.Exit(EXIT_OK)


def _safe_name(stem: str) -> str:
    """A file stem usable as a folder name: path separators and control characters replaced."""
    return re.sub(r"[\x00-\x1f/\\]", "_", stem) or "input"


def _write(explained: list, directory: Path, npy: bool) -> list[Path]:
    """One PNG panel per face (and its ``.npy`` heatmap): ``person<P>_frame<F>_<method>.png``."""
    import numpy as np
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for item in explained:
        stem = f"person{item.person}_frame{item.frame_index:06d}_{item.method.replace('+', 'p')}"
        png = directory / f"{stem}.png"
        Image.fromarray(item.panel()).save(png)
        if npy:
            np.save(directory / f"{stem}.npy", item.heatmap)
        paths.append(png)
    return paths
