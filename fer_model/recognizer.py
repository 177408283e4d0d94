"""EmotionRecognizer: image(s) in, faces found with their box, label and every class probability out."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .faces import Box, FaceDetector, crop_face
from .gradcam import grad_cam, overlay
from .images import ImageInput, load_image
from .inference import make_classifier
from .model import InceptionResNetV2
from .preprocess import eval_transform

log = logging.getLogger(__name__)

SHIPPED_MODEL_DIR = Path(__file__).resolve().parents[1] / "space" / "model"  # the checkpoint that ships in the repo
MAX_FACES = 20


def default_model() -> str | None:
    """The model used when none is named: ``$FER_MODEL``, else the shipped checkpoint if present, else None."""
    if os.environ.get("FER_MODEL"):
        return os.environ["FER_MODEL"]
    return str(SHIPPED_MODEL_DIR) if (SHIPPED_MODEL_DIR / "config.json").is_file() else None


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
    ) -> None:
        self.model = model
        self.labels = list(model.labels)
        self.classifier = make_classifier(model, backend, device, precision)
        self.detector = detector or FaceDetector()
        self.max_faces = max_faces
        self.transform = eval_transform(model.image_size, model.mean, model.std)

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
        """Load a ``save_pretrained`` folder or Hub repo; ``None`` = the shipped model (an untrained one if absent)."""
        path_or_id = path_or_id or default_model()
        if path_or_id is None:
            log.warning("no trained model found at %s: using an UNTRAINED model", SHIPPED_MODEL_DIR)
            model = InceptionResNetV2()
        else:
            model = InceptionResNetV2.from_pretrained(path_or_id, revision=revision, local_files_only=local_files_only)
        return cls(model, device=device, precision=precision, backend=backend, **kwargs)

    def classify_faces(self, crops: list[np.ndarray]) -> np.ndarray:
        """RGB face crops -> (N, num_classes) probabilities, in one batch."""
        batch = torch.stack([self.transform(crop) for crop in crops])
        return self.classifier.probabilities(batch).numpy()

    def predict(self, image: ImageInput, color: str = "rgb") -> Prediction:
        """Detect faces (largest first) and classify each; with no face, classify the whole image and say so."""
        return self.predict_batch([image], color)[0]

    def predict_batch(self, images: Iterable[ImageInput], color: str = "rgb", batch_size: int = 32) -> list[Prediction]:
        """``predict`` for many images, classifying the faces of all of them in shared batches."""
        found = [self._find_faces(load_image(image, color)) for image in images]
        crops = [crop for _, _, face_crops, _ in found for crop in face_crops]
        probabilities = np.concatenate(
            [self.classify_faces(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]
        ) if crops else np.zeros((0, len(self.labels)))
        predictions, offset = [], 0
        for rgb, boxes, face_crops, notes in found:
            rows = probabilities[offset : offset + len(face_crops)]
            offset += len(face_crops)
            faces = [
                FacePrediction(
                    box=box,
                    label=self.labels[int(row.argmax())],
                    probabilities={label: float(p) for label, p in zip(self.labels, row, strict=False)},
                )
                for box, row in zip(boxes or [None], rows, strict=False)
            ]
            predictions.append(Prediction(faces, bool(boxes), rgb.shape[1], rgb.shape[0], notes))
        return predictions

    def _find_faces(self, rgb: np.ndarray) -> tuple[np.ndarray, list[Box], list[np.ndarray], list[str]]:
        """(image, boxes, crops to classify, notes): at most ``max_faces`` faces, or the whole image when none."""
        boxes, notes = self.detector.detect(rgb), []
        if len(boxes) > self.max_faces:
            notes.append(f"{len(boxes)} faces found; showing the {self.max_faces} largest")
            boxes = boxes[: self.max_faces]
        if not boxes:
            notes.append("no face detected: classified the whole image")
        return rgb, boxes, [crop_face(rgb, box) for box in boxes] or [rgb], notes

    def explain(self, image: ImageInput, color: str = "rgb") -> np.ndarray:
        """Grad-CAM overlay on the largest face (or the whole image) for its predicted class, as RGB uint8."""
        _, _, crops, _ = self._find_faces(load_image(image, color))
        heatmap = grad_cam(self.model, self.transform(crops[0]).to(self.classifier.device))
        return overlay(crops[0], heatmap)
