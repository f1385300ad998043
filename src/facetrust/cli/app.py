"""``facetrust app``: the web app (Streamlit), started as a ``streamlit run`` subprocess of this command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from facetrust.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, err


class Theme(StrEnum):
    """The app's colours (each visitor can still switch in the ⋮ menu → Settings)."""

    auto = "auto"
    light = "light"
    dark = "dark"


def streamlit_command(port: int, host: str, max_upload_mb: int, theme: Theme) -> list[str]:
    """The ``streamlit run`` command line of the app."""
    from facetrust.app import APP_SCRIPT

    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--server.maxUploadSize", str(max_upload_mb),
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",  # never a traceback in the page
        "--client.toolbarMode", "minimal",
        "--global.developmentMode", "false",
    ]
    if theme is not Theme.auto:
        command += ["--theme.base", theme.value]
    return command


def app(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", min=1, help="Largest upload, in MB.")] = 200,
    theme: Annotated[Theme, typer.Option(help="Colour theme: auto follows the visitor's system.")] = Theme.auto,
) -> None:
    """Start the web app (Streamlit): check an image or video in the browser.

    Upload a file (or pick a demo file), read the verdict, see the faces, timelines and heatmaps, compare
    detectors, download JSON, CSV and an HTML report. Ctrl-C stops it."""
    try:
        import streamlit  # noqa: F401 - only to check that the extra is installed
    except ImportError:
        err.print("[red]Error:[/red] the web app needs Streamlit: pip install 'facetrust[app]'")
        raise typer.Exit(EXIT_FAILED) from None
    env = {**os.environ, "FACETRUST_APP_MAX_UPLOAD_MB": str(max_upload_mb), "PYTHONUNBUFFERED": "1"}
    err.print(f"facetrust app on http://{escape(host)}:{port} (Ctrl-C stops it)")
    process = subprocess.Popen(streamlit_command(port, host, max_upload_mb, theme), env=env)

    def forward(signum: int, frame: object) -> None:  # SIGTERM / SIGHUP stop the app, not only this process
        process.send_signal(signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    try:
        code = process.wait()
    except KeyboardInterrupt:  # a terminal's Ctrl-C reaches Streamlit too; a signal to this process alone not
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(128 - code if code < 0 else code)  # killed by signal N: 128 + N, as a shell reports it
