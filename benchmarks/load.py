"""Load test: N concurrent gradio_client users posting photos to /predict for a bounded time.

    python benchmarks/load.py --users 8 --seconds 60 [--url http://127.0.0.1:7860/] [--image PHOTO]

Without --url it starts the app (shipped model) on a free localhost port and stops it afterwards.
Prints requests/s, p50/p95 latency, errors, and the server's resident memory before and after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_users(url: str, image: Path, users: int, seconds: float) -> tuple[list[float], list[str]]:
    """Each user loops predict() until the deadline; returns latencies (s) and error messages."""
    from gradio_client import Client, handle_file

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user() -> None:
        client = Client(url, verbose=False)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                client.predict(handle_file(str(image)), api_name="/predict")
                with lock:
                    latencies.append(time.perf_counter() - started)
            except Exception as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 300)
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--image", type=Path, default=ROOT / "space" / "examples" / "astronaut.jpg")
    parser.add_argument("--model", help="model for the app this script starts (default: the shipped one)")
    args = parser.parse_args()
    if args.url:
        report(*run_users(args.url, args.image, args.users, args.seconds), args, None, None)
        return
    from tests.space.server import running_app

    log = Path("/tmp/fer-load-app.log")
    with running_app(Path(args.model) if args.model else None, log) as url:
        import subprocess

        pid = int(subprocess.check_output(["pgrep", "-n", "-f", "space/app.py"]).decode())
        before = rss_mb(pid)
        latencies, errors = run_users(url, args.image, args.users, args.seconds)
        report(latencies, errors, args, before, rss_mb(pid))


def report(latencies: list[float], errors: list[str], args: argparse.Namespace,
           rss_before: float | None, rss_after: float | None) -> None:
    """Print the figures."""
    done = len(latencies)
    quantiles = statistics.quantiles(latencies, n=20) if done >= 2 else [float("nan")] * 19
    print(f"users {args.users}, {args.seconds:.0f} s: {done} ok, {len(errors)} errors, "
          f"{done / args.seconds:.2f} req/s, p50 {statistics.median(latencies) if done else float('nan'):.2f} s, "
          f"p95 {quantiles[18]:.2f} s")
    if rss_before is not None:
        print(f"server RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after")
    for message in sorted(set(errors))[:5]:
        print("error:", message[:200])


if __name__ == "__main__":
    main()
