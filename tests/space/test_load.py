"""Small load runs in CI (benchmarks/load.py): concurrent users posting many *different* photos, then large ones.

Concurrent different photos crashed the server when one dlib detector was shared by request threads; one photo
for every user did not, so these runs cycle through distinct generated photos, each user from its own offset.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from benchmarks.load import LARGE_MAX_BYTES, LARGE_PIXELS_RANGE, MAX_RSS_GROWTH_MB, generate_photos, measure

from .server import RunningApp


def test_generated_photos_are_distinct_and_of_many_sizes(tmp_path: Path) -> None:
    photos = generate_photos(tmp_path, 12)
    sizes = set()
    for photo in photos:
        with Image.open(photo) as image:
            sizes.add(image.size)
    assert len({photo.read_bytes() for photo in photos}) == 12
    assert len(sizes) == 12 and min(max(size) for size in sizes) < 800 < max(max(size) for size in sizes)


def test_eight_users_cycling_through_distinct_photos(app: RunningApp, tmp_path: Path) -> None:
    photos = generate_photos(tmp_path, 24)
    result = measure(app.url, app.pid, photos, users=8, seconds=15)
    print(result.summary())
    assert not result.errors, result.errors[:3]
    assert result.alive_after
    assert len(result.latencies) >= 16  # every user got answers
    assert result.rss_growth < MAX_RSS_GROWTH_MB, result.summary()


def test_four_users_posting_large_photos_all_get_answers_and_memory_returns(app: RunningApp, tmp_path: Path) -> None:
    """20-48 MP JPEGs under 1 MB: every request answered, the server alive, and its memory back near where it started
    (they decode at reduced scale, and the app has glibc return freed buffers)."""
    photos = generate_photos(tmp_path, 4, large=True)
    for photo in photos:
        with Image.open(photo) as image:
            assert LARGE_PIXELS_RANGE[0] <= image.width * image.height <= LARGE_PIXELS_RANGE[1]
        assert photo.stat().st_size < LARGE_MAX_BYTES
    result = measure(app.url, app.pid, photos, users=4, seconds=15)
    print(result.summary())
    assert not result.errors, result.errors[:3]
    assert result.alive_after and len(result.latencies) >= 4
    assert result.rss_growth_final < MAX_RSS_GROWTH_MB, result.summary()
