"""The inference fast path: eval mode, channels_last, bf16 autocast where the hardware has it, no autograd."""

from __future__ import annotations

import torch
from torch import nn

PRECISIONS = ("auto", "fp32", "bf16")


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


class FastClassifier:
    """Wraps a classifier for inference: batched normalised images in, softmax probabilities (float32) out."""

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
