"""Classification metrics (accuracy, macro-F1, per-class precision/recall/F1, confusion matrix) and model scoring."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from fer_model.runtime import autocast

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Scores:
    """Everything a pass over a labelled set produces: mean loss, softmax probabilities and true targets."""

    loss: float
    probabilities: np.ndarray  # (N, C)
    targets: np.ndarray  # (N,)

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(1)


@torch.inference_mode()
def score(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    precision: str = "fp32",
    tta: str = "none",
) -> Scores:
    """Run ``model`` over (images, targets) batches in ``precision``, averaging logits over test-time views.

    ``tta``: 'none'; 'flip' adds the mirrored image; 'ten-crop' expects (N, 10, C, S, S) batches of crops.
    """
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    total_loss, probabilities, targets = 0.0, [], []
    for images, target in batches:
        views = images.shape[1] if images.ndim == 5 else 1
        images = images.flatten(0, 1) if images.ndim == 5 else images
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        target = target.to(device, non_blocking=True)
        with autocast(device, precision):
            logits = model(images).float()
            if tta == "flip":
                logits = (logits + model(images.flip(-1)).float()) / 2
        logits = logits.view(len(target), views, -1).mean(1)
        total_loss += criterion(logits, target).item()
        probabilities.append(logits.softmax(1).cpu().numpy())
        targets.append(target.cpu().numpy())
    all_targets = np.concatenate(targets)
    return Scores(total_loss / len(all_targets), np.concatenate(probabilities), all_targets)


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return np.bincount(targets * num_classes + predictions, minlength=num_classes**2).reshape(num_classes, num_classes)


def classification_report(targets: np.ndarray, predictions: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """``accuracy``, ``macro_f1``, ``per_class`` (precision, recall, f1, support) and ``confusion_matrix``."""
    matrix = confusion_matrix(targets, predictions, len(labels))
    true_positive = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(0), matrix.sum(1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return {
        "accuracy": float(true_positive.sum() / max(matrix.sum(), 1)),
        "macro_f1": float(f1.mean()),
        "per_class": {
            label: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(actual[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": matrix.tolist(),
    }


def confusion_figure(matrix: np.ndarray, labels: Sequence[str], title: str = "confusion matrix") -> Figure:
    """A matplotlib figure of the row-normalised confusion matrix with counts, for TensorBoard and the card.

    A bare ``Figure`` (no pyplot): no process-wide backend switch, and nothing kept alive after the caller is done.
    """
    from matplotlib.figure import Figure  # imported when a figure is drawn: the rest of train/ starts faster

    matrix = np.asarray(matrix)
    normalised = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    figure = Figure(figsize=(6.4, 5.6))
    axes = figure.subplots()
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if normalised[row, col] > 0.5 else "black"
        axes.text(col, row, f"{count}", ha="center", va="center", fontsize=8, color=colour)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    return figure
