"""EmotionRecognizer: image(s) in, faces found with their box, label and every class probability out."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .faces import Box, FaceDetector, crop_face
from .gradcam import grad_cam, overlay
from .images import ImageInput, load_image
from .inference import make_classifier
from .model import InceptionResNetV2, ModelLoadError
from .preprocess import TTA_CHOICES, eval_transform, ten_crop_transform
from .video import VideoError, VideoReader, VideoSample, VideoTimeline

DEFAULT_REPO_ID = "fer-model/inception-resnet-v2-fer2013"  # the published model: `from_pretrained()` with no argument
MAX_FACES = 20


def resolve_model(model: str | os.PathLike | None, shipped: str | os.PathLike | None = None) -> str:
    """The model an entry point loads: ``model`` when given, else its ``shipped`` folder when that holds a model,
    else the published ``DEFAULT_REPO_ID`` (downloaded once, then read from the Hugging Face cache)."""
    if model:
        return str(model)
    if shipped is not None and (Path(shipped) / "config.json").is_file():
        return str(shipped)
    return DEFAULT_REPO_ID


def load_model(
    path_or_id: str | os.PathLike | None = None, *, revision: str | None = None, local_files_only: bool = False
) -> InceptionResNetV2:
    """A trained model from a folder or Hub repo id; ``None`` = ``DEFAULT_REPO_ID`` (downloaded once, then cached).

    Raises ModelLoadError when it cannot be loaded; the default model's error says what to pass instead.
    """
    source = resolve_model(path_or_id)
    try:
        return InceptionResNetV2.from_pretrained(source, revision=revision, local_files_only=local_files_only)
    except ModelLoadError as error:
        if source != DEFAULT_REPO_ID:
            raise
        raise ModelLoadError(
            f"no model given, and the default model {DEFAULT_REPO_ID} is neither in the Hugging Face cache nor "
            f"downloadable here ({error.__cause__ or error}). Pass a save_pretrained folder or a Hub repo id: "
            "--model PATH_OR_REPO_ID on the command line (space/model in a checkout of the repository), "
            "EmotionRecognizer.from_pretrained(PATH_OR_REPO_ID) in Python"
        ) from error


@dataclass
class FacePrediction:
    """One classified face; ``box`` is None when no face was found and the whole image was classified."""

    box: Box | None
    label: str
    probabilities: dict[str, float]

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    def to_dict(self) -> dict[str, Any]:
        return {"box": self.box.as_list() if self.box else None, "label": self.label,
                "probabilities": self.probabilities}


@dataclass
class Prediction:
    """Everything found in one image: faces largest first, and a note for the caller when something was off."""

    faces: list[FacePrediction]
    face_detected: bool
    width: int
    height: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"faces": [face.to_dict() for face in self.faces], "face_detected": self.face_detected,
                "width": self.width, "height": self.height, "notes": self.notes}


class EmotionRecognizer:
    """Finds the faces in an image and classifies each one's expression with an InceptionResNetV2."""

    def __init__(
        self,
        model: InceptionResNetV2,
        detector: FaceDetector | None = None,
        device: str | torch.device = "auto",
        precision: str = "auto",
        max_faces: int = MAX_FACES,
        backend: str = "auto",
        tta: str = "none",
    ) -> None:
        """``tta``: test-time views per face, 'none', 'flip' (x2 cost) or 'ten-crop' (x10); their logits are averaged.

        Measured on wild-faces photos with the shipped model (benchmarks/photo_crops.py), neither view set beats one
        view; on FER2013 crops flip adds about a point. The app's webcam and the default stay single view.
        """
        if tta not in TTA_CHOICES:
            raise ValueError(f"tta: expected one of {', '.join(TTA_CHOICES)}, got {tta!r}")
        self.model = model
        self.labels = list(model.labels)
        self.classifier = make_classifier(model, backend, device, precision)
        self.detector = detector or FaceDetector()
        self.max_faces = max_faces
        self.tta = tta
        self.transform = eval_transform(model.image_size, model.mean, model.std)
        self.ten_crop = ten_crop_transform(model.image_size, model.mean, model.std)

    @property
    def trained(self) -> bool:
        """False for randomly initialised weights (no training recipe in the config)."""
        return bool(self.model.training_info)

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str | os.PathLike | None = None,
        *,
        revision: str | None = None,
        local_files_only: bool = False,
        device: str | torch.device = "auto",
        precision: str = "auto",
        backend: str = "auto",
        **kwargs: Any,
    ) -> EmotionRecognizer:
        """Load a ``save_pretrained`` folder or Hub repo id; ``None`` = the published model (see ``load_model``)."""
        model = load_model(path_or_id, revision=revision, local_files_only=local_files_only)
        return cls(model, device=device, precision=precision, backend=backend, **kwargs)

    def classify_faces(self, crops: list[np.ndarray]) -> np.ndarray:
        """RGB face crops -> (N, num_classes) probabilities, in one batch (the ``tta`` views' logits averaged)."""
        if self.tta == "ten-crop":
            views = torch.cat([self.ten_crop(crop) for crop in crops])  # crop by crop: (N * 10, C, S, S)
            return _average_views(self.classifier.probabilities(views).view(len(crops), 10, -1)).numpy()
        batch = torch.stack([self.transform(crop) for crop in crops])
        if self.tta == "flip":
            both = self.classifier.probabilities(torch.cat([batch, batch.flip(-1)]))
            return _average_views(both.view(2, len(crops), -1).transpose(0, 1)).numpy()
        return self.classifier.probabilities(batch).numpy()

    def predict(
        self, image: ImageInput, color: str = "rgb", boxes: Sequence[Box] | None = None, detect: bool = True
    ) -> Prediction:
        """Detect faces (largest first) and classify each; with no face, classify the whole image and say so.

        ``boxes``: classify these faces instead of detecting; ``detect=False``: the image is a face crop already.
        """
        return self.predict_batch([image], color, boxes=None if boxes is None else [boxes], detect=detect)[0]

    def predict_batch(
        self,
        images: Iterable[ImageInput],
        color: str = "rgb",
        batch_size: int = 32,
        boxes: Sequence[Sequence[Box]] | None = None,
        detect: bool = True,
    ) -> list[Prediction]:
        """``predict`` for many images (``boxes``: one list per image), classifying all faces in shared batches."""
        rgbs = [load_image(image, color) for image in images]
        if boxes is not None and len(boxes) != len(rgbs):
            raise ValueError(f"boxes: expected one list of boxes per image ({len(rgbs)}), got {len(boxes)}")
        found = [self._find_faces(rgb, None if boxes is None else boxes[i], detect) for i, rgb in enumerate(rgbs)]
        crops = [crop for _, face_crops, _ in found for crop in face_crops]
        probabilities = np.concatenate(
            [self.classify_faces(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]
        ) if crops else np.zeros((0, len(self.labels)))
        predictions, offset = [], 0
        for rgb, (face_boxes, face_crops, notes) in zip(rgbs, found, strict=True):
            rows = probabilities[offset : offset + len(face_crops)]
            offset += len(face_crops)
            faces = [
                FacePrediction(
                    box=box,
                    label=self.labels[int(row.argmax())],
                    probabilities={label: float(p) for label, p in zip(self.labels, row, strict=False)},
                )
                for box, row in zip(face_boxes or [None], rows, strict=False)
            ]
            predictions.append(Prediction(faces, bool(face_boxes), rgb.shape[1], rgb.shape[0], notes))
        return predictions

    def _find_faces(
        self, rgb: np.ndarray, boxes: Sequence[Box] | None = None, detect: bool = True
    ) -> tuple[list[Box], list[np.ndarray], list[str]]:
        """(boxes, crops to classify, notes): at most ``max_faces`` faces, or the whole image when none."""
        height, width = rgb.shape[:2]
        notes: list[str] = []
        if boxes is not None:
            boxes = [_checked_box(box, width, height) for box in boxes]
        elif not detect:
            return [Box(0, 0, width, height)], [rgb], notes
        else:
            boxes = self.detector.detect(rgb)
        if len(boxes) > self.max_faces:
            notes.append(f"{len(boxes)} faces found; showing the {self.max_faces} largest")
            boxes = boxes[: self.max_faces]
        if not boxes:
            notes.append("no face detected: classified the whole image")
        return boxes, [crop_face(rgb, box) for box in boxes] or [rgb], notes

    def predict_video(self, path: str | os.PathLike, samples_per_s: float = 4.0, max_seconds: float | None = None,
                      max_side_px: int = 640, time_budget_s: float | None = None) -> VideoTimeline:
        """Emotions over time: ``samples_per_s`` frames a second (at most every frame), each frame's faces classified.

        Raises VideoError for an unreadable video or one longer than ``max_seconds``; frames that do not decode and
        a stop at ``time_budget_s`` are counted and noted in the timeline (``complete`` is then False).
        """
        last = deque(self.stream_video(path, samples_per_s, max_seconds, max_side_px, time_budget_s), maxlen=1)
        return last[0][0]  # the one timeline, updated in place, with its notes once the stream has ended

    def stream_video(self, path: str | os.PathLike, samples_per_s: float = 4.0, max_seconds: float | None = None,
                     max_side_px: int = 640, time_budget_s: float | None = None,
                     ) -> Iterator[tuple[VideoTimeline, np.ndarray]]:
        """``predict_video`` one sample at a time: (the timeline so far, the newest frame as RGB).

        Stop iterating to stop the work (e.g. when the client has gone); the notes are added after the last sample.
        """
        reader = VideoReader(path, samples_per_s, max_seconds, max_side_px)
        timeline = VideoTimeline([], planned=len(reader.sample_frames))
        started = time.monotonic()
        try:
            for frame, rgb in reader:
                prediction = self.predict(rgb)
                timeline.samples.append(VideoSample(round(frame / reader.fps, 3), frame, prediction))
                timeline.unreadable = reader.unreadable
                yield timeline, rgb
                if time_budget_s is not None and time.monotonic() - started > time_budget_s:
                    timeline.notes.append(f"stopped at the time budget of {time_budget_s:g} s: "
                                          f"{len(timeline.samples)} of {timeline.planned} samples analysed")
                    break
            timeline.unreadable = reader.unreadable
            if reader.unreadable:
                timeline.notes.append(f"{reader.unreadable} of {timeline.planned} sampled frames could not be "
                                      "decoded (corrupt or truncated video)")
            if not timeline.samples:
                raise VideoError(f"{path}: no frame of this video could be decoded")
        finally:
            reader.close()

    def explain(self, image: ImageInput, color: str = "rgb") -> np.ndarray:
        """Grad-CAM overlay on the largest face (or the whole image) for its predicted class, as RGB uint8."""
        _, crops, _ = self._find_faces(load_image(image, color))
        heatmap = grad_cam(self.model, self.transform(crops[0]).to(self.classifier.device))
        return overlay(crops[0], heatmap)


def _average_views(probabilities: torch.Tensor) -> torch.Tensor:
    """(N, views, C) probabilities -> (N, C): the softmax of the views' mean log-probability, which equals averaging
    their logits (log-softmax differs from the logits by one constant per view), as ``train.evaluate --tta`` does."""
    return probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log().mean(1).softmax(-1)


def _checked_box(box: Box | Sequence[int], width: int, height: int) -> Box:
    """A caller's face box as a Box inside the image, or a ValueError naming the box and the image size."""
    if not isinstance(box, Box):
        if len(box) != 4:
            raise ValueError(f"face box {list(box)}: expected 4 numbers (x, y, width, height)")
        box = Box(*(int(v) for v in box))
    if box.width < 1 or box.height < 1 or box.x < 0 or box.y < 0 or box.x + box.width > width \
            or box.y + box.height > height:
        raise ValueError(f"face box {box.as_list()} (x, y, width, height) is not inside the {width}x{height} image")
    return box
