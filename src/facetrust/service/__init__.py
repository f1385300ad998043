"""The REST service behind ``facetrust serve``: upload a file (or name one under an allowed folder), get a
job id, poll it, read the same result JSON as ``facetrust detect --json``.

Rooms: :mod:`.settings` (what the operator chose), :mod:`.jobs` (the durable SQLite job store),
:mod:`.workers` (the bounded pool that runs :func:`facetrust.analyze`), :mod:`.uploads` (streamed uploads,
type sniffing, allow-listed server paths), :mod:`.errors` (every error as JSON with a stable ``type``),
:mod:`.app` (the FastAPI factory) and :mod:`.routes` (one router per resource). Only this ``__init__`` and
:mod:`.settings` are light: FastAPI is imported by :func:`create_app`.

>>> from facetrust.service import ServiceSettings, create_app
>>> app = create_app(ServiceSettings(data_dir=Path("jobs")))      # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from facetrust.service.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(settings: ServiceSettings, *, start_workers: bool = True) -> FastAPI:
    """The FastAPI application for ``settings`` (see :func:`facetrust.service.app.create_app`)."""
    from facetrust.service.app import create_app as _create_app

    return _create_app(settings, start_workers=start_workers)


__all__ = ["ServiceSettings", "create_app"]
