"""A small load run in CI (benchmarks/load.py at 8 users for 10 s): no failed request, memory within the bound."""

from __future__ import annotations

from pathlib import Path

from benchmarks.load import MAX_RSS_GROWTH_MB, measure

from .server import RunningApp

PHOTO = Path(__file__).resolve().parents[2] / "space" / "examples" / "astronaut.jpg"


def test_eight_users_for_ten_seconds(app: RunningApp) -> None:
    result = measure(app.url, app.pid, PHOTO, users=8, seconds=10)
    print(result.summary())
    assert not result.errors, result.errors[:3]
    assert len(result.latencies) >= 8  # every user got answers
    assert result.rss_growth < MAX_RSS_GROWTH_MB, result.summary()
