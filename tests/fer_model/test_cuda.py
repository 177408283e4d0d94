"""CUDA paths (run by `make gpu-check` on a lent GPU; skipped elsewhere): bf16 inference and a bf16 training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from devtools.synthetic import make_face_folder
from fer_model import EMOTIONS, EmotionRecognizer
from train.config import TrainConfig
from train.loop import train
from train.options import SHIPPED_MODEL

from ..conftest import TINY_REPEATS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_bf16_channels_last_on_cuda_agrees_with_fp32_on_the_cpu(astronaut: np.ndarray) -> None:
    on_cpu = EmotionRecognizer.from_pretrained(SHIPPED_MODEL, device="cpu", backend="torch", precision="fp32")
    cpu = on_cpu.predict(astronaut)
    cuda = EmotionRecognizer.from_pretrained(SHIPPED_MODEL, device="cuda", precision="bf16").predict(astronaut)
    assert cuda.faces[0].box == cpu.faces[0].box and cuda.faces[0].label == cpu.faces[0].label
    for label in EMOTIONS:
        assert abs(cuda.faces[0].probabilities[label] - cpu.faces[0].probabilities[label]) < 0.05, label


def test_a_bf16_training_run_on_cuda_finishes_with_finite_losses(tmp_path: Path) -> None:
    make_face_folder(tmp_path / "train", list(EMOTIONS), per_class=16, seed=1)
    make_face_folder(tmp_path / "validation", list(EMOTIONS), per_class=4, seed=2)
    summary = train(TrainConfig(data=tmp_path / "train", val_data=tmp_path / "validation", output_dir=tmp_path,
                                epochs=2, batch_size=16, image_size=75, block_repeats=TINY_REPEATS, device="cuda",
                                precision="bf16", seed=0))
    assert len(summary["epochs"]) == 2
    assert all(np.isfinite(row["train_loss"]) and np.isfinite(row["val_loss"]) for row in summary["epochs"])
