"""``facetrust serve``: the REST API (FastAPI + uvicorn) with durable jobs. FastAPI and uvicorn are imported
when the command runs, so ``facetrust --help`` stays instant and the base install needs neither."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from facetrust.cli.common import EXIT_FAILED, _usage_error, err

_INSTALL_HINT = 'facetrust serve needs the "serve" extra: pip install "facetrust[serve]"'


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", show_default=False,
        help="Folder of the job database, uploads and reports (default: ~/.local/share/facetrust/serve). "
             "Jobs in it survive a restart.")] = None,
    allow_root: Annotated[Path | None, typer.Option(
        "--allow-root", metavar="DIR",
        help="Also accept server-side paths (JSON {\"path\": ...}) of files under DIR; off by default.")] = None,
    api_key: Annotated[list[str] | None, typer.Option(
        "--api-key", envvar="FACETRUST_API_KEY", show_default=False,
        help="Require this key (X-API-Key or Authorization: Bearer); repeat for several. Prefer the "
             "FACETRUST_API_KEY environment variable (keys separated by commas): a command line is visible "
             "to other users.")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, show_default=False, help="Analyses run at the same time (default: one per CPU core).")] = None,
    queue: Annotated[int, typer.Option(
        min=1, help="Jobs that may wait beyond the running ones; more get 429 with Retry-After.")] = 32,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest upload, in MiB (413 beyond).")] = 500.0,
    retention: Annotated[str, typer.Option(
        help="How long an upload is kept after its job ends: 0 (deleted at once), or e.g. 90s, 15m, 12h, 7d. "
             "Job records and results are kept until DELETEd.")] = "0",
    max_attempts: Annotated[int, typer.Option(
        min=1, help="A job the server died on this many times is marked failed (JobInterrupted), not re-run.")]
        = 3,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the REST API: upload media, poll the job, read the `detect --json` result (docs at /docs).

    POST /v1/analyses (multipart part "file", or JSON {"path": ...} under --allow-root) answers 202 with a
    job id; GET /v1/analyses/{id} gives its status, progress and result. Jobs live in a SQLite file in
    --data-dir and survive a restart."""
    try:
        import uvicorn

        from facetrust.service import ServiceSettings, create_app
        from facetrust.service.settings import MIB, default_data_dir, default_workers, parse_duration
    except ImportError as exc:
        err.print(f"[red]DependencyError:[/red] {escape(_INSTALL_HINT)} ({escape(str(exc))})")
        raise typer.Exit(EXIT_FAILED) from None
    from facetrust.errors import ConfigError, FacetrustError
    from facetrust.utils.logging import setup_logging

    level = log_level.lower()
    if level not in ("debug", "info", "warning", "error"):
        raise _usage_error(f"--log-level {log_level}: use debug, info, warning or error")
    setup_logging(getattr(logging, level.upper()))
    keys = tuple(part.strip() for key in (api_key or []) for part in key.split(",") if part.strip())
    if api_key and not keys:
        raise _usage_error("--api-key is empty")
    try:
        settings = ServiceSettings(
            data_dir=(data_dir or default_data_dir()).expanduser().absolute(),
            allow_root=allow_root.expanduser().absolute() if allow_root is not None else None,
            api_keys=keys, workers=workers or default_workers(), queue_size=queue,
            max_upload_bytes=int(max_upload_mb * MIB), retention_seconds=parse_duration(retention),
            max_attempts=max_attempts,
        )
    except ConfigError as exc:
        raise _usage_error(str(exc)) from None
    try:
        app = create_app(settings)
    except FacetrustError as exc:  # the data folder is locked by another server
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    except OSError as exc:  # the data folder cannot be created or written
        err.print(f"[red]Error:[/red] data folder {escape(str(settings.data_dir))}: {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    shown = f"[{host}]" if ":" in host else host
    err.print(f"facetrust serve on http://{escape(shown)}:{port} (docs at /docs): {settings.workers} worker(s), "
              f"queue {settings.queue_size}, data in {escape(str(settings.data_dir))}"
              + (", API key required" if keys else "")
              + (f", paths under {escape(str(settings.allow_root))}" if settings.allow_root else ""))
    os.environ.pop("FACETRUST_API_KEY", None)  # analyses never need it; keep it out of reach of child processes
    uvicorn.run(app, host=host, port=port, log_level=level, access_log=level == "debug", lifespan="on",
                timeout_graceful_shutdown=15)
