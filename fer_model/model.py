"""InceptionResNetV2: the network, its configuration, and safetensors/Hub (de)serialisation."""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import socket
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from huggingface_hub import (
    PyTorchModelHubMixin,
    hf_hub_download,
    save_torch_state_dict,
    snapshot_download,
)
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import EntryNotFoundError, HFValidationError
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from .blocks import (
    RELEASED_BLOCK_REPEATS,
    BasicConv2d,
    Block8,
    Block17,
    Block35,
    Mixed5b,
    ReductionA,
    ReductionB,
    Stem,
)
from .card import MODEL_CARD_TEMPLATE, add_hub_metadata, model_card_fields
from .labels import EMOTIONS

MIN_IMAGE_SIZE_PX = 75  # smallest input the valid-padded stem and two reductions can take
MAX_IMAGE_SIZE_PX = 1024  # 3.4x the 299 px design: larger inputs only cost memory (activations grow with the square)
MAX_IN_CHANS = 4  # gray, RGB or RGBA
MAX_NUM_CLASSES = 1001  # the TF-slim ImageNet head (1000 classes + background)
MAX_LABEL_CHARS = 64
MAX_BLOCK_REPEATS = (20, 40, 20)  # twice the released model's Block35/Block17/Block8 repeats
MEAN_RANGE = (0.0, 1.0)  # per-channel mean of pixels scaled to [0, 1]
STD_RANGE = (1e-3, 10.0)  # per-channel std: smaller would blow inputs up to inf, larger flatten them to 0
MAX_CONFIG_BYTES = 1_000_000  # config.json holds a few numbers, labels and metrics: a few KB
SHARD_NAME = re.compile(r"[\w.-]+\.safetensors")  # a plain file name beside the index: no folder, no ..
MAX_SHARD_SIZE = "45MB"  # every weight file stays under the 50 MB git/Spaces limit


class ModelLoadError(ValueError):
    """A model folder or repo cannot be loaded: missing, corrupt or mismatched files."""


