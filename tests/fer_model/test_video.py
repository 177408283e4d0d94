"""EmotionRecognizer.predict_video: sampled timelines, damaged and degenerate videos, the time budget."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_model import EMOTIONS, EmotionRecognizer, InceptionResNetV2
from fer_model.video import VideoError


@pytest.fixture(scope="module")
def recognizer(tiny_model: InceptionResNetV2) -> EmotionRecognizer:
    return EmotionRecognizer(tiny_model, device="cpu")


def write_clip(path: Path, frame: np.ndarray, frames: int, fps: int = 8, fourcc: str = "VP80") -> Path:
    """``frames`` copies of an RGB frame, each shifted a little, as a video file."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (frame.shape[1], frame.shape[0]))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.ascontiguousarray(np.roll(frame, 2 * i, axis=1)[:, :, ::-1]))
    writer.release()
    return path


def test_timeline_samples_four_times_a_second(recognizer: EmotionRecognizer, astronaut: np.ndarray,
                                              tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.webm", astronaut[:256, 64:320], frames=32)  # 4 s at 8 fps
    timeline = recognizer.predict_video(clip)
    assert timeline.complete and timeline.planned == 16 and timeline.unreadable == 0 and timeline.notes == []
    assert [sample.frame for sample in timeline.samples] == list(range(0, 32, 2))
    assert [sample.time_s for sample in timeline.samples] == [i / 4 for i in range(16)]
    assert all(sample.prediction.face_detected for sample in timeline.samples)
    assert list(timeline.samples[0].prediction.faces[0].probabilities) == list(EMOTIONS)
    assert timeline.to_dict()["samples"][3]["time_s"] == 0.75


def test_a_rate_above_the_frame_rate_reads_every_frame_once(recognizer: EmotionRecognizer, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.webm", np.full((64, 64, 3), 90, np.uint8), frames=12)  # 1.5 s at 8 fps
    timeline = recognizer.predict_video(clip, samples_per_s=1e12)  # would plan 1.5e12 samples unclamped
    assert timeline.planned == 12 and [sample.frame for sample in timeline.samples] == list(range(12))
    assert timeline.samples[-1].time_s == 1.375
    for rate in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=rf"samples_per_s must be a finite number > 0, got {rate}"):
            recognizer.predict_video(clip, samples_per_s=rate)


def test_a_corrupt_middle_is_counted_and_the_rest_is_read(recognizer: EmotionRecognizer, astronaut: np.ndarray,
                                                          tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.webm", astronaut[:256, 64:320], frames=32)
    data = bytearray(clip.read_bytes())
    third = len(data) // 3
    data[third : 2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    (tmp_path / "damaged.webm").write_bytes(bytes(data))
    timeline = recognizer.predict_video(tmp_path / "damaged.webm")
    assert not timeline.complete and timeline.unreadable > 0
    assert len(timeline.samples) + timeline.unreadable == timeline.planned == 16
    assert timeline.notes == [f"{timeline.unreadable} of 16 sampled frames could not be decoded "
                              "(corrupt or truncated video)"]
    assert timeline.samples[0].time_s == 0  # what was readable is kept


def test_a_two_pixel_high_video_is_a_clear_error(recognizer: EmotionRecognizer, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "thin.avi", np.full((2, 2000, 3), 120, np.uint8), frames=8, fourcc="MJPG")
    with pytest.raises(VideoError, match=r"thin\.avi: 2000x2 px; a video needs at least 16 px a side"):
        recognizer.predict_video(clip)


def test_not_a_video_and_too_long_are_clear_errors(recognizer: EmotionRecognizer, tmp_path: Path) -> None:
    (tmp_path / "fake.mp4").write_bytes(b"not a video at all")
    with pytest.raises(VideoError, match=r"fake\.mp4: not a readable video"):
        recognizer.predict_video(tmp_path / "fake.mp4")
    clip = write_clip(tmp_path / "long.webm", np.zeros((64, 64, 3), np.uint8), frames=40, fps=2)
    with pytest.raises(VideoError, match=r"long\.webm: 20 s long; the limit is 10 s"):
        recognizer.predict_video(clip, max_seconds=10)


def test_the_time_budget_stops_the_work_and_says_so(recognizer: EmotionRecognizer, astronaut: np.ndarray,
                                                    tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.webm", astronaut[:256, 64:320], frames=32)
    timeline = recognizer.predict_video(clip, time_budget_s=0)
    assert len(timeline.samples) == 1 and not timeline.complete
    assert timeline.notes == ["stopped at the time budget of 0 s: 1 of 16 samples analysed"]


def test_frames_are_downscaled_to_even_sizes(recognizer: EmotionRecognizer, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "wide.webm", np.full((120, 1002, 3), 90, np.uint8), frames=4)
    (_, rgb), *_ = list(recognizer.stream_video(clip, max_side_px=500))
    assert rgb.shape == (60, 500, 3)
