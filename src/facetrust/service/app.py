"""The FastAPI application factory: one :class:`Service` (settings, job store, workers) per app."""

from __future__ import annotations

import fcntl
import hmac
import logging
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

import facetrust
from facetrust.errors import ConfigError, UnknownNameError
from facetrust.service.errors import QueueFull, Unauthorized, install_error_handlers
from facetrust.service.jobs import JobStore
from facetrust.service.settings import ServiceSettings
from facetrust.service.workers import Analyze, Janitor, WorkerPool

logger = logging.getLogger(__name__)

DEFAULT_JOB_SECONDS = 5.0  # Retry-After estimate before any job has finished


class DataDirLockedError(ConfigError):
    """Another ``facetrust serve`` already uses this data folder."""


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on ``data_dir/serve.lock`` for the life of the process (the OS drops it when
    the process dies, even by SIGKILL): two servers recovering each other's running jobs would run them twice."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / "serve.lock", "a+")  # noqa: SIM115 - held until close()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirLockedError(f"{data_dir}: another facetrust serve is using this data folder") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


@dataclass
class Service:
    """What the routes share: settings, the job store, the worker pool."""

    settings: ServiceSettings
    store: JobStore
    pool: WorkerPool
    janitor: Janitor
    _lock: IO[str] | None = field(repr=False)
    _detectors: list[str] | None = field(default=None, repr=False)
    closed: bool = False

    @classmethod
    def open(cls, settings: ServiceSettings, analyze: Analyze | None = None) -> Service:
        """Lock the data folder, open the store, recover jobs a dead server left running, drop orphan uploads."""
        lock = _lock_data_dir(settings.data_dir)
        try:
            settings.uploads_dir.mkdir(exist_ok=True)
            settings.reports_dir.mkdir(exist_ok=True)
            store = JobStore(settings.database)
            requeued, failed = store.recover(settings.max_attempts)
            if requeued or failed:
                logger.warning("recovered jobs left running by a stopped server: %d re-queued, %d failed after "
                               "%d attempt(s)", len(requeued), len(failed), settings.max_attempts)
            janitor = Janitor(store, settings)
            janitor.remove_orphans()
            janitor.sweep()
        except BaseException:
            lock.close()
            raise
        return cls(settings, store, WorkerPool(store, settings, analyze), janitor, lock)

    def start(self) -> None:
        self.pool.start()
        self.janitor.start()

    def close(self) -> None:
        """Stop the workers (running jobs go back to the queue), close the store, release the lock."""
        if self.closed:
            return
        self.closed = True
        self.pool.stop()
        self.janitor.stop()
        self.store.close()
        if self._lock is not None:
            self._lock.close()

    def detector_names(self) -> list[str]:
        if self._detectors is None:
            self._detectors = [info.name for info in facetrust.list_detectors()]
        return self._detectors

    def check_detector(self, name: str) -> None:
        """Only detectors listed by ``GET /v1/detectors``: never a spec path (that would read server files)."""
        names = self.detector_names()
        if name not in names:
            raise UnknownNameError("detector", name, names)

    def retry_after(self) -> int:
        """Seconds until a queue slot is likely free: one mean job time spread over the workers."""
        mean = self.store.mean_duration() or DEFAULT_JOB_SECONDS
        return int(min(60, max(1, math.ceil(mean / max(1, self.settings.workers)))))

    def queue_full(self, detail: str) -> QueueFull:
        seconds = self.retry_after()
        return QueueFull(f"the queue is full ({detail}); retry in {seconds} s", headers={"Retry-After": str(seconds)})


def get_service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key from --api-key.")
_bearer = HTTPBearer(auto_error=False, description="The same API key, as `Authorization: Bearer KEY`.")


def require_api_key(
    service: Annotated[Service, Depends(get_service)],
    header_key: Annotated[str | None, Security(_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> None:
    """401 unless the request carries one of the configured keys (no check when none is configured)."""
    keys = service.settings.api_keys
    if not keys:
        return
    given = header_key or (bearer.credentials if bearer is not None else None)
    if given is None:
        raise Unauthorized("an API key is required: send X-API-Key: KEY or Authorization: Bearer KEY",
                           headers={"WWW-Authenticate": "Bearer"})
    if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys):
        raise Unauthorized("wrong API key", headers={"WWW-Authenticate": "Bearer"})


def create_app(settings: ServiceSettings, *, start_workers: bool = True, analyze: Analyze | None = None) -> FastAPI:
    """A FastAPI app serving ``settings``. The job store is opened (and crashed jobs recovered) here; the
    workers start with the app's lifespan (``start_workers=False``: jobs are accepted but none runs)."""
    from facetrust.service.routes import analyses, detectors, health

    service = Service.open(settings, analyze)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_workers:
            service.start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="facetrust",
        version=facetrust.__version__,
        summary="Tell whether the faces in images and videos have been altered.",
        description="Upload an image or video (or name a file under the server's allowed folder), poll the job, "
                    "read the same result as `facetrust detect --json`. Every error is JSON with a stable `type`.",
        lifespan=lifespan,
        docs_url=None,  # served below from the swagger-ui-bundle package: the default page loads its
        redoc_url=None,  # JavaScript from a CDN and stays blank on an offline machine
    )
    _offline_docs(app)
    app.state.service = service
    install_error_handlers(app)
    auth = [Depends(require_api_key)]
    app.include_router(analyses.router, dependencies=auth)
    app.include_router(detectors.router, dependencies=auth)
    app.include_router(health.router)
    _describe_this_server(app, service)
    return app


DOCS_ASSETS = "/docs-assets"


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from files installed with the ``serve`` extra (``swagger-ui-bundle``), so the
    interactive docs work without network access."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Any:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="facetrust API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")


def _describe_this_server(app: FastAPI, service: Service) -> None:
    """Make the OpenAPI schema say what this server accepts: the detector names it has (an enum), and the
    API-key requirement only when keys are configured."""
    build = app.openapi
    names = service.detector_names()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    if parameter["name"] == "detector" and parameter["in"] == "query":
                        parameter["schema"]["enum"] = names
                if not service.settings.api_keys:
                    operation.pop("security", None)
                    operation.get("responses", {}).pop("401", None)
        if not service.settings.api_keys:
            schema.get("components", {}).pop("securitySchemes", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
