"""Pydantic models of every request and response body (they make the OpenAPI schema at ``/openapi.json``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from facetrust.service.jobs import Job

Status = Literal["queued", "running", "done", "failed"]


class ErrorBody(BaseModel):
    """Every error response."""

    type: str = Field(description="Stable error name: a facetrust exception (CorruptMediaError, UnknownNameError, "
                                  "...) or an HTTP-only one (NotFound, QueueFull, Unauthorized, PayloadTooLarge, "
                                  "UnsupportedMediaType, ValidationError, PathNotAllowed, ...).")
    message: str
    status: int
    details: list[dict[str, Any]] | None = Field(default=None, description="Per-field problems (422).")


class AnalysisOptions(BaseModel):
    """The CLI's options, as query parameters of ``POST /v1/analyses`` (an unknown one is a 422: a typo such
    as ``frame=8`` must not be ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: int = Field(32, ge=1, le=300, description="Evenly spaced frames analysed per video (1-300).")
    detector: str = Field("default", min_length=1, max_length=200,
                          description="Detector name from GET /v1/detectors.")
    threshold: float | None = Field(None, gt=0, lt=1, description="Override the calibrated threshold (0-1).")


class PathRequest(BaseModel):
    """Analyse a file already on the server, under its allowed folder (``--allow-root``)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096,
                      description="Relative to the allowed folder (or absolute inside it).")


class UploadRequest(BaseModel):
    """Upload the media as the multipart part ``file``."""

    file: bytes = Field(json_schema_extra={"format": "binary"})


class Progress(BaseModel):
    stage: str | None = Field(description='"faces", "scoring" or "done"; null before the analysis starts.')
    fraction: float = Field(ge=0, le=1, description="Share of the stage done.")
    queue_position: int | None = Field(description="1 = next to run; null unless queued.")


class Source(BaseModel):
    kind: Literal["upload", "path"]
    name: str = Field(description="The uploaded file's name, or the server path as given.")


class JobError(BaseModel):
    type: str
    message: str


class Links(BaseModel):
    self: str
    report: str


class Analysis(BaseModel):
    """A job: its status, progress and, once finished, the result."""

    id: str
    status: Status
    progress: Progress
    source: Source
    options: AnalysisOptions
    attempts: int = Field(description="Times a worker started this job (a server restart may add one).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(description="Once finished: the entry `facetrust detect --json` writes "
                                                      "for this file (verdict, fake_probability, people, ...).")
    error: JobError | None = Field(description="Why the job failed.")
    links: Links

    @classmethod
    def from_job(cls, job: Job, queue_position: int | None) -> Analysis:
        def when(stamp: float | None) -> datetime | None:
            return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None

        error = JobError(type=job.error_type, message=job.error_message or "") if job.error_type else None
        return cls(
            id=job.id, status=job.status.value,
            progress=Progress(stage=job.stage, fraction=min(1.0, max(0.0, job.fraction)),
                              queue_position=queue_position),
            source=Source(kind=job.source_kind.value, name=job.source_name),
            options=AnalysisOptions(**job.options), attempts=job.attempts,
            created_at=when(job.created_at), started_at=when(job.started_at), finished_at=when(job.finished_at),
            result=job.result, error=error,
            links=Links(self=f"/v1/analyses/{job.id}", report=f"/v1/analyses/{job.id}/report"),
        )


class DetectorItem(BaseModel):
    name: str
    architecture: str
    input_size: int
    bundled: bool
    description: str
    sha256: str | None


class DetectorList(BaseModel):
    detectors: list[DetectorItem]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    workers: int = Field(description="Live worker threads.")
    queued: int
    running: int
