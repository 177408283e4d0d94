"""Load test: N concurrent gradio_client users posting photos to /predict for a bounded time.

    python benchmarks/load.py --users 32 --seconds 60 [--model DIR] [--image PHOTO] [--max-rss-growth-mb 300]

It starts the app (the shipped model unless --model) on a free localhost port, warms it up, runs the users, and
prints requests/s, p50/p95 latency, errors, and the server's resident memory (before, peak, after). It exits 1 when
a request failed or the server grew by more than --max-rss-growth-mb. tests/space/test_load.py runs it small in CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_RSS_GROWTH_MB = 300.0  # the stated bound: the server may not grow more than this over a run, after warm-up
WARMUP_REQUESTS = 4


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")


@dataclass
class LoadResult:
    """Latencies (s) of the requests that succeeded, error messages, and the server's memory in MB."""

    users: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss_before: float = 0.0
    rss_peak: float = 0.0
    rss_after: float = 0.0

    @property
    def rss_growth(self) -> float:
        return max(self.rss_peak, self.rss_after) - self.rss_before

    def summary(self) -> str:
        done = len(self.latencies)
        p50 = statistics.median(self.latencies) if done else float("nan")
        p95 = statistics.quantiles(self.latencies, n=20)[18] if done >= 2 else float("nan")
        return (f"users {self.users}, {self.seconds:.0f} s: {done} ok, {len(self.errors)} errors, "
                f"{done / self.seconds:.2f} req/s, p50 {p50:.2f} s, p95 {p95:.2f} s; server RSS "
                f"{self.rss_before:.0f} MB before, {self.rss_peak:.0f} MB peak, {self.rss_after:.0f} MB after "
                f"(growth {self.rss_growth:.0f} MB)")


def measure(url: str, pid: int, image: Path, users: int, seconds: float) -> LoadResult:
    """Warm the server up, then run ``users`` clients looping /predict until ``seconds`` have passed."""
    from gradio_client import Client, handle_file

    warm = Client(url, verbose=False)
    for _ in range(WARMUP_REQUESTS):
        warm.predict(handle_file(str(image)), api_name="/predict")
    result = LoadResult(users, seconds, rss_before=rss_mb(pid))
    result.rss_peak = result.rss_before
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user() -> None:
        client = Client(url, verbose=False)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                client.predict(handle_file(str(image)), api_name="/predict")
                with lock:
                    result.latencies.append(time.perf_counter() - started)
            except Exception as error:  # any failure of a request is a finding to report, not a crash
                with lock:
                    result.errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        result.rss_peak = max(result.rss_peak, rss_mb(pid))
        time.sleep(0.5)
    result.rss_after = rss_mb(pid)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--image", type=Path, default=ROOT / "space" / "examples" / "astronaut.jpg")
    parser.add_argument("--model", help="model for the app (default: the shipped one)")
    parser.add_argument("--max-rss-growth-mb", type=float, default=MAX_RSS_GROWTH_MB)
    args = parser.parse_args()
    from tests.space.server import running_app

    log = ROOT / "output" / "load-app.log"
    log.parent.mkdir(exist_ok=True)
    with running_app(Path(args.model) if args.model else None, log) as app:
        result = measure(app.url, app.pid, args.image, args.users, args.seconds)
    print(result.summary())
    for message in sorted(set(result.errors))[:5]:
        print("error:", message[:200])
    return 1 if result.errors or result.rss_growth > args.max_rss_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
