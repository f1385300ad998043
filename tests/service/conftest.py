"""Fixtures of the service tests: media made at test time, an in-process app (TestClient), and a real
``facetrust serve`` process on a free local port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import astronaut, face_frames
from facetrust.media.testing import write_image, write_video
from facetrust.service import ServiceSettings
from facetrust.service.app import create_app

from .helpers import ServerProcess


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-second video of a real face (24 frames)."""
    path = tmp_path_factory.mktemp("service-media") / "face clip.mp4"
    write_video(path, face_frames(24))
    return path


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of a real face at 480x240: an analysis that lasts long enough to be interrupted."""
    path = tmp_path_factory.mktemp("service-media") / "long clip.mp4"
    write_video(path, face_frames(48, size=(480, 240)))
    return path


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("service-media") / "astronaut.jpg"
    write_image(path, astronaut())
    return path


@pytest.fixture(scope="session")
def corrupt_clip(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first third of an mp4: sniffed as a video, fails in the analysis (CorruptMediaError)."""
    path = tmp_path_factory.mktemp("service-media") / "corrupt.mp4"
    data = clip.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


ClientFactory = Callable[..., Any]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """``make_client(**settings, start_workers=True, analyze=None)`` → a started TestClient; all are closed
    at the end of the test."""
    from fastapi.testclient import TestClient

    opened: list[Any] = []

    def make(*, start_workers: bool = True, analyze: Any = None, **overrides: Any) -> Any:
        options: dict[str, Any] = {"data_dir": tmp_path / "data", "workers": 1, "warm_up": False, **overrides}
        app = create_app(ServiceSettings(**options), start_workers=start_workers, analyze=analyze)
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``start_server(*args, env=None, data_dir=...)`` → a ready server; every one is stopped afterwards."""
    servers: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, data_dir: Path | None = None,
              ready: bool = True) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", *args, env=env)
        servers.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
