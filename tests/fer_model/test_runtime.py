"""The one device/precision vocabulary: what 'auto' resolves to, and clear errors for what cannot run here."""

from __future__ import annotations

import pytest
import torch

from fer_model.runtime import autocast, bf16_supported, pick_device, resolve_precision

CPU = torch.device("cpu")


def test_auto_resolves_to_bf16_only_where_it_is_native() -> None:
    assert pick_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_precision("auto", CPU) == ("bf16" if bf16_supported(CPU) else "fp32")
    assert resolve_precision("fp32", CPU) == "fp32" and resolve_precision("bf16", CPU) == "bf16"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_value_error_not_an_exit() -> None:
    with pytest.raises(ValueError, match="device cuda: no CUDA device is available; use cpu or auto"):
        pick_device("cuda")


@pytest.mark.parametrize(("precision", "message"), [
    ("fp16", "precision fp16 runs on CUDA only, not on cpu; use bf16 or fp32"),
    ("off", "precision: expected one of auto, fp32, bf16, fp16, got 'off'"),
])
def test_precisions_that_cannot_run_on_the_cpu_are_refused(precision: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_precision(precision, CPU)


def test_autocast_needs_a_resolved_precision_and_casts_only_for_bf16() -> None:
    with pytest.raises(ValueError, match="expected a resolved precision"), autocast(CPU, "auto"):
        pass
    layer, x = torch.nn.Linear(4, 4), torch.randn(2, 4)
    with autocast(CPU, "fp32"):
        assert layer(x).dtype == torch.float32
    with autocast(CPU, "bf16"):
        assert layer(x).dtype == torch.bfloat16  # autocast runs on any CPU; bf16 is only fast where native


def test_bad_device_name_names_the_choices() -> None:
    with pytest.raises(ValueError, match="device: expected one of auto, cpu, cuda"):
        pick_device("gpu0")
