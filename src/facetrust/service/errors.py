"""Every error the service answers is JSON ``{"type", "message", "status", "details"}`` with a stable ``type``:
the library's exception name (``CorruptMediaError``, ``UnknownNameError``, ...) when the library raised it,
else one of the HTTP-only names below (``NotFound``, ``QueueFull``, ``Unauthorized``, ...)."""

# ruff: noqa: N818 - each class name below is the ``type`` clients see, so it reads as HTTP names do

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from facetrust import errors as lib

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "InternalError"  # a bug: the message names the Python exception, never a traceback


class ServiceError(Exception):
    """An HTTP-only error: ``type`` is its class name, ``status`` its HTTP status code."""

    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message, self.headers, self.details = message, headers or {}, details

    @property
    def type(self) -> str:
        return type(self).__name__


class InvalidRequest(ServiceError):
    """The request body is malformed (broken multipart, no file, a file and a path together)."""


class Unauthorized(ServiceError):
    """No API key, or a wrong one, while the server requires one."""

    status = 401


class PathNotAllowed(ServiceError):
    """A server-side path outside the allowed root (``..``, absolute, a symlink out), or paths are off."""

    status = 403


class NotFound(ServiceError):
    """No job with this id (never made, or deleted), or no such route."""

    status = 404


class ReportUnavailable(ServiceError):
    """The job has no HTML report: it failed, or this installation cannot render one."""

    status = 404


class MethodNotAllowed(ServiceError):
    status = 405


class ReportNotReady(ServiceError):
    """The job is still queued or running: its report does not exist yet."""

    status = 409


class PayloadTooLarge(ServiceError):
    """The upload (or the request body) is larger than the server accepts."""

    status = 413


class UnsupportedMediaType(ServiceError):
    """The request's Content-Type is not multipart/form-data, JSON or a URL-encoded form."""

    status = 415


class ValidationError(ServiceError):
    """A query option or body field has the wrong type or range; ``details`` lists each problem."""

    status = 422


class QueueFull(ServiceError):
    """As many jobs wait as the queue holds; retry after ``Retry-After`` seconds."""

    status = 429


class InsufficientStorage(ServiceError):
    """The server could not store the upload (its disk is full or not writable)."""

    status = 507


class NotReady(ServiceError):
    """The server is starting (loading the detector) or has no live worker."""

    status = 503


# library errors → HTTP status; the most specific class listed wins (checked along the MRO)
LIBRARY_STATUS: dict[type[lib.FacetrustError], int] = {
    lib.MediaNotFoundError: 404,
    lib.UnsupportedMediaError: 415,
    lib.MediaTooLargeError: 413,
    lib.EmptyMediaError: 422,
    lib.CorruptMediaError: 422,
    lib.InputError: 422,
    lib.ConfigError: 400,  # UnknownNameError too
    lib.WeightsError: 503,
    lib.DependencyError: 503,
    lib.FacetrustError: 500,
}


def status_of(error: lib.FacetrustError) -> int:
    """The HTTP status for a library error."""
    for cls in type(error).__mro__:
        if cls in LIBRARY_STATUS:
            return LIBRARY_STATUS[cls]
    return 500  # pragma: no cover - FacetrustError is always in the MRO


def error_body(type_: str, message: str, status: int, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": type_, "message": message, "status": status, "details": details}


def error_response(error: Exception) -> JSONResponse:
    """The JSON response for any exception: service errors and library errors by name, others as 500."""
    from starlette.responses import JSONResponse

    if isinstance(error, ServiceError):
        body = error_body(error.type, error.message, error.status, error.details)
        return JSONResponse(body, status_code=error.status, headers=error.headers)
    if isinstance(error, lib.FacetrustError):
        status = status_of(error)
        return JSONResponse(error_body(type(error).__name__, str(error), status), status_code=status)
    logger.error("internal error", exc_info=error)
    return JSONResponse(error_body(INTERNAL_ERROR, f"{type(error).__name__}: the server failed; see its log", 500),
                        status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception FastAPI or Starlette can raise to :func:`error_response`."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"location": [str(part) for part in e.get("loc", ())], "message": str(e.get("msg", ""))}
                   for e in exc.errors()]
        where = "; ".join(f"{'.'.join(d['location'])}: {d['message']}" for d in details)
        return error_response(ValidationError(f"invalid request: {where}", details=details))

    async def on_http(_request: Request, exc: HTTPException) -> JSONResponse:
        kinds: dict[int, type[ServiceError]] = {404: NotFound, 405: MethodNotAllowed, 401: Unauthorized,
                                                413: PayloadTooLarge, 415: UnsupportedMediaType}
        kind = kinds.get(exc.status_code)
        if kind is not None:
            return error_response(kind(str(exc.detail), headers=dict(exc.headers or {})))
        body = error_body("HTTPError", str(exc.detail), exc.status_code)
        from starlette.responses import JSONResponse

        return JSONResponse(body, status_code=exc.status_code, headers=dict(exc.headers or {}))

    async def on_error(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceError, on_error)
    app.add_exception_handler(lib.FacetrustError, on_error)
    app.add_exception_handler(Exception, on_error)
