"""timm's inception_resnet_v2 weights map exactly onto ours."""

from __future__ import annotations

import pytest
import torch

from fer_model import InceptionResNetV2
from fer_model.timm_weights import convert_timm_state_dict

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def models() -> tuple[torch.nn.Module, InceptionResNetV2]:
    torch.manual_seed(0)
    reference = timm.create_model("inception_resnet_v2", pretrained=False, num_classes=7).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong mapping cannot hide behind identity BNs
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    ours = InceptionResNetV2(num_classes=7).eval()
    ours.load_state_dict(convert_timm_state_dict(reference.state_dict()), strict=True)
    return reference, ours


@pytest.mark.parametrize("size", [299, 107])
def test_mapped_timm_weights_give_the_same_outputs(models: tuple, size: int) -> None:
    reference, ours = models
    x = torch.randn(2, 3, size, size)
    with torch.inference_mode():
        assert (reference(x) - ours(x)).abs().max().item() < 1e-5


def test_tf_slim_port_names_map_too() -> None:
    state = {"last_linear.weight": torch.zeros(7, 1536), "repeat_2.0.conv2d.bias": torch.zeros(2080)}
    assert set(convert_timm_state_dict(state, block8_repeats=10)) == {"classifier.weight", "block8.0.up.bias"}