def _check_config(
    num_classes: int,
    labels: Sequence[str],
    image_size: int,
    in_chans: int,
    drop_rate: float,
    block_repeats: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> None:
    """Raise a ValueError naming the first config field that is of the wrong type or out of range."""

    def is_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def is_number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    if not is_int(num_classes) or not 1 <= num_classes <= MAX_NUM_CLASSES:
        raise ValueError(f"num_classes: expected an int in 1..{MAX_NUM_CLASSES}, got {num_classes!r}")
    if (
        not isinstance(labels, (list, tuple)) or len(labels) != num_classes
        or not all(isinstance(label, str) and 1 <= len(label) <= MAX_LABEL_CHARS for label in labels)
        or len(set(labels)) != len(labels)
    ):
        raise ValueError(
            f"labels: expected a list of {num_classes} class names (num_classes), all different, of "
            f"1..{MAX_LABEL_CHARS} characters, got {labels!r:.200}"
        )
    if not is_int(image_size) or not MIN_IMAGE_SIZE_PX <= image_size <= MAX_IMAGE_SIZE_PX:
        raise ValueError(f"image_size: expected an int in {MIN_IMAGE_SIZE_PX}..{MAX_IMAGE_SIZE_PX}, got {image_size!r}")
    if not is_int(in_chans) or not 1 <= in_chans <= MAX_IN_CHANS:
        raise ValueError(f"in_chans: expected an int in 1..{MAX_IN_CHANS}, got {in_chans!r}")
    if not is_number(drop_rate) or not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate: expected a float in [0, 1), got {drop_rate!r}")
    if (
        not isinstance(block_repeats, (list, tuple)) or len(block_repeats) != 3
        or not all(is_int(n) and 1 <= n <= top for n, top in zip(block_repeats, MAX_BLOCK_REPEATS, strict=True))
    ):
        raise ValueError(
            f"block_repeats: expected 3 positive ints (Block35, Block17, Block8) of at most {list(MAX_BLOCK_REPEATS)} "
            f"(twice the released model), got {block_repeats!r}"
        )
    for name, values, (low, high) in (("mean", mean, MEAN_RANGE), ("std", std, STD_RANGE)):
        if (
            not isinstance(values, (list, tuple)) or len(values) != in_chans
            or not all(is_number(v) and math.isfinite(v) and low <= v <= high for v in values)
        ):
            raise ValueError(
                f"{name}: expected {in_chans} numbers (one per input channel) in [{low:g}, {high:g}], got {values!r}"
            )
    for name, value in (("metrics", metrics), ("training", training)):
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{name}: expected an object (dict) or null, got {type(value).__name__} {value!r:.80}")
    for key in ("accuracy", "macro_f1") if metrics else ():
        if not is_number(metrics.get(key)) or not 0.0 <= metrics[key] <= 1.0:
            raise ValueError(f"metrics.{key}: expected a number in [0, 1], got {metrics.get(key)!r}")


class InceptionResNetV2(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="fer_model",
    license="mit",
    pipeline_tag="image-classification",
    tags=["facial-expression-recognition", "inception-resnet-v2", "fer2013"],
    paper_url="https://arxiv.org/abs/1602.07261",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Inception-ResNet-V2 (Szegedy et al. 2016) for facial emotion recognition.

    The keyword arguments are the model's config: ``save_pretrained`` writes them to ``config.json`` and
    ``from_pretrained`` rebuilds the model from them. ``metrics`` and ``training`` are metadata for the model
    card and the demo (validation figures, training recipe); they do not change the network.
    """

    def __init__(
        self,
        num_classes: int = len(EMOTIONS),
        labels: Sequence[str] | None = None,
        image_size: int = 299,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        block_repeats: Sequence[int] = RELEASED_BLOCK_REPEATS,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        metrics: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if labels is None:
            count = num_classes if isinstance(num_classes, int) else 0  # a bad type is reported by _check_config
            labels = EMOTIONS if count == len(EMOTIONS) else [f"class_{i}" for i in range(count)]
        _check_config(num_classes, labels, image_size, in_chans, drop_rate, block_repeats, mean, std, metrics, training)
        self.num_classes = num_classes
        self.labels = list(labels)
        if isinstance(self._hub_mixin_config, dict):  # record the resolved labels, not the None default
            self._hub_mixin_config["labels"] = self.labels
        self.image_size = image_size
        self.in_chans = in_chans
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.metrics = metrics
        self.training_info = training
        n35, n17, n8 = block_repeats
        self.num_features = 1536

        self.stem = Stem(in_chans)  # 3x299x299 -> 192x35x35
        self.mixed_5b = Mixed5b()  # -> 320x35x35
        self.block35 = nn.Sequential(*[Block35(scale=0.17) for _ in range(n35)])
        self.reduction_a = ReductionA()  # -> 1088x17x17
        self.block17 = nn.Sequential(*[Block17(scale=0.10) for _ in range(n17)])
        self.reduction_b = ReductionB()  # -> 2080x8x8
        # As released: n8 - 1 scaled blocks, then one with scale 1.0 and no ReLU before the final 1x1 conv.
        self.block8 = nn.Sequential(
            *[Block8(scale=0.20) for _ in range(n8 - 1)], Block8(scale=1.0, activate=False)
        )
        self.conv2d_7b = BasicConv2d(2080, self.num_features, kernel_size=1)  # -> 1536x8x8
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(self.num_features, num_classes)

    @property
    def config(self) -> dict[str, Any]:
        """The ``config.json`` contents: the ``__init__`` keyword arguments, labels resolved."""
        return dict(self._hub_mixin_config or {})

    def set_metadata(self, metrics: dict[str, Any] | None = None, training: dict[str, Any] | None = None) -> None:
        """Record evaluation figures and/or the training recipe, in the model and in the config it saves."""
        config = self._hub_mixin_config
        if metrics is not None:
            self.metrics = config["metrics"] = metrics
        if training is not None:
            self.training_info = config["training"] = training

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) with H, W >= 75 -> feature map (N, 1536, h, w) before pooling."""
        height, width = x.shape[-2:]
        if height < MIN_IMAGE_SIZE_PX or width < MIN_IMAGE_SIZE_PX:
            raise ValueError(
                f"input is {height}x{width} px; InceptionResNetV2 needs at least "
                f"{MIN_IMAGE_SIZE_PX}x{MIN_IMAGE_SIZE_PX} (resize the image first)"
            )
        x = self.mixed_5b(self.stem(x))
        x = self.reduction_a(self.block35(x))
        x = self.reduction_b(self.block17(x))
        return self.conv2d_7b(self.block8(x))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map -> pooled 1536-d embedding (``pre_logits``) or class logits."""
        x = self.head_drop(torch.flatten(self.global_pool(features), 1))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def generate_model_card(self, *args: Any, **kwargs: Any) -> Any:
        """The mixin's card, filled from this model's config (architecture, labels, metrics, recipe, Hub metadata)."""
        card = super().generate_model_card(*args, **{**model_card_fields(self.config), **kwargs})
        add_hub_metadata(card.data, self.config)
        return card

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the weights as safetensors, in shards under 50 MB with an index when the model is larger."""
        save_torch_state_dict(self.state_dict(), save_directory, max_shard_size=MAX_SHARD_SIZE)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> InceptionResNetV2:
        """Load a ``save_pretrained`` folder or a Hub repo id (``PyTorchModelHubMixin.from_pretrained`` arguments).

        Raises ModelLoadError naming the folder or repo when it cannot be found, fetched or read.
        """
        name = os.path.expanduser(pretrained_model_name_or_path)  # a shell leaves ~ in --model=~/m; repo ids have none
        _check_is_folder_or_repo_id(name)
        offline = ""
        local = os.path.isdir(name) or kwargs.get("local_files_only")
        if not local and not _hub_resolves():  # the cache or a clear error now, not a minute of retries and log lines
            kwargs, offline = {**kwargs, "local_files_only": True}, "; the Hub cannot be reached from here"
        try:
            _check_config_keys(_config_file(name, kwargs), cls)  # before the mixin parses it
            return super().from_pretrained(name, **kwargs)
        except ModelLoadError:
            raise
        except (EntryNotFoundError, OSError, ValueError) as error:  # Hub and network errors subclass these
            raise ModelLoadError(
                f"{name}: not a model folder here and not loadable from the Hugging Face "
                f"Hub{offline} ({type(error).__name__}: {error})"
            ) from error

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs: Any,
    ) -> InceptionResNetV2:
        """Build from config, then load every weight strictly from safetensors (never pickle)."""
        folder = Path(model_id) if os.path.isdir(model_id) else Path(
            snapshot_download(
                repo_id=model_id,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=local_files_only,
                token=token,
                allow_patterns=["*.json", "*.safetensors", "README.md"],
            )
        )
        _check_config_keys(folder / "config.json", cls)
        try:
            model = cls(**model_kwargs)
        except (TypeError, ValueError) as error:
            raise ModelLoadError(f"{folder / 'config.json'}: {error}") from error
        load_weights(model, folder, strict=strict)
        return model.to(map_location).eval()


def _regular_file(path: Path) -> bool:
    """True for a regular file (symlinks followed, as in the Hub cache); never opens it, so a FIFO cannot block."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _read_json(path: Path) -> Any:
    """Parse a small JSON file of a model folder, or raise ModelLoadError naming it and what is wrong."""
    if not _regular_file(path):
        raise ModelLoadError(f"{path}: not a regular file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelLoadError(f"{path}: {path.stat().st_size:,} bytes; expected at most {MAX_CONFIG_BYTES:,}")
    try:
        return json.loads(path.read_bytes())
    except RecursionError as error:
        raise ModelLoadError(f"{path}: nested too deeply to be a model's JSON") from error
    except ValueError as error:
        raise ModelLoadError(f"{path}: not valid JSON ({error})") from error


def _hub_resolves() -> bool:
    """Whether the Hub's host name resolves (huggingface_hub would otherwise retry each request for ~30 s)."""
    try:
        socket.getaddrinfo(urlparse(hub_constants.ENDPOINT).hostname, 443)
    except (OSError, UnicodeError):
        return False
    return True


def _config_file(folder_or_id: str | Path, hub_kwargs: dict[str, Any]) -> Path:
    """The config.json of a local folder, or of a Hub repo (fetched into the Hub cache with the caller's arguments)."""
    if os.path.isdir(folder_or_id):
        return Path(folder_or_id) / "config.json"
    names = ("revision", "cache_dir", "force_download", "local_files_only", "token")
    download_kwargs = {name: hub_kwargs[name] for name in names if name in hub_kwargs}
    return Path(hf_hub_download(str(folder_or_id), "config.json", **download_kwargs))


def _check_is_folder_or_repo_id(name: str) -> None:
    """Refuse a file, or a missing folder that cannot be a Hub repo id either (``/data/model``, ``./model``)."""
    if os.path.isdir(name):
        return
    expected = "expected a folder written by save_pretrained or a Hub repo id"
    if os.path.exists(name):
        raise ModelLoadError(f"{name}: a file, not a folder; {expected}")
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise ModelLoadError(f"{name or repr(name)}: no such folder; {expected}") from None


def _check_config_keys(config_file: Path, cls: type) -> None:
    """Refuse a config.json that is not a JSON object of keys this version knows (a typo, another library's model)."""
    if not config_file.exists() and not config_file.is_symlink():
        raise ModelLoadError(f"{config_file.parent}: no config.json there; expected a folder written by "
                             "save_pretrained (a training run's model is its resnet-v2-epochs/best)")
    config = _read_json(config_file)
    if not isinstance(config, dict):
        raise ModelLoadError(f"{config_file}: expected a JSON object of config keys, got {type(config).__name__}")
    known = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ModelLoadError(f"{config_file}: unknown keys {unknown}; the keys of this model are {', '.join(known)}")


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a saved model: the single file, or every shard its index names."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if _regular_file(single) and _regular_file(index):
        raise ModelLoadError(f"{folder}: both model.safetensors and model.safetensors.index.json; expected one "
                             "(save_pretrained writes either, so which weights are meant is unclear)")
    if _regular_file(single):
        return [single]
    if not _regular_file(index):
        raise ModelLoadError(
            f"{folder}: no model.safetensors or model.safetensors.index.json; "
            "expected a folder written by save_pretrained (pickled .bin/.pt weights are not loaded)"
        )
    content = _read_json(index)
    weight_map = content.get("weight_map") if isinstance(content, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelLoadError(f"{index}: not a valid shard index; expected {{\"weight_map\": {{tensor: file}}}}")
    for name in weight_map.values():  # every name is checked before any file is opened
        if not isinstance(name, str) or not SHARD_NAME.fullmatch(name):
            raise ModelLoadError(f"{index}: shard {name!r} is not a plain *.safetensors file name beside the index")
    shards = sorted(set(weight_map.values()))
    for name in shards:
        if not _regular_file(folder / name):
            raise ModelLoadError(f"{index}: shard {name!r} is missing or not a regular file")
    return [folder / name for name in shards]


def load_weights(model: nn.Module, folder: Path, strict: bool = True) -> None:
    """Load ``model.safetensors`` (or its shards) from ``folder`` into ``model``, with errors naming the file."""
    state: dict[str, torch.Tensor] = {}
    for path in _weight_files(folder):  # exactly the files checked: another *.safetensors beside them is not read
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError) as error:
            raise ModelLoadError(f"{path}: not a valid safetensors file ({error}); export it again") from error
        if twice := sorted(state.keys() & tensors.keys()):  # which copy won would depend on the shards' order
            raise ModelLoadError(f"{path}: tensors also in another shard: {_first(twice)}")
        state.update(tensors)
    shapes = {key: list(value.shape) for key, value in state.items()}
    problems = _weight_mismatches(shapes, {key: list(value.shape) for key, value in model.state_dict().items()}, strict)
    if problems:
        raise ModelLoadError(f"{folder}: weights do not fit this model's config.json: {'; '.join(problems)}")
    model.load_state_dict(state, strict=strict)


def _first(names: list[str]) -> str:
    """The first three names, and '...' when there are more: enough to recognise a problem on one line."""
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def _weight_mismatches(saved: dict[str, list[int]], expected: dict[str, list[int]], strict: bool) -> list[str]:
    """One short phrase per kind of mismatch (counts and the first 3 names), so the error stays on one line."""
    missing = [key for key in expected if key not in saved] if strict else []
    unexpected = sorted(key for key in saved if key not in expected) if strict else []
    reshaped = [f"{key} {saved[key]} in the file, {shape} here" for key, shape in expected.items()
                if key in saved and saved[key] != shape]
    return [f"{len(names)} {kind} ({_first(names)})" for kind, names in
            (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped)) if names]
