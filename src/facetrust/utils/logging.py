"""Logging set-up for applications (CLI, API); the library itself only calls ``logging.getLogger``."""

from __future__ import annotations

import logging


def setup_logging(level: int = logging.WARNING) -> None:
    """Route facetrust's log records to stderr at ``level`` (idempotent)."""
    logger = logging.getLogger("facetrust")
    if not any(getattr(h, "_facetrust", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._facetrust = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
