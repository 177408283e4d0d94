"""Device and numeric precision: the one vocabulary that inference, training, evaluation and benchmarks share.

``device``: 'auto' (CUDA when present, else the CPU), 'cpu', 'cuda' or a torch device such as 'cuda:1'.
``precision``: 'auto' (bf16 where it is native, else fp16 on a GPU, else fp32), 'fp32', 'bf16', 'fp16' (CUDA only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU; asking for CUDA where there is none is a ValueError that says so."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device: expected one of {', '.join(DEVICES)} (or e.g. cuda:1), got {device!r}") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device}: no CUDA device is available; use cpu or auto")
    return chosen


def bf16_supported(device: torch.device) -> bool:
    """True where bf16 matmuls/convolutions are native (AVX512-BF16/AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where native, else 'fp16' on CUDA, else 'fp32'; explicit values are checked for ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        if bf16_supported(device):
            return "bf16"
        return "fp16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision fp16 runs on CUDA only, not on {device}; use bf16 or fp32")
    return precision


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """``torch.autocast`` for a resolved 'bf16'/'fp16', nothing for 'fp32' ('auto' must be resolved first)."""
    if precision not in ("fp32", *AUTOCAST_DTYPES):
        raise ValueError(f"autocast: expected a resolved precision (fp32, bf16, fp16), got {precision!r}")
    with torch.autocast(device.type, dtype=AUTOCAST_DTYPES.get(precision), enabled=precision != "fp32"):
        yield
