"""Helpers of the service tests: polling a job, uploading, a controllable stand-in for the analysis, and a
real ``facetrust serve`` process on a free local port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

FINISHED = ("done", "failed")


def wait_finished(client: Any, job_id: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> dict:
    """Poll a job until it is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/v1/analyses/{job_id}", headers=headers).json()
        if body["status"] in FINISHED:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body['status']} after {timeout} s: {body}")
        time.sleep(0.05)


def upload(client: Any, path: Path, query: str = "", name: str | None = None, **kwargs: Any) -> Any:
    with path.open("rb") as handle:
        return client.post(f"/v1/analyses{query}", files={"file": (name or path.name, handle)}, **kwargs)


class BlockingAnalyze:
    """``facetrust.analyze`` that first reports stage "faces" and waits until the test releases it, then runs
    the real analysis: progress, cancellation and shutdown are checked without racing a fast analysis."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls: list[str] = []
        self.stopped_by: BaseException | None = None

    def __call__(self, source: Any, *, progress: Any = None, **options: Any) -> Any:
        import facetrust

        if progress is None:  # the warm-up call
            return facetrust.analyze(source, **options)
        self.calls.append(str(source))
        try:
            progress("faces", 0.5)
            self.started.set()
            assert self.release.wait(30), "the test never released the analysis"
            progress("faces", 0.75)  # the next step: a deleted job or a shutdown stops here
            return facetrust.analyze(source, progress=progress, **options)
        except BaseException as stop:  # the service stops an analysis through its progress callback
            self.stopped_by = stop
            raise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``facetrust serve`` in a subprocess on a free port; ``kill()`` is SIGKILL, ``stop()`` SIGTERM."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers: dict[str, str] = {}
        self.log = data_dir.parent / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "facetrust.cli.main", "serve", "--port", str(self.port),
                   "--data-dir", str(data_dir), "--log-level", "info", *args]
        self._log_handle = self.log.open("w")
        self.process = subprocess.Popen(command, stdout=self._log_handle, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log_handle.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log_handle.close()
        return self.process.returncode
