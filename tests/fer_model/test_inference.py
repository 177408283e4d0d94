"""Inference backends: ONNX Runtime and PyTorch give the fp32 model's answers; the export has a dynamic batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from fer_model import InceptionResNetV2, ModelLoadError
from fer_model.inference import TorchClassifier, make_classifier
from fer_model.onnx_backend import OnnxClassifier, cached_onnx
from fer_model.runtime import bf16_supported

from ..conftest import SHIPPED_MODEL

ROOT = Path(__file__).resolve().parents[2]


def generated_faces(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """Normalised gray-as-RGB images: a bright oval 'face' with dark 'eyes' and a mouth, jittered, plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        cx, cy, r = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6), rng.uniform(0.3, 0.45)
        face = (((xx - cx) / (0.8 * r)) ** 2 + ((yy - cy) / r) ** 2 < 1) * rng.uniform(0.5, 0.9)
        for dx in (-0.15, 0.15):
            face[((xx - cx - dx) ** 2 + (yy - cy + 0.1) ** 2) < 0.004] = 0.1
        mouth_curve = rng.uniform(-0.3, 0.3)
        face[(np.abs(yy - cy - 0.18 - mouth_curve * (xx - cx) ** 2 * 4) < 0.02) & (np.abs(xx - cx) < 0.15)] = 0.1
        image = np.clip(face + rng.normal(0, 0.05, face.shape), 0, 1)
        images.append(np.repeat(image[None], 3, 0))
    return (torch.tensor(np.stack(images), dtype=torch.float32) - 0.5) / 0.5


def test_auto_backend_is_onnxruntime_on_cpu_and_matches_pytorch(tiny_model: InceptionResNetV2) -> None:
    fast = make_classifier(tiny_model, device="cpu")
    assert (fast.backend, fast.precision) == ("onnxruntime", "fp32")
    images = generated_faces(5, tiny_model.image_size)
    exact = TorchClassifier(tiny_model, "cpu", "fp32").probabilities(images)
    assert torch.allclose(fast.probabilities(images), exact, atol=1e-5)
    assert torch.allclose(fast.probabilities(images[:1]), exact[:1], atol=1e-5)  # the batch axis is dynamic


def test_export_is_cached_by_weights(tiny_model: InceptionResNetV2, onnx_cache: Path) -> None:
    path = cached_onnx(tiny_model)
    written = path.stat().st_mtime_ns
    assert cached_onnx(tiny_model) == path and path.stat().st_mtime_ns == written  # reused, not exported again
    changed = InceptionResNetV2(**tiny_model.config)  # same config, other weights: another export
    assert cached_onnx(changed) != path
    assert path.parent == onnx_cache


def test_backend_errors_are_clear(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend: expected one of auto, torch, onnxruntime"):
        make_classifier(tiny_model, backend="tensorrt")
    with pytest.raises(ValueError, match="onnxruntime runs on the CPU in fp32"):
        make_classifier(tiny_model, backend="onnxruntime", precision="bf16")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelLoadError, match=r"broken\.onnx: not a loadable ONNX model"):
        OnnxClassifier(broken)


@pytest.mark.skipif(not (SHIPPED_MODEL / "config.json").is_file(), reason="no shipped model")
def test_fast_paths_agree_with_fp32_on_generated_faces() -> None:
    """The acceptance bar of the speed work: top-1 agrees on >= 99.5 % and probabilities differ < 0.01 on average."""
    model = InceptionResNetV2.from_pretrained(SHIPPED_MODEL)
    images = generated_faces(200, model.image_size)
    exact = TorchClassifier(model, "cpu", "fp32").probabilities(images)
    paths = [make_classifier(model, backend="onnxruntime")]
    if bf16_supported(torch.device("cpu")):
        paths.append(TorchClassifier(model, "cpu", "bf16"))
    for fast in paths:
        probabilities = fast.probabilities(images)
        agreement = (probabilities.argmax(1) == exact.argmax(1)).float().mean().item()
        assert agreement >= 0.995, (fast.backend, fast.precision, agreement)
        assert (probabilities - exact).abs().mean().item() < 0.01, (fast.backend, fast.precision)


def test_export_onnx_command_checks_against_pytorch(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "model")
    out = tmp_path / "exported" / "tiny.onnx"
    result = subprocess.run(
        [sys.executable, "-m", "fer_model", "export-onnx", "--model", str(tmp_path / "model"), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    differences = [float(line.rsplit(" ", 1)[1]) for line in result.stdout.splitlines() if line.startswith("batch")]
    assert len(differences) == 2 and max(differences) < 1e-5
    metadata = {prop.key: prop.value for prop in onnx.load(out, load_external_data=False).metadata_props}
    assert json.loads(metadata["labels"]) == tiny_model.labels and metadata["image_size"] == "75"
    graph = onnx.load(out, load_external_data=False).graph
    batch = graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value  # symbolic batch size
    operators = {node.op_type for node in graph.node}
    assert "Conv" in operators and "MatMul" not in operators  # 1x1 convolutions export as Conv, for ORT to fuse


def test_export_onnx_command_names_a_missing_model(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fer_model", "export-onnx", "--model", str(tmp_path / "nope"),
         "--out", str(tmp_path / "x.onnx")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 2 and "nope" in result.stderr
    assert not (tmp_path / "x.onnx").exists()
