"""Per-epoch model folders and the resumable training checkpoint, written atomically so a kill never corrupts them."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_model import InceptionResNetV2, ModelLoadError
from fer_model.files import atomic_folder, atomic_write

log = logging.getLogger(__name__)
EPOCHS_DIR = "resnet-v2-epochs"
RESUME_FILE = "checkpoint.pt"
ARCHITECTURE_KEYS = ("labels", "block_repeats", "in_chans", "mean", "std")  # what --init-from's model must share
BEST_DIR = "best"  # beside epoch-NNN/: save_pretrained folders of the validated (EMA, when on) weights


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def save_model(path: Path, model: InceptionResNetV2) -> None:
    """``model.save_pretrained(path)``, atomically: a whole folder (config.json, safetensors, card) or the old one."""
    with atomic_folder(path) as staging:
        model.save_pretrained(staging)


def load_initial_weights(model: InceptionResNetV2, source: str) -> None:
    """Copy the weights of a saved model (folder or Hub repo id) into ``model`` to fine-tune it (``--init-from``).

    Raises ValueError naming the source when it cannot be loaded or is another network (labels, blocks, input).
    """
    try:
        start = InceptionResNetV2.from_pretrained(source)
    except ModelLoadError as error:
        raise ValueError(f"--init-from {error}") from error
    saved, now = json.loads(json.dumps(start.config)), json.loads(json.dumps(model.config))  # tuples as lists
    differ = [f"{key} {saved.get(key)} there, {now.get(key)} here" for key in ARCHITECTURE_KEYS
              if saved.get(key) != now.get(key)]
    if differ:
        raise ValueError(f"--init-from {source}: another network than this run's ({'; '.join(differ)})")
    model.load_state_dict(start.state_dict())
    log.info("starting from the weights of %s", source)
    if start.image_size != model.image_size:  # allowed (fine-tuning at another size), but usually a forgotten flag
        log.warning("--init-from %s was trained at %d px; this run trains at %d px (pass --image-size %d to keep it)",
                    source, start.image_size, model.image_size, start.image_size)


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
