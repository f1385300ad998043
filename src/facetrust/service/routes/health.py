"""``GET /healthz`` (the process answers) and ``GET /readyz`` (it can analyse: detector loaded, workers alive).
Neither needs an API key, so probes need no secret."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from facetrust.service.app import Service, get_service
from facetrust.service.errors import NotReady
from facetrust.service.schemas import ErrorBody, Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """200 while the server process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, summary="Readiness",
            responses={503: {"model": ErrorBody, "description": "Starting, or it cannot analyse (NotReady)."}})
def readyz(service: Annotated[Service, Depends(get_service)]) -> Readiness:
    """200 once the default detector is loaded and every worker is alive; 503 ``NotReady`` before or otherwise."""
    pool = service.pool
    if not pool.started:
        raise NotReady("the workers are not started")
    if not pool.warm.is_set():
        raise NotReady("loading the detector", headers={"Retry-After": "1"})
    if pool.warm_error is not None:
        raise NotReady(f"the detector could not be loaded: {pool.warm_error}")
    if service.settings.workers and pool.alive() < service.settings.workers:
        raise NotReady(f"{pool.alive()} of {service.settings.workers} worker(s) alive")
    counts = service.store.counts()
    return Readiness(status="ready", workers=pool.alive(), queued=counts["queued"], running=counts["running"])
