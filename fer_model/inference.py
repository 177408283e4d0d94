"""The inference fast path: ONNX Runtime on the CPU, or PyTorch (channels_last, bf16 where native, no autograd)."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from .model import InceptionResNetV2

BACKENDS = ("auto", "torch", "onnxruntime")
PRECISIONS = ("auto", "fp32", "bf16")


class Classifier(Protocol):
    """What the recognizer needs from a backend: normalised image batch in, probabilities out."""

    backend: str
    precision: str
    device: torch.device

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor: ...


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def bf16_supported(device: torch.device) -> bool:
    """True where bf16 matmuls/convolutions are native (AVX512-BF16/AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class TorchClassifier:
    """PyTorch for inference: batched normalised images in, softmax probabilities (float32) out."""

    backend = "torch"

    def __init__(self, model: nn.Module, device: str | torch.device = "auto", precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device = pick_device(device)
        if precision == "auto":
            precision = "bf16" if bf16_supported(self.device) else "fp32"
        self.precision = precision
        self.model = model.eval().to(self.device).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) normalised images -> (N, num_classes) probabilities on the CPU."""
        batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
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
    if device.type != "cpu" or precision == "bf16":
        raise ValueError(f"backend onnxruntime runs on the CPU in fp32, not on {device} in {precision}")
    from .onnx_backend import OnnxClassifier, cached_onnx

    return OnnxClassifier(cached_onnx(model))
