"""What the operator of ``facetrust serve`` chose: where jobs live, who may call, how much work is accepted."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from facetrust.errors import ConfigError

MIB = 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def default_workers() -> int:
    """One analysis at a time per CPU core."""
    return max(1, os.cpu_count() or 1)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/facetrust/serve`` (``~/.local/share/facetrust/serve`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "facetrust" / "serve"


def parse_duration(text: str) -> float:
    """``"0"``, ``"90"``, ``"90s"``, ``"15m"``, ``"12h"``, ``"7d"`` → seconds; :class:`ConfigError` otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"retention {text!r} is not a duration: use seconds or a number with s, m, h or d "
                          "(e.g. 0, 90, 15m, 12h, 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class ServiceSettings:
    """Everything ``facetrust serve`` is configured with. Checked on creation (:class:`ConfigError`)."""

    data_dir: Path  # jobs.sqlite3, uploads/ and reports/ live here
    allow_root: Path | None = None  # server-side paths are accepted only under this folder (off when None)
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # empty: no key needed
    workers: int = field(default_factory=default_workers)  # analyses run at the same time
    queue_size: int = 32  # jobs waiting beyond the running ones; more is refused with 429
    max_upload_bytes: int = 500 * MIB
    retention_seconds: float = 0.0  # how long an upload is kept after its job ends (0: deleted at once)
    max_attempts: int = 3  # a job whose server died this many times while running it is marked failed
    warm_up: bool = True  # load the default detector at start-up, so /readyz waits for it

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        if self.queue_size < 1:
            raise ConfigError(f"queue size must be >= 1, got {self.queue_size}")
        if self.max_upload_bytes < 1:
            raise ConfigError(f"max upload size must be >= 1 byte, got {self.max_upload_bytes}")
        if not (math.isfinite(self.retention_seconds) and self.retention_seconds >= 0):
            raise ConfigError(f"retention must be >= 0 seconds, got {self.retention_seconds}")
        if self.max_attempts < 1:
            raise ConfigError(f"max attempts must be >= 1, got {self.max_attempts}")
        if any(not key or key != key.strip() for key in self.api_keys):
            raise ConfigError("an API key is empty or has spaces around it")
        if self.allow_root is not None and not Path(self.allow_root).is_dir():
            raise ConfigError(f"allowed root {self.allow_root}: not a folder")

    @property
    def database(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"
