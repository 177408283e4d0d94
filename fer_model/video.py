"""Reading a video for emotion timelines: frames sampled at a fixed rate, read in order, downscaled as they come.

Frames are read sequentially (``grab`` decodes without converting; only sampled frames are converted and resized):
seeking to each sample instead re-decodes from the previous keyframe every time, which costs minutes on a 4K clip
with long keyframe intervals. A frame that cannot be decoded is counted, and reading resumes at the next sample.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    from .recognizer import Prediction

MIN_VIDEO_SIDE_PX = 16  # thinner videos have no face to find (and VP8 cannot encode a 1-px-high frame)
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}


class VideoError(ValueError):
    """A file that is not a usable video, or one outside the limits; the message names the file and the limit."""


@dataclass
class VideoSample:
    """One sampled frame: its time, index in the video, and what was found in it."""

    time_s: float
    frame: int
    prediction: Prediction

    def to_dict(self) -> dict[str, Any]:
        return {"time_s": self.time_s, "frame": self.frame, **self.prediction.to_dict()}


@dataclass
class VideoTimeline:
    """The samples of a video in time order, how many were planned, and notes (unreadable frames, a stop)."""

    samples: list[VideoSample]
    planned: int
    unreadable: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every planned sample was read and classified."""
        return len(self.samples) == self.planned

    def to_dict(self) -> dict[str, Any]:
        return {"samples": [sample.to_dict() for sample in self.samples], "planned": self.planned,
                "unreadable": self.unreadable, "complete": self.complete, "notes": self.notes}


class VideoReader:
    """The sampled frames of a video file as RGB arrays, at most ``max_side_px`` on the long side (even sizes)."""

    def __init__(self, path: str | Path, samples_per_s: float = 4.0, max_seconds: float | None = None,
                 max_side_px: int = 640) -> None:
        if not 0 < samples_per_s < math.inf:
            raise ValueError(f"samples_per_s must be a finite number > 0, got {samples_per_s!r}")
        if not max_side_px >= MIN_VIDEO_SIDE_PX:
            raise ValueError(f"max_side_px must be >= {MIN_VIDEO_SIDE_PX}, got {max_side_px!r}")
        self.path = str(path)
        self.capture = cv2.VideoCapture(self.path)
        fps = self.capture.get(cv2.CAP_PROP_FPS) or 0.0
        frames = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if not self.capture.isOpened() or fps <= 0 or frames <= 0:
            self.close()
            raise VideoError(f"{self.path}: not a readable video (MP4, WebM, MOV, AVI, MKV)")
        if min(width, height) < MIN_VIDEO_SIDE_PX:
            self.close()
            raise VideoError(f"{self.path}: {width}x{height} px; a video needs at least {MIN_VIDEO_SIDE_PX} px a side")
        self.fps, self.duration_s = fps, frames / fps
        if max_seconds is not None and self.duration_s > max_seconds:
            self.close()
            raise VideoError(f"{self.path}: {self.duration_s:.0f} s long; the limit is {max_seconds:.0f} s")
        rate = min(samples_per_s, fps)  # sampling faster than the frame rate would only repeat frames
        self.sample_frames = sorted({min(round(k * fps / rate), frames - 1)
                                     for k in range(math.ceil(self.duration_s * rate))})
        scale = min(1.0, max_side_px / max(width, height))
        self.size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
        self.unreadable = 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """(frame index, RGB frame) for each sample that decodes; the others are counted in ``unreadable``."""
        position = 0  # the index of the frame that the next grab() decodes
        for target in self.sample_frames:
            if not self._skip_to(position, target):  # after a failure: seek past the damage
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, target)
            position = target + 1
            ok, bgr = self.capture.retrieve() if self.capture.grab() else (False, None)
            if not ok or bgr is None:
                self.unreadable += 1
                position = -1  # the decoder's position is unknown: seek to the next sample
                continue
            if (bgr.shape[1], bgr.shape[0]) != self.size:
                bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
            yield target, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _skip_to(self, position: int, target: int) -> bool:
        """Decode and drop the frames from ``position`` up to ``target``; False if one of them fails."""
        if position < 0:
            return False
        return all(self.capture.grab() for _ in range(target - position))

    def close(self) -> None:
        self.capture.release()
