"""Per-epoch weights and the resumable training checkpoint, written atomically so a kill never corrupts them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from fer_model.files import atomic_write

EPOCHS_DIR = "resnet-v2-epochs"
RESUME_FILE = "checkpoint.pt"
BEST_FILE = "best.safetensors"


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def save_weights(path: Path, state_dict: dict[str, torch.Tensor], config: dict[str, Any], **info: Any) -> None:
    """A model ``state_dict`` as safetensors, with the model config and epoch info in its metadata (for export)."""
    tensors = {key: value.detach().contiguous().cpu() for key, value in state_dict.items()}
    metadata = {"config": json.dumps(config), **{key: json.dumps(value) for key, value in info.items()}}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_weights_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """Read a file written by ``save_weights``: (state_dict, model config, info such as epoch and val accuracy)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if "config" not in metadata:
        raise ValueError(f"{path}: no model config in its metadata; expected a file from resnet-v2-epochs/")
    info = {key: json.loads(value) for key, value in metadata.items() if key != "config"}
    return load_file(str(path)), json.loads(metadata["config"]), info


def rng_state() -> dict[str, Any]:
    """Every RNG that shapes training (python, numpy, torch CPU and CUDA), to restore on resume."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_state_as_tensors(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state_as_tensors() -> tuple[Any, ...]:
    """numpy's RNG state with its key array as a tensor, so ``torch.load(weights_only=True)`` accepts it."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    return name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    random.setstate(state["python"])
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state[0], numpy_state[1].numpy(), *numpy_state[2:]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """The resumable checkpoint (model, optimizer, scheduler, scaler, counters, RNG), via ``torch.save``."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Our own resume checkpoint, read with ``weights_only=True`` (no arbitrary unpickling)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from; run without --resume first")
    return torch.load(path, map_location="cpu", weights_only=True)
