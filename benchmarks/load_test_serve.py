"""Load test of ``facetrust serve`` (issue 16): many clients upload a short video at the same moment to one
local server; each retries after ``Retry-After`` when it gets 429, then polls its job until it ends.

    nice .venv/bin/python benchmarks/load_test_serve.py [--clients 50] [--workers N] [--queue 32] \
        [--json benchmarks/results/serve_load.json]

The video is made at run time: the bundled demo's real one (a 2 s, 448x448, 25 fps pan over the astronaut
photo, ``facetrust.demo.make_demo_media``), analysed with the default options (32 frames). Passes when no
request failed other than 429, every accepted job finished (done), and the server's peak RSS (its process
tree, sampled with psutil every 50 ms) stayed under ``--max-rss-gb``. Writes p50/p95 latencies (upload:
POST until 202; job: first POST until the job is done, retries included) and the throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ClientRecord:
    """What one client saw."""

    accepted_after: float | None = None  # seconds from its first POST to the 202
    upload_seconds: float | None = None  # the accepted POST alone
    job_seconds: float | None = None  # first POST until the job was done
    refusals: int = 0  # 429 answers (retried)
    status: str | None = None  # the job's final status
    failures: list[str] = field(default_factory=list)  # any answer other than 202 / 429 / a poll


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RssSampler(threading.Thread):
    """Peak resident memory of a process and all its descendants, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.process, self.interval = psutil.Process(pid), interval
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                total = sum(p.memory_info().rss for p in tree if p.is_running())
            except psutil.Error:
                continue
            self.peak = max(self.peak, total)


def run_client(base: str, video: Path, query: str, record: ClientRecord, start: threading.Barrier) -> None:
    start.wait()
    first = time.perf_counter()
    with httpx.Client(base_url=base, timeout=120) as client:
        job_id = None
        while job_id is None:
            sent = time.perf_counter()
            try:
                with video.open("rb") as handle:
                    response = client.post(f"/v1/analyses{query}", files={"file": (video.name, handle, "video/mp4")})
            except httpx.HTTPError as exc:
                record.failures.append(f"POST: {type(exc).__name__}: {exc}")
                return
            if response.status_code == 202:
                record.upload_seconds = time.perf_counter() - sent
                record.accepted_after = time.perf_counter() - first
                job_id = response.json()["id"]
            elif response.status_code == 429:
                record.refusals += 1
                time.sleep(float(response.headers.get("retry-after", "1")))
            else:
                record.failures.append(f"POST {response.status_code}: {response.text[:200]}")
                return
        while True:
            time.sleep(0.25)
            try:
                response = client.get(f"/v1/analyses/{job_id}")
            except httpx.HTTPError as exc:
                record.failures.append(f"GET: {type(exc).__name__}: {exc}")
                return
            if response.status_code != 200:
                record.failures.append(f"GET {response.status_code}: {response.text[:200]}")
                return
            body = response.json()
            if body["status"] in ("done", "failed"):
                record.status = body["status"]
                record.job_seconds = time.perf_counter() - first
                if body["status"] == "failed":
                    record.failures.append(f"job failed: {body['error']}")
                return


def make_video(folder: Path) -> Path:
    from facetrust.demo import make_demo_media

    items = make_demo_media(folder)
    return next(item.path for item in items if item.path.suffix == ".mp4" and item.expected == "REAL")


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None, help="server workers (default: one per core)")
    parser.add_argument("--queue", type=int, default=32, help="server queue size")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--max-rss-gb", type=float, default=2.5)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "serve_load.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="facetrust-load-") as scratch:
        folder = Path(scratch)
        video = make_video(folder / "media")
        video_bytes = video.stat().st_size
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "facetrust.cli.main", "serve", "--port", str(port), "--data-dir",
                   str(folder / "data"), "--queue", str(args.queue), "--log-level", "warning"]
        if args.workers:
            command += ["--workers", str(args.workers)]
        log = (folder / "serve.log").open("w")
        load_before = os.getloadavg()
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        sampler = RssSampler(server.pid)
        sampler.start()
        try:
            ready_seconds = wait_ready(base, server)
            records = [ClientRecord() for _ in range(args.clients)]
            barrier = threading.Barrier(args.clients + 1)
            query = f"?frames={args.frames}"
            threads = [threading.Thread(target=run_client, args=(base, video, query, record, barrier))
                       for record in records]
            for thread in threads:
                thread.start()
            barrier.wait()
            began = time.perf_counter()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - began
        finally:
            sampler.stop.set()
            sampler.join()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
        load_after = os.getloadavg()
        server_log = (folder / "serve.log").read_text()

    done = [r for r in records if r.status == "done"]
    failures = [f for r in records for f in r.failures]
    peak_gb = sampler.peak / 2**30
    result: dict[str, Any] = {
        "clients": args.clients,
        "video": {"name": video.name, "bytes": video_bytes, "seconds": 2.0, "size": "448x448",
                  "frames_analysed": args.frames},
        "server": {"workers": args.workers or os.cpu_count(), "queue": args.queue, "ready_seconds":
                   round(ready_seconds, 2)},
        "requests": {"posts": sum(r.refusals for r in records) + sum(r.upload_seconds is not None for r in records),
                     "accepted": sum(r.upload_seconds is not None for r in records),
                     "refused_429": sum(r.refusals for r in records),
                     "clients_refused_at_least_once": sum(r.refusals > 0 for r in records),
                     "failed_other_than_429": len(failures)},
        "jobs": {"done": len(done), "failed": sum(r.status == "failed" for r in records),
                 "unfinished": sum(r.status is None for r in records)},
        "latency_seconds": {
            "upload_p50": percentile([r.upload_seconds for r in records if r.upload_seconds is not None], 0.5),
            "upload_p95": percentile([r.upload_seconds for r in records if r.upload_seconds is not None], 0.95),
            "accepted_after_p50": percentile([r.accepted_after for r in records if r.accepted_after is not None],
                                             0.5),
            "accepted_after_p95": percentile([r.accepted_after for r in records if r.accepted_after is not None],
                                             0.95),
            "job_p50": percentile([r.job_seconds for r in done], 0.5),
            "job_p95": percentile([r.job_seconds for r in done], 0.95),
        },
        "wall_seconds": round(wall, 2),
        "throughput_jobs_per_minute": round(60 * len(done) / wall, 2) if wall else None,
        "seconds_per_job": round(wall / len(done), 2) if done else None,
        "server_peak_rss_gb": round(peak_gb, 3),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in load_after],
                    "note": "2-core machine shared with other work: figures vary with its load"},
        "failures": failures[:20],
    }
    checks = {
        "no request failed other than 429": not failures,
        "every accepted job finished": len(done) == args.clients,
        f"server peak RSS < {args.max_rss_gb} GB": peak_gb < args.max_rss_gb,
    }
    result["checks"] = checks
    result["passed"] = all(checks.values())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not result["passed"]:
        print(server_log[-4000:], file=sys.stderr)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
