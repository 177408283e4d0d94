"""Load test: N concurrent gradio_client users posting many different photos to /predict for a bounded time.

    python benchmarks/load.py --users 32 --seconds 60 [--photos 48] [--large] [--model DIR] [--max-rss-growth-mb 300]
                              [--env NAME=VALUE ...]

It generates distinct JPEGs from scikit-image's photos (random crops, sizes from 160 to 2400 px, flips, qualities;
with --large, 20-48 megapixel photos under 1 MB each), starts the app (the shipped model unless --model) on a free
localhost port, warms it up with the same load for a few seconds, and runs the users, each cycling through the
photos from its own offset so that concurrent requests carry different images. It prints requests/s, p50/p95
latency, errors, and the server's resident memory (start, peak, final). It exits 1 when a request failed, the server
stopped answering, or it grew by more than --max-rss-growth-mb (at its peak; with --large, at the end of the run).
tests/space/test_load.py runs it small in CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage.data
from gradio_client import Client, handle_file
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_RSS_GROWTH_MB = 300.0  # the stated bound: the server may not grow more than this over a run, after warm-up
WARMUP_S = 5.0  # the same load before measuring, so the bound is on growth in use, not on start-up
SIDE_RANGE_PX = (160, 2400)  # longest side of the ordinary photos
LARGE_PIXELS_RANGE = (20_000_000, 48_000_000)  # below fer_model's 50 MP limit, so they are decoded, not refused
LARGE_MAX_BYTES = 1_000_000
SETTLE_S = 2.0  # after the run, before the final RSS reading
# Per HTTP call. gradio_client's uploads otherwise use httpx's 5 s, which a 2-core server busy with 32 users or 48 MP
# decodes exceeds: that would count the client's patience as server errors (the latencies are reported anyway).
HTTP_TIMEOUT_S = 300.0


def source_photos() -> list[Image.Image]:
    """scikit-image's bundled photos: faces (astronaut, cameraman) and scenes without one (mug, cat, rocket)."""
    names = ("astronaut", "camera", "coffee", "chelsea", "rocket")
    return [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in names]


def generate_photos(folder: Path, count: int, large: bool = False, seed: int = 0) -> list[Path]:
    """``count`` distinct JPEGs in ``folder``: random crops of the source photos at random sizes and qualities."""
    rng = np.random.default_rng(seed)
    sources = source_photos()
    paths = []
    for index in range(count):
        source = sources[index % len(sources)]
        width, height = (round(side * rng.uniform(0.7, 1.0)) for side in source.size)
        left, top = int(rng.integers(0, source.width - width + 1)), int(rng.integers(0, source.height - height + 1))
        photo = source.crop((left, top, left + width, top + height))
        photo = ImageOps.mirror(photo) if rng.random() < 0.5 else photo
        if large:
            factor = (rng.uniform(*LARGE_PIXELS_RANGE) / (width * height)) ** 0.5
        else:
            factor = rng.uniform(*SIDE_RANGE_PX) / max(width, height)
        photo = photo.resize((round(width * factor), round(height * factor)), Image.Resampling.BILINEAR)
        path = folder / f"photo-{index:03d}-{photo.width}x{photo.height}.jpg"
        quality = 45 if large else int(rng.integers(70, 96))
        photo.save(path, quality=quality)
        while large and path.stat().st_size >= LARGE_MAX_BYTES and quality > 15:
            quality -= 10
            photo.save(path, quality=quality)
        paths.append(path)
    return paths


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

    def summary(self) -> str:
        done = len(self.latencies)
        p50 = statistics.median(self.latencies) if done else float("nan")
        p95 = statistics.quantiles(self.latencies, n=20)[18] if done >= 2 else float("nan")
        return (f"users {self.users}, {self.seconds:.0f} s, {self.photos} distinct photos: {done} ok, "
                f"{len(self.errors)} errors, {done / self.seconds:.2f} req/s, p50 {p50:.2f} s, p95 {p95:.2f} s; "
                f"server {'alive' if self.alive_after else 'NOT ANSWERING'} after the run; server RSS "
                f"{self.rss_before:.0f} MB start, {self.rss_peak:.0f} MB peak, {self.rss_after:.0f} MB final "
                f"(growth {self.rss_growth:.0f} MB at peak, {self.rss_growth_final:.0f} MB final)")


def new_client(url: str) -> Client:
    """A gradio_client user of the app at ``url``, patient enough for a loaded server (HTTP_TIMEOUT_S)."""
    return Client(url, verbose=False, httpx_kwargs={"timeout": HTTP_TIMEOUT_S})


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
    args = parser.parse_args()
    from tests.space.server import running_app

    log = ROOT / "output" / "load-app.log"
    log.parent.mkdir(exist_ok=True)
    if any("=" not in item for item in args.env):
        parser.error(f"--env: expected NAME=VALUE, got {[item for item in args.env if '=' not in item]}")
    env = dict(item.split("=", 1) for item in args.env)
    model = Path(args.model) if args.model else None
    with tempfile.TemporaryDirectory() as folder, running_app(model, log, env) as app:
        photos = generate_photos(Path(folder), args.photos, args.large)
        result = measure(app.url, app.pid, photos, args.users, args.seconds)
    print(result.summary())
    for message in sorted(set(result.errors))[:5]:
        print("error:", message[:200])
    growth = result.rss_growth_final if args.large else result.rss_growth
    return 1 if result.errors or not result.alive_after or not growth <= args.max_rss_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
