"""The model card (README.md of a saved model): a Jinja template filled from the model's config, and the YAML
metadata the Hub reads from it (``datasets``, and ``model-index`` evaluation results)."""

from __future__ import annotations

from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from .blocks import RELEASED_BLOCK_REPEATS

MODEL_NAME = "inception-resnet-v2-fer2013"
DATASET_ID = "fer2013"  # the `datasets:` entry and model-index dataset type

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# Inception-ResNet-V2 for facial emotion recognition

A PyTorch Inception-ResNet-V2 ([Szegedy, Ioffe, Vanhoucke 2016]({{ paper_url }})) that classifies a face crop
into {{ num_classes }} classes: {{ labels_text }}.

## Architecture

| stage | block | repeats | output (at 299 px) |
|---|---|---|---|
| stem | conv/pool stem | 1 | 192 x 35 x 35 |
| Mixed-5b | Inception-A | 1 | 320 x 35 x 35 |
| Inception-ResNet-A | Block35, residual x 0.17 | {{ repeats[0] }} | 320 x 35 x 35 |
| Reduction-A | Mixed-6a | 1 | 1088 x 17 x 17 |
| Inception-ResNet-B | Block17, residual x 0.10 | {{ repeats[1] }} | 1088 x 17 x 17 |
| Reduction-B | Mixed-7a | 1 | 2080 x 8 x 8 |
| Inception-ResNet-C | Block8, residual x 0.20 (last: x 1.0, no ReLU) | {{ repeats[2] }} | 2080 x 8 x 8 |
| head | 1x1 conv 1536, average pool, dropout {{ drop_rate }}, linear | 1 | {{ num_classes }} |

## Input

- {{ in_chans }} x {{ image_size }} x {{ image_size }} (any size >= 75 px works); faces are converted to grayscale and
  replicated to 3 channels, resized, scaled to [0, 1] and normalised with mean {{ mean }} and std {{ std }}.
- The `fer_model` package does this for you, and finds the faces first (RetinaFace, shipped in the package)
  when given a photo.

## Training

{{ training_text }}

## Evaluation

{{ metrics_text }}

## How to use

Install the `fer_model` package (Python 3.11+; PyTorch, ONNX Runtime and OpenCV come with it) from the
project's source: `pip install .` in a checkout, or `pip install fer_model-*.whl` (built with `pip wheel --no-deps .`).
Then:

```python
from fer_model import EmotionRecognizer

recognizer = EmotionRecognizer.from_pretrained("{{ repo_id | default('PATH_OR_REPO_ID', true) }}")
for face in recognizer.predict("photo.jpg").faces:
    print(face.box, face.label, face.probabilities)
```

or `fer-model predict photo.jpg --model {{ repo_id | default('PATH_OR_REPO_ID', true) }} --json` (also folders, videos
and `--no-detect` for face crops).

## Intended use and limitations

- For demos, research and teaching about facial expression recognition. **Not for decisions about people**
  (hiring, policing, health, education, credit): a facial expression is not an emotion, and the model reads
  expressions only.
- Trained on FER2013: small 48x48 grayscale web images, labelled by crowd workers (human accuracy is about 65 %),
  skewed toward some ages, ethnicities and posed expressions; "disgust" has very few examples. Expect lower accuracy
  on faces, lighting, poses and cultures unlike FER2013's, and check accuracy on your own population before use.
- Face detection can miss small, turned or occluded faces; the whole image is then classified and the result says so.
"""


def _training_text(training: dict[str, Any] | None) -> str:
    """Markdown for the training section: the recipe as a key/value list, or a plain 'untrained' warning."""
    if not training:
        return "**Untrained**: these weights are randomly initialised; predictions are meaningless."
    return "\n".join(f"- {key}: {value}" for key, value in training.items())


def tta_name(metrics: dict[str, Any]) -> str | None:
    """The test-time augmentation the metrics were measured with, or None for one view ('none' or not recorded)."""
    tta = metrics.get("tta")
    return None if tta in (None, "none") else str(tta)


def _metrics_text(metrics: dict[str, Any] | None, labels: list[str]) -> str:
    """Markdown for the evaluation section: headline figures and a per-class table."""
    if not metrics:
        return "No evaluation yet."
    views = tta_name(metrics)
    lines = [
        f"On {metrics.get('dataset', 'the validation set')} {metrics.get('split', '')} "
        f"({metrics.get('num_images', '?')} images"
        f"{', ' + views + ' test-time augmentation' if views else ', single view'}):",
        "",
        f"- accuracy: **{metrics['accuracy']:.4f}**",
        f"- macro-F1: **{metrics['macro_f1']:.4f}**",
    ]
    per_class = metrics.get("per_class")
    if per_class:
        lines += ["", "| class | precision | recall | F1 | images |", "|---|---|---|---|---|"]
        for label in labels:
            row = per_class.get(label, {})
            lines.append(
                f"| {label} | {row.get('precision', 0):.3f} | {row.get('recall', 0):.3f} | "
                f"{row.get('f1', 0):.3f} | {row.get('support', 0)} |"
            )
    if metrics.get("confusion_matrix_png"):
        lines += ["", f"![confusion matrix]({metrics['confusion_matrix_png']})"]
    return "\n".join(lines)


def model_card_fields(config: dict[str, Any]) -> dict[str, Any]:
    """Template variables for MODEL_CARD_TEMPLATE from a model config (``config.json`` contents)."""
    labels = list(config.get("labels") or [])
    return {
        "num_classes": config.get("num_classes", len(labels)),
        "labels_text": ", ".join(labels),
        "repeats": list(config.get("block_repeats", RELEASED_BLOCK_REPEATS)),
        "drop_rate": config.get("drop_rate", 0.0),
        "in_chans": config.get("in_chans", 3),
        "image_size": config.get("image_size", 299),
        "mean": list(config.get("mean", ())),
        "std": list(config.get("std", ())),
        "training_text": _training_text(config.get("training")),
        "metrics_text": _metrics_text(config.get("metrics"), labels),
    }


def add_hub_metadata(card_data: ModelCardData, config: dict[str, Any]) -> None:
    """Fill ``datasets`` and the ``model-index`` results (accuracy, macro-F1 on the named split) of a card's YAML."""
    card_data.datasets = [DATASET_ID]
    metrics = config.get("metrics")
    if not metrics:
        return
    evaluated = {
        "task_type": "image-classification", "task_name": "Facial expression recognition",
        "dataset_type": DATASET_ID, "dataset_name": metrics.get("dataset") or "FER2013",
        "dataset_split": metrics.get("split") or "validation",
    }
    views = tta_name(metrics)
    tta = f" ({views} test-time augmentation)" if views else ""
    card_data.model_name = MODEL_NAME
    card_data.eval_results = [
        EvalResult(**evaluated, metric_type="accuracy", metric_value=round(metrics["accuracy"], 4),
                   metric_name=f"Accuracy{tta}"),
        EvalResult(**evaluated, metric_type="f1", metric_value=round(metrics["macro_f1"], 4),
                   metric_name=f"Macro-F1{tta}", metric_args={"average": "macro"}),
    ]
