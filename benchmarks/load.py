"""Load test: N concurrent gradio_client users posting many different photos to /predict for a bounded time.

    python -m benchmarks.load --users 32 --seconds 60 [--photos 48] [--large] [--model DIR] [--max-rss-growth-mb 300]
                              [--env NAME=VALUE ...] [--app-log FILE] [--json]

It generates distinct JPEGs from scikit-image's photos (random crops, sizes from 160 to 2400 px, flips, qualities;
with --large, 20-48 megapixel photos under 1 MB each), starts the app (the shipped model unless --model) on a free
localhost port, warms it up with the same load for a few seconds, and runs the users, each cycling through the
photos from its own offset so that concurrent requests carry different images. It prints requests/s, p50/p95
latency, errors, and the server's resident memory (start, peak, final). It exits 1 when a request failed, the server
stopped answering, or it grew by more than --max-rss-growth-mb (at its peak; with --large, at the end of the run).
tests/space/test_load.py runs it small in CI, as a command (--json), as a user would.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradio_client import Client, handle_file

from devtools.app_server import app_client, running_app
from devtools.synthetic import generate_photos

MAX_RSS_GROWTH_MB = 300.0  # the stated bound: the server may not grow more than this over a run, after warm-up
WARMUP_S = 5.0  # the same load before measuring, so the bound is on growth in use, not on start-up
SETTLE_S = 2.0  # after the run, before the final RSS reading
# Per HTTP call. gradio_client's uploads otherwise use httpx's 5 s, which a 2-core server busy with 32 users or 48 MP
# decodes exceeds: that would count the client's patience as server errors (the latencies are reported anyway).
HTTP_TIMEOUT_S = 300.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")


def whole_mb(value: float) -> int | None:
    """MB rounded for printing; None where the server had gone (NaN)."""
    return round(value) if math.isfinite(value) else None


@dataclass
class LoadResult:
    """Latencies (s) of the requests that succeeded, error messages, and the server's memory in MB."""

    users: int
    seconds: float
    photos: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss_before: float = 0.0
    rss_peak: float = 0.0
    rss_after: float = 0.0
    alive_after: bool = False  # the server answered a request after the run

    @property
    def rss_growth(self) -> float:
        """Growth at the worst moment of the run."""
        return max(self.rss_peak, self.rss_after) - self.rss_before

    @property
    def rss_growth_final(self) -> float:
        """Growth still held when the run is over."""
        return self.rss_after - self.rss_before

    def figures(self) -> dict[str, Any]:
        """The run's figures (seconds, MB), as ``--json`` prints them; the first distinct error messages."""
        done = len(self.latencies)
        return {
            "users": self.users, "seconds": self.seconds, "photos": self.photos, "ok": done,
            "errors": len(self.errors), "requests_per_s": round(done / self.seconds, 3),
            "p50_s": round(statistics.median(self.latencies), 3) if done else None,
            "p95_s": round(statistics.quantiles(self.latencies, n=20)[18], 3) if done >= 2 else None,
            "alive_after": self.alive_after, "rss_start_mb": whole_mb(self.rss_before),
            "rss_peak_mb": whole_mb(self.rss_peak), "rss_final_mb": whole_mb(self.rss_after),
            "rss_growth_mb": whole_mb(self.rss_growth), "rss_growth_final_mb": whole_mb(self.rss_growth_final),
            "error_messages": [message[:200] for message in sorted(set(self.errors))[:5]],
        }

    def summary(self) -> str:
        f = self.figures()
        return (f"users {f['users']}, {f['seconds']:.0f} s, {f['photos']} distinct photos: {f['ok']} ok, "
                f"{f['errors']} errors, {f['requests_per_s']:.2f} req/s, p50 {f['p50_s']} s, p95 {f['p95_s']} s; "
                f"server {'alive' if f['alive_after'] else 'NOT ANSWERING'} after the run; server RSS "
                f"{f['rss_start_mb']} MB start, {f['rss_peak_mb']} MB peak, {f['rss_final_mb']} MB final "
                f"(growth {f['rss_growth_mb']} MB at peak, {f['rss_growth_final_mb']} MB final)")


