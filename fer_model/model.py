"""InceptionResNetV2: the network, its configuration, and safetensors/Hub (de)serialisation."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import torch
from huggingface_hub import PyTorchModelHubMixin, load_torch_model, save_torch_state_dict, snapshot_download
from huggingface_hub.errors import EntryNotFoundError
from safetensors import SafetensorError, safe_open
from torch import nn

from .blocks import BasicConv2d, Block8, Block17, Block35, Mixed5b, ReductionA, ReductionB, Stem
from .card import MODEL_CARD_TEMPLATE, model_card_fields
from .labels import EMOTIONS

MIN_IMAGE_SIZE_PX = 75  # smallest input the valid-padded stem and two reductions can take
MAX_NUM_CLASSES = 1001  # the TF-slim ImageNet head (1000 classes + background)
MAX_SHARD_SIZE = "45MB"  # every weight file stays under the 50 MB git/Spaces limit
PAPER_BLOCK_REPEATS = (5, 10, 5)  # figure 15 of the paper
RELEASED_BLOCK_REPEATS = (10, 20, 10)  # the released TF-slim / timm model


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
) -> None:
    """Raise a ValueError naming the first config field that is of the wrong type or out of range."""

    def is_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def is_number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    if not is_int(num_classes) or not 1 <= num_classes <= MAX_NUM_CLASSES:
        raise ValueError(f"num_classes: expected an int in 1..{MAX_NUM_CLASSES}, got {num_classes!r}")
    if isinstance(labels, str) or not all(isinstance(label, str) for label in labels) or len(labels) != num_classes:
        raise ValueError(f"labels: expected a list of {num_classes} class names (num_classes), got {labels!r}")
    if not is_int(image_size) or image_size < MIN_IMAGE_SIZE_PX:
        raise ValueError(f"image_size: expected an int >= {MIN_IMAGE_SIZE_PX}, got {image_size!r}")
    if not is_int(in_chans) or in_chans < 1:
        raise ValueError(f"in_chans: expected a positive int, got {in_chans!r}")
    if not is_number(drop_rate) or not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate: expected a float in [0, 1), got {drop_rate!r}")
    if isinstance(block_repeats, str) or len(block_repeats) != 3 or not all(is_int(n) and n > 0 for n in block_repeats):
        raise ValueError(f"block_repeats: expected 3 positive ints (Block35, Block17, Block8), got {block_repeats!r}")
    for name, values in (("mean", mean), ("std", std)):
        if isinstance(values, str) or len(values) != in_chans or not all(is_number(v) for v in values):
            raise ValueError(f"{name}: expected {in_chans} numbers (one per input channel), got {values!r}")
    if any(v <= 0 for v in std):
        raise ValueError(f"std: expected positive numbers, got {std!r}")


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
        _check_config(num_classes, labels, image_size, in_chans, drop_rate, block_repeats, mean, std)
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
        """The mixin's card, filled from this model's config (architecture, labels, metrics, recipe)."""
        return super().generate_model_card(*args, **{**model_card_fields(self.config), **kwargs})

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the weights as safetensors, in shards under 50 MB with an index when the model is larger."""
        save_torch_state_dict(self.state_dict(), save_directory, max_shard_size=MAX_SHARD_SIZE)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> InceptionResNetV2:
        """Load a ``save_pretrained`` folder or a Hub repo id (``PyTorchModelHubMixin.from_pretrained`` arguments).

        Raises ModelLoadError naming the folder or repo when it cannot be found, fetched or read.
        """
        try:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        except ModelLoadError:
            raise
        except (EntryNotFoundError, httpx.HTTPError, OSError, ValueError) as error:  # Hub errors subclass these
            raise ModelLoadError(
                f"{pretrained_model_name_or_path}: not a model folder here and not loadable from the Hugging Face "
                f"Hub ({type(error).__name__}: {error})"
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


def _check_config_keys(config_file: Path, cls: type) -> None:
    """Refuse a config.json with keys this version does not know (a typo, or a model from another library)."""
    if not config_file.is_file():
        return
    known = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    unknown = sorted(set(json.loads(config_file.read_text())) - set(known))
    if unknown:
        raise ModelLoadError(f"{config_file}: unknown keys {unknown}; the keys of this model are {', '.join(known)}")


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a saved model: the single file, or every shard its index names."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        return [single]
    if not index.is_file():
        raise ModelLoadError(
            f"{folder}: no model.safetensors or model.safetensors.index.json; "
            "expected a folder written by save_pretrained (pickled .bin/.pt weights are not loaded)"
        )
    try:
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    except (ValueError, KeyError, AttributeError) as error:
        raise ModelLoadError(f"{index}: not a valid shard index ({error})") from error
    return [folder / shard for shard in shards]


def load_weights(model: nn.Module, folder: Path, strict: bool = True) -> None:
    """Load ``model.safetensors`` (or its shards) from ``folder`` into ``model``, with errors naming the file."""
    for path in _weight_files(folder):
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except (SafetensorError, OSError) as error:
            raise ModelLoadError(f"{path}: not a valid safetensors file ({error}); export it again") from error
    try:
        load_torch_model(model, folder, strict=strict, safe=True)
    except RuntimeError as error:
        raise ModelLoadError(f"{folder}: weights do not fit this model's config.json: {error}") from error
