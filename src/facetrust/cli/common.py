"""What every command shares: the two consoles, exit codes, usage errors, input expansion and output files."""

from __future__ import annotations

import glob
import json
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

import facetrust
from facetrust.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from facetrust.report.rows import write_csv_rows

# Both consoles look up sys.stdout / sys.stderr when they write (no file is bound at import), so redirection
# and test runners see every line. emoji=False: a file named ``a:joy:.jpg`` must not turn into an emoji.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
logger = logging.getLogger("facetrust.cli")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
VERDICT_STYLE = {"REAL": "green", "FAKE": "bold red", "UNCERTAIN": "yellow", "NO_FACE": "cyan"}
INTERNAL_ERROR = "InternalError"


class Runtime(StrEnum):
    """What runs the detector (``facetrust.analyze(runtime=...)``)."""

    auto = "auto"
    onnx = "onnx"
    torch = "torch"


RuntimeOpt = Annotated[Runtime, typer.Option(
    help="auto = onnxruntime when the detector ships ONNX graphs and no GPU is asked for, else PyTorch; "
         "onnx = onnxruntime only (no torch); torch = PyTorch.")]


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


class Stopped(BaseException):  # noqa: N818 - a stop request, not an error
    """Raised in the main thread when SIGTERM or SIGHUP arrives, so a batch stops as on Ctrl-C: what was
    analysed is written, and the exit code is 128 + the signal number. A BaseException, like
    KeyboardInterrupt, so no ``except Exception`` on the way turns it into a failed input."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signum)


def stop_on_signals() -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into :class:`Stopped`; returns the handlers to restore."""
    import signal

    previous: dict[int, Any] = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:  # pragma: no cover - Windows has no SIGHUP
            continue
        try:
            previous[signum] = signal.signal(signum, _stop)
        except ValueError:  # not the main thread (an embedding application): leave its handlers alone
            break
    return previous


def hold_signals(previous: dict[int, Any]) -> None:
    """Ignore the stop signals while the results are written (a second SIGTERM must not cut the file)."""
    import signal

    for signum in previous:
        signal.signal(signum, signal.SIG_IGN)


def restore_signals(previous: dict[int, Any]) -> None:
    import signal

    for signum, handler in previous.items():
        signal.signal(signum, handler)


def unmatched_pattern(path: Path) -> bool:
    """Whether ``path`` is a glob pattern that matched no file (kept by :func:`expand_inputs`)."""
    return any(ch in str(path) for ch in "*?[") and not path.exists()


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
    resolved = _resolved(file)
    if resolved is not None and any(resolved == _resolved(p) for p in inputs):
        raise _usage_error(f"{option} {file}: is also an input; refusing to overwrite it")


def _resolved(path: Path) -> Path | None:
    """``path.resolve()``, or None for a path that cannot be resolved (a symlink loop): it is no file."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (a newline in a file name would split its result
    line in two); the JSON and CSV outputs keep the real names."""
    return text.translate(_CONTROL)


def _write_csv(file: Path, entries: list[dict[str, Any]]) -> None:
    from facetrust.cli.journal import write_atomically

    write_atomically(file, lambda handle: write_csv_rows(handle, entries))


def _write_outputs(json_file: Path | None, csv_file: Path | None, entries: list[dict[str, Any]],
                   complete: bool) -> bool:
    """Write the JSON / CSV files; on failure print why and return False (never raises an OSError)."""
    ok = True
    from facetrust.cli.journal import write_atomically

    if json_file is not None:
        try:
            text = json.dumps({"complete": complete, "results": entries}, indent=2)
            write_atomically(json_file, lambda handle: handle.write(text))  # never half a file
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


def _check_detectors(names: list[str], device: str | None, runtime: str = "auto") -> None:
    for name in names:
        try:
            facetrust.load_detector(name, device=device, runtime=runtime)
        except facetrust.ConfigError as exc:
            raise _usage_error(str(exc)) from None
        except facetrust.FacetrustError as exc:
            err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_FAILED) from None


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