def new_client(url: str) -> Client:
    """A gradio_client user of the app at ``url``, patient enough for a loaded server (HTTP_TIMEOUT_S)."""
    return app_client(url, httpx_kwargs={"timeout": HTTP_TIMEOUT_S})


def run_users(url: str, pid: int, photos: list[Path], result: LoadResult) -> None:
    """``result.users`` clients cycling through ``photos``, each from its own offset, for ``result.seconds``."""

    lock = threading.Lock()
    deadline = time.monotonic() + result.seconds

    def user(offset: int) -> None:
        client = new_client(url)
        sent = 0
        while time.monotonic() < deadline:
            photo = photos[(offset + sent) % len(photos)]
            sent += 1
            started = time.perf_counter()
            try:
                client.predict(handle_file(str(photo)), api_name="/predict")
                with lock:
                    result.latencies.append(time.perf_counter() - started)
            except Exception as error:  # any failure of a request is a finding to report, not a crash
                with lock:
                    result.errors.append(f"{photo.name}: {type(error).__name__}: {error}")

    users = result.users
    threads = [threading.Thread(target=user, args=(index * len(photos) // users,)) for index in range(users)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        result.rss_peak = max(result.rss_peak, rss_mb(pid))
        time.sleep(0.5)


def measure(url: str, pid: int, photos: list[Path], users: int, seconds: float) -> LoadResult:
    """Warm the server up with the same load, then measure ``users`` clients for ``seconds``, then check it answers."""

    warmup = LoadResult(users, WARMUP_S, len(photos))
    run_users(url, pid, photos, warmup)  # the server's worker threads and caches reach their working size
    result = LoadResult(users, seconds, len(photos), errors=warmup.errors, rss_before=rss_mb(pid))
    result.rss_peak = result.rss_before
    run_users(url, pid, photos, result)
    try:
        new_client(url).predict(handle_file(str(photos[0])), api_name="/predict")
        result.alive_after = True
    except Exception as error:  # the server died or hangs: reported, and the run fails
        result.errors.append(f"after the run: {type(error).__name__}: {error}")
    time.sleep(SETTLE_S)
    result.rss_after = rss_mb(pid) if Path(f"/proc/{pid}").exists() else float("nan")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--photos", type=int, default=48, help="how many distinct photos to generate")
    parser.add_argument("--large", action="store_true", help="20-48 MP photos under 1 MB instead of ordinary ones")
    parser.add_argument("--model", help="model for the app (default: the shipped one)")
    parser.add_argument("--max-rss-growth-mb", type=float, default=MAX_RSS_GROWTH_MB)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment for the app, e.g. MALLOC_MMAP_THRESHOLD_=1048576")
    parser.add_argument("--app-log", type=Path, default=Path("output/load-app.log"), help="the app's output")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    if not 0 < args.seconds < math.inf:
        parser.error(f"--seconds {args.seconds}: expected a finite number above 0")
    if args.users < 1 or args.photos < 1:
        parser.error(f"--users {args.users} --photos {args.photos}: expected at least 1 of each")
    if any("=" not in item for item in args.env):
        parser.error(f"--env: expected NAME=VALUE, got {[item for item in args.env if '=' not in item]}")
    env = dict(item.split("=", 1) for item in args.env)
    model = Path(args.model) if args.model else None
    args.app_log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, running_app(model, args.app_log, env) as app:
        photos = generate_photos(Path(folder), args.photos, args.large)
        result = measure(app.url, app.pid, photos, args.users, args.seconds)
    print(json.dumps(result.figures()) if args.json else result.summary())
    for message in [] if args.json else result.figures()["error_messages"]:
        print("error:", message)
    growth = result.rss_growth_final if args.large else result.rss_growth
    return 1 if result.errors or not result.alive_after or not growth <= args.max_rss_growth_mb else 0

if __name__ == "__main__":
    sys.exit(main())
