"""Key map from timm's ``inception_resnet_v2`` (and the TF-slim port it came from) onto InceptionResNetV2."""

from __future__ import annotations

import re

import torch

# timm/TF-slim top-level name -> ours; "block8." (the final, un-activated block) is handled separately.
_PREFIXES = {
    "conv2d_1a.": "stem.conv2d_1a.",
    "conv2d_2a.": "stem.conv2d_2a.",
    "conv2d_2b.": "stem.conv2d_2b.",
    "conv2d_3b.": "stem.conv2d_3b.",
    "conv2d_4a.": "stem.conv2d_4a.",
    "mixed_5b.": "mixed_5b.",
    "repeat.": "block35.",
    "mixed_6a.": "reduction_a.",
    "repeat_1.": "block17.",
    "mixed_7a.": "reduction_b.",
    "repeat_2.": "block8.",
    "conv2d_7b.": "conv2d_7b.",
    "classif.": "classifier.",
    "last_linear.": "classifier.",
}
_RESIDUAL_PROJECTION = re.compile(r"^(block35|block17|block8)\.(\d+)\.conv2d\.")


def convert_timm_state_dict(state_dict: dict[str, torch.Tensor], block8_repeats: int = 10) -> dict[str, torch.Tensor]:
    """Rename a timm/TF-slim state_dict to our keys (the residual 1x1 ``conv2d`` is our ``up``)."""
    converted = {}
    for key, value in state_dict.items():
        if key.startswith("block8."):
            new_key = f"block8.{block8_repeats - 1}." + key.removeprefix("block8.")
        else:
            prefix = next((p for p in _PREFIXES if key.startswith(p)), None)
            if prefix is None:
                raise KeyError(f"{key}: not an inception_resnet_v2 weight (timm or TF-slim port)")
            new_key = _PREFIXES[prefix] + key.removeprefix(prefix)
        converted[_RESIDUAL_PROJECTION.sub(r"\1.\2.up.", new_key)] = value
    return converted

