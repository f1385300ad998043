"""``GET /v1/detectors``: the detectors a job may name."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

import facetrust
from facetrust.service.schemas import DetectorItem, DetectorList, ErrorBody

router = APIRouter(prefix="/v1/detectors", tags=["detectors"],
                   responses={401: {"model": ErrorBody, "description": "No or wrong API key."}})


@router.get("", response_model=DetectorList, summary="List the detectors available offline")
def list_detectors() -> DetectorList:
    """The names accepted by the ``detector`` option of ``POST /v1/analyses`` (as ``facetrust models``)."""
    return DetectorList(detectors=[DetectorItem(**asdict(info)) for info in facetrust.list_detectors()])
