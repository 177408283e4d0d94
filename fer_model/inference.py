"""The inference fast path: ONNX Runtime on the CPU, or PyTorch (channels_last, autocast where native, no autograd)."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from .model import InceptionResNetV2
from .runtime import autocast, pick_device, resolve_precision

BACKENDS = ("auto", "torch", "onnxruntime")


class Classifier(Protocol):
    """What the recognizer needs from a backend: normalised image batch in, probabilities out."""

    backend: str
    precision: str
    device: torch.device

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor: ...


class TorchClassifier:
    """PyTorch for inference: batched normalised images in, softmax probabilities (float32) out."""

    backend = "torch"

    def __init__(self, model: nn.Module, device: str | torch.device = "auto", precision: str = "auto") -> None:
        self.device = pick_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model = model.eval().to(self.device).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) normalised images -> (N, num_classes) probabilities on the CPU."""
        batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.precision):
            logits = self.model(batch)
        return logits.float().softmax(1).cpu()


def auto_backend(device: torch.device, precision: str = "auto") -> str:
    """The backend 'auto' picks: ONNX Runtime on the CPU in fp32, PyTorch on CUDA or for bf16."""
    return "onnxruntime" if device.type == "cpu" and precision in ("auto", "fp32") else "torch"


def make_classifier(
    model: InceptionResNetV2, backend: str = "auto", device: str | torch.device = "auto", precision: str = "auto"
) -> Classifier:
    """The backend to run ``model`` with (see ``auto_backend``).

    Measured on a 2-core CPU (benchmarks/speed.py): at 80 px, batch 1, ONNX Runtime takes 7 ms and eager PyTorch 30.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    device = pick_device(device)
    if backend == "auto":
        backend = auto_backend(device, precision)
    if backend == "torch":
        return TorchClassifier(model, device, precision)
    if device.type != "cpu" or precision not in ("auto", "fp32"):
        raise ValueError(f"backend onnxruntime runs on the CPU in fp32, not on {device} in {precision}")
    from .onnx_backend import OnnxClassifier, cached_onnx

    return OnnxClassifier(cached_onnx(model))
