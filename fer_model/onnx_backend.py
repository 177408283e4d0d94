"""ONNX: export the model with a dynamic batch axis, and classify with ONNX Runtime (the fastest CPU path at 80 px).

Exports are cached by a digest of the weights and config, so a model is exported once per machine (about 10 s).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
from pathlib import Path

import torch

from .files import atomic_write
from .model import InceptionResNetV2, ModelLoadError

log = logging.getLogger(__name__)

INPUT_NAME = "pixel_values"  # (batch, 3, image_size, image_size), normalised as the model's config says
OUTPUT_NAME = "logits"  # (batch, num_classes)
CACHE_ENV = "FER_CACHE_DIR"


def export_onnx(model: InceptionResNetV2, path: Path) -> Path:
    """Write ``model`` (fp32, eval) as ONNX with a dynamic batch axis; labels and input spec go in its metadata."""
    exportable = copy.deepcopy(model).float().cpu().eval().to(memory_format=torch.contiguous_format)
    example = torch.zeros(2, model.in_chans, model.image_size, model.image_size)
    program = torch.onnx.export(
        exportable, (example,), dynamo=True, verbose=False,
        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
    )
    program.model.metadata_props.update({
        "labels": json.dumps(model.labels), "image_size": str(model.image_size),
        "mean": json.dumps(model.mean), "std": json.dumps(model.std),
    })
    atomic_write(path, lambda tmp: program.save(tmp, external_data=False))
    return path


def cache_dir() -> Path:
    """Where exports are cached: ``$FER_CACHE_DIR``, else ``$XDG_CACHE_HOME/fer_model`` (``~/.cache/fer_model``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fer_model"


def model_digest(model: InceptionResNetV2) -> str:
    """SHA-256 of the config, the weights and the torch version: equal digests give identical exports."""
    digest = hashlib.sha256(json.dumps(model.config, sort_keys=True).encode() + torch.__version__.encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy())
    return digest.hexdigest()


def cached_onnx(model: InceptionResNetV2) -> Path:
    """The ONNX export of ``model`` from the cache, exporting it first when it is not there yet."""
    path = cache_dir() / f"inception-resnet-v2-{model_digest(model)[:20]}.onnx"
    if not path.is_file():
        log.info("Exporting the model to ONNX for ONNX Runtime, once per model and machine (about 10 s); cached at %s",
                 path)
        started = time.monotonic()
        export_onnx(model, path)
        log.info("Exported in %.0f s", time.monotonic() - started)
    return path


class OnnxClassifier:
    """ONNX Runtime on the CPU: batched normalised images in, softmax probabilities (float32) out."""

    backend = "onnxruntime"
    precision = "fp32"
    device = torch.device("cpu")

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # free the cores between calls
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for unreadable models
            raise ModelLoadError(f"{path}: not a loadable ONNX model ({error})") from error

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) normalised images -> (N, num_classes) probabilities."""
        inputs = batch.detach().float().cpu().contiguous().numpy()
        (logits,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: inputs})
        return torch.from_numpy(logits).softmax(1)
