"""The architecture: parameter count, shapes, residual scaling, config checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fer_model import EMOTIONS, InceptionResNetV2
from fer_model.blocks import PAPER_BLOCK_REPEATS, Block35, LambdaScale, PointwiseConv2d

TIMM_PARAMS_7_CLASSES = 54_317_223  # timm.create_model("inception_resnet_v2", num_classes=7)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_released_model_has_timms_parameter_count_and_labels() -> None:
    model = InceptionResNetV2(num_classes=7)
    assert count(model) == TIMM_PARAMS_7_CLASSES
    assert model.labels == list(EMOTIONS)
    assert len(model.block35) == 10 and len(model.block17) == 20 and len(model.block8) == 10


def test_paper_schema_5_10_5_is_selectable_and_smaller() -> None:
    model = InceptionResNetV2(block_repeats=PAPER_BLOCK_REPEATS)
    assert (len(model.block35), len(model.block17), len(model.block8)) == (5, 10, 5)
    assert 30_000_000 < count(model) < TIMM_PARAMS_7_CLASSES


@pytest.mark.parametrize("size", [75, 96, 131])
def test_any_input_of_at_least_75_px_gives_logits(tiny_model: InceptionResNetV2, size: int) -> None:
    with torch.inference_mode():
        logits = tiny_model(torch.randn(2, 3, size, size))
    assert logits.shape == (2, 7)
    assert torch.isfinite(logits).all()


def test_input_below_75_px_is_a_clear_error(tiny_model: InceptionResNetV2) -> None:
    with pytest.raises(ValueError, match=r"74x80 px.*at least 75x75"):
        tiny_model(torch.randn(1, 3, 74, 80))


def test_features_and_pre_logits_shapes(tiny_model: InceptionResNetV2) -> None:
    with torch.inference_mode():
        features = tiny_model.forward_features(torch.randn(1, 3, 299, 299))
        embedding = tiny_model.forward_head(features, pre_logits=True)
    assert features.shape == (1, 1536, 8, 8)
    assert embedding.shape == (1, 1536)


@pytest.mark.parametrize("num_classes", [1, 1001])
def test_class_count_bounds(num_classes: int) -> None:
    model = InceptionResNetV2(num_classes=num_classes, block_repeats=(1, 1, 1))
    assert model.classifier.out_features == num_classes
    assert len(model.labels) == num_classes


def test_residual_branch_is_scaled_and_added_back() -> None:
    torch.manual_seed(0)
    block = Block35(scale=0.17).eval()
    x = torch.randn(1, 320, 9, 9)
    with torch.inference_mode():
        branch = block.up(torch.cat([block.branch0(x), block.branch1(x), block.branch2(x)], 1))
        expected = torch.relu(x + 0.17 * branch)
        assert torch.allclose(block(x), expected, atol=1e-6)
        block.scale = LambdaScale(0.0)
        assert torch.allclose(block(x), torch.relu(x))


def test_repeated_blocks_have_their_own_weights() -> None:
    model = InceptionResNetV2(block_repeats=(3, 2, 2))
    pointers = {block.up.weight.data_ptr() for block in model.block35}
    assert len(pointers) == 3
    assert not torch.equal(model.block35[0].up.weight, model.block35[1].up.weight)


def test_last_block8_has_no_relu_and_unit_scale() -> None:
    model = InceptionResNetV2(block_repeats=(1, 1, 3))
    assert [b.scale.scale for b in model.block8] == [0.2, 0.2, 1.0]
    assert isinstance(model.block8[-1].relu, torch.nn.Identity)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 1002}, "num_classes"),
        ({"num_classes": "7"}, "num_classes"),
        ({"labels": ["a", "b"]}, "labels"),
        ({"image_size": 74}, "image_size"),
        ({"block_repeats": (1, 1)}, "block_repeats"),
        ({"mean": (0.5,)}, "mean"),
        ({"std": (0.5, 0.5, 0.0)}, "std"),
        ({"drop_rate": 1.5}, "drop_rate"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InceptionResNetV2(**kwargs)


def test_pointwise_conv_is_a_1x1_convolution_forward_and_backward() -> None:
    """The channels_last matmul path gives the convolution's outputs and gradients, with the same weight keys."""
    torch.manual_seed(0)
    reference, pointwise = nn.Conv2d(16, 24, kernel_size=1), PointwiseConv2d(16, 24)
    pointwise.load_state_dict(reference.state_dict())
    for height in (5, 1):
        x = torch.randn(3, 16, height, height).contiguous(memory_format=torch.channels_last)
        inputs = [x.clone().requires_grad_(True) for _ in range(2)]
        outputs = [reference(inputs[0]), pointwise(inputs[1])]
        assert outputs[1].is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(outputs[1], outputs[0])
        for output in outputs:
            (output * torch.arange(24.0).view(1, 24, 1, 1)).sum().backward()
        # Gradients sum over the batch and pixels in a kernel-dependent order: AVX2 and AVX512 kernels differ by a few
        # fp32 ulps of the sum (seen: 3.6e-5 absolute on values near 20, relative 2e-6), so allow 1e-5 relative.
        torch.testing.assert_close(inputs[1].grad, inputs[0].grad, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(pointwise.weight.grad, reference.weight.grad, rtol=1e-5, atol=1e-4)
        reference.zero_grad()
        pointwise.zero_grad()
