"""``/v1/analyses``: submit a job (upload or server path), read its status and result, its HTML report,
delete it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from facetrust.service.app import Service, get_service
from facetrust.service.errors import NotFound, ReportNotReady, ReportUnavailable
from facetrust.service.jobs import JobStatus, QueueFullError, SourceKind
from facetrust.service.schemas import Analysis, AnalysisOptions, ErrorBody, PathRequest, UploadRequest
from facetrust.service.uploads import (
    ReceivedUpload,
    check_sniffed,
    receive_analysis_request,
    resolve_allowed_path,
)

ServiceDep = Annotated[Service, Depends(get_service)]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


router = APIRouter(prefix="/v1/analyses", tags=["analyses"], responses={401: _error("No or wrong API key.")})

_BODY_SCHEMA = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": UploadRequest.model_json_schema()},
        "application/json": {"schema": PathRequest.model_json_schema()},
    },
}


@router.post(
    "",
    status_code=202,
    response_model=Analysis,
    summary="Submit a file for analysis",
    openapi_extra={"requestBody": _BODY_SCHEMA},
    responses={
        202: {"description": "Queued; poll the `Location`.", "headers": {"Location": {
            "description": "The job's URL.", "schema": {"type": "string"}}}},
        400: _error("Unknown detector (UnknownNameError) or malformed body (InvalidRequest)."),
        403: _error("Server path outside the allowed folder, or server paths are off (PathNotAllowed)."),
        404: _error("Server path not found in the allowed folder (MediaNotFoundError)."),
        413: _error("Upload larger than --max-upload-mb (PayloadTooLarge)."),
        415: _error("Bytes not an image or video (UnsupportedMediaError), or a wrong Content-Type "
                    "(UnsupportedMediaType)."),
        422: _error("An option out of range or unknown (ValidationError), or an empty file (EmptyMediaError)."),
        429: {"model": ErrorBody, "description": "The queue is full (QueueFull); retry after `Retry-After`.",
              "headers": {"Retry-After": {"description": "Seconds.", "schema": {"type": "integer"}}}},
        507: _error("The server could not store the upload (InsufficientStorage)."),
    },
)
async def submit_analysis(request: Request, options: Annotated[AnalysisOptions, Query()],
                          service: ServiceDep) -> JSONResponse:
    """Upload an image or video as the multipart part ``file``, or name a file under the server's allowed
    folder as JSON ``{"path": ...}``. Answers ``202`` with the job at once; the analysis runs in the
    background. Query options mirror ``facetrust detect``: ``frames``, ``detector``, ``threshold``."""
    settings = service.settings
    service.check_detector(options.detector)
    if service.store.counts()["queued"] >= settings.queue_size:  # refuse before reading the body
        raise service.queue_full(f"{settings.queue_size} job(s) wait")
    received = await receive_analysis_request(request, settings.uploads_dir, settings.max_upload_bytes)
    if isinstance(received, ReceivedUpload):
        kind, name, media = SourceKind.upload, received.name, str(received.path)
    else:
        real = resolve_allowed_path(settings.allow_root, received.raw)
        from facetrust.media.probe import read_head

        check_sniffed(read_head(real, 1024), received.raw)
        kind, name, media = SourceKind.path, received.raw, str(real)
    try:
        job = service.store.submit(kind, name, media, options.model_dump(), settings.queue_size)
    except QueueFullError as exc:
        if kind is SourceKind.upload:
            Path(media).unlink(missing_ok=True)
        raise service.queue_full(str(exc)) from None
    except BaseException:
        if kind is SourceKind.upload:
            Path(media).unlink(missing_ok=True)
        raise
    service.pool.notify()
    body = Analysis.from_job(job, service.store.queue_position(job))
    return JSONResponse(body.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/v1/analyses/{job.id}"})


@router.get("/{analysis_id}", response_model=Analysis, summary="Status, progress and result of a job",
            responses={404: _error("No such job (NotFound).")})
def get_analysis(analysis_id: str, service: ServiceDep) -> Analysis:
    """``status`` is queued, running, done or failed; ``result`` (once finished) is the entry
    ``facetrust detect --json`` writes for the file; ``error`` says why a job failed."""
    job = service.store.get(analysis_id)
    if job is None:
        raise NotFound(f"no analysis {analysis_id!r}")
    return Analysis.from_job(job, service.store.queue_position(job))


@router.get(
    "/{analysis_id}/report",
    response_class=FileResponse,
    summary="The HTML report of a finished job",
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "The report page."},
        404: _error("No such job (NotFound), or it has no report (ReportUnavailable)."),
        409: _error("The job is still queued or running (ReportNotReady)."),
    },
)
def get_report(analysis_id: str, service: ServiceDep) -> FileResponse:
    """One self-contained HTML page for a job that is done."""
    job = service.store.get(analysis_id)
    if job is None:
        raise NotFound(f"no analysis {analysis_id!r}")
    if job.status in (JobStatus.queued, JobStatus.running):
        raise ReportNotReady(f"analysis {analysis_id} is {job.status.value}; its report exists once it is done")
    if job.status is JobStatus.failed:
        raise ReportUnavailable(f"analysis {analysis_id} failed ({job.error_type}: {job.error_message}); "
                                "there is no report")
    if job.report_path is None or not Path(job.report_path).is_file():
        raise ReportUnavailable(f"analysis {analysis_id} has no HTML report: this installation could not render "
                                "it (see the server log); its JSON result is at /v1/analyses/" + analysis_id)
    return FileResponse(job.report_path, media_type="text/html; charset=utf-8")


@router.delete("/{analysis_id}", status_code=204, summary="Delete a job, its upload and its report",
               responses={404: _error("No such job (NotFound).")})
def delete_analysis(analysis_id: str, service: ServiceDep) -> Response:
    """A queued job never runs; a running one stops at its next progress step. Its uploaded file and report
    are deleted now (a server-side path is never deleted)."""
    job = service.store.delete(analysis_id)
    if job is None:
        raise NotFound(f"no analysis {analysis_id!r}")
    if job.source_kind is SourceKind.upload:
        Path(job.media_path).unlink(missing_ok=True)
    if job.report_path is not None:
        Path(job.report_path).unlink(missing_ok=True)
    return Response(status_code=204)

