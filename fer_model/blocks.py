"""The building blocks of Inception-ResNet-V2 (Szegedy et al. 2016, figures 3, 5, 7, 16-19), one module each.

Channel counts follow the released TF-slim model (and timm's port), so its weights map one to one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # the value the released TF-slim model was trained with
PAPER_BLOCK_REPEATS = (5, 10, 5)  # Block35/Block17/Block8 repeats in figure 15 of the paper
RELEASED_BLOCK_REPEATS = (10, 20, 10)  # ... and in the released TF-slim / timm model


class PointwiseConv2d(nn.Conv2d):
    """A 1x1 convolution. On channels_last memory it runs as a matmul over the channel axis: the same weights and
    result, and oneDNN trains it 1.5-4x faster than its 1x1 convolution kernels on this network's small feature maps.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_contiguous(memory_format=torch.channels_last) and not torch.onnx.is_in_onnx_export():
            return F.linear(x.permute(0, 2, 3, 1), self.weight.flatten(1), self.bias).permute(0, 3, 1, 2)
        return super().forward(x)


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm -> ReLU, the unit every Inception branch is made of."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        pointwise = kernel_size in (1, (1, 1)) and stride == 1 and padding in (0, (0, 0))
        self.conv = (
            PointwiseConv2d(in_channels, out_channels, bias=False) if pointwise
            else nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class LambdaScale(nn.Module):
    """Multiplies the residual branch by a constant before it is added back (paper section 3.3)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class Stem(nn.Module):
    """The stem of the released model: 3x299x299 -> 192x35x35 (valid convolutions, so inputs >= 75 px)."""

    def __init__(self, in_chans: int = 3) -> None:
        super().__init__()
        self.conv2d_1a = BasicConv2d(in_chans, 32, kernel_size=3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, kernel_size=3)
        self.conv2d_2b = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, kernel_size=1)
        self.conv2d_4a = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool_3a(self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x))))
        return self.maxpool_5a(self.conv2d_4a(self.conv2d_3b(x)))


class Mixed5b(nn.Module):
    """Inception-A style block that widens the stem output: 192 -> 320 channels at 35x35."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(192, 48, kernel_size=1),
            BasicConv2d(48, 64, kernel_size=5, padding=2),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(192, 64, kernel_size=1),
            BasicConv2d(64, 96, kernel_size=3, padding=1),
            BasicConv2d(96, 96, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
            BasicConv2d(192, 64, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block35(nn.Module):
    """Inception-ResNet-A (figure 16): 320 -> 320 channels at 35x35, residual scaled by 0.17."""

    def __init__(self, scale: float = 0.17) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(320, 32, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(320, 32, kernel_size=1),
            BasicConv2d(32, 32, kernel_size=3, padding=1),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(320, 32, kernel_size=1),
            BasicConv2d(32, 48, kernel_size=3, padding=1),
            BasicConv2d(48, 64, kernel_size=3, padding=1),
        )
        self.up = PointwiseConv2d(128, 320)  # linear 1x1 back to the trunk's width
        self.scale = LambdaScale(scale)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch0(x), self.branch1(x), self.branch2(x)]
        return self.relu(x + self.scale(self.up(torch.cat(branches, 1))))


class ReductionA(nn.Module):
    """Reduction-A (figure 7, k=256 l=256 m=384 n=384; "Mixed_6a"): 320x35x35 -> 1088x17x17."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(320, 384, kernel_size=3, stride=2)
        self.branch1 = nn.Sequential(
            BasicConv2d(320, 256, kernel_size=1),
            BasicConv2d(256, 256, kernel_size=3, padding=1),
            BasicConv2d(256, 384, kernel_size=3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Block17(nn.Module):
    """Inception-ResNet-B (figure 17): 1088 -> 1088 channels at 17x17, residual scaled by 0.10."""

    def __init__(self, scale: float = 0.10) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(1088, 192, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(1088, 128, kernel_size=1),
            BasicConv2d(128, 160, kernel_size=(1, 7), padding=(0, 3)),
            BasicConv2d(160, 192, kernel_size=(7, 1), padding=(3, 0)),
        )
        self.up = PointwiseConv2d(384, 1088)
        self.scale = LambdaScale(scale)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch0(x), self.branch1(x)]
        return self.relu(x + self.scale(self.up(torch.cat(branches, 1))))


class ReductionB(nn.Module):
    """Reduction-B (figure 18; "Mixed_7a"): 1088x17x17 -> 2080x8x8."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(
            BasicConv2d(1088, 256, kernel_size=1),
            BasicConv2d(256, 384, kernel_size=3, stride=2),
        )
        self.branch1 = nn.Sequential(
            BasicConv2d(1088, 256, kernel_size=1),
            BasicConv2d(256, 288, kernel_size=3, stride=2),
        )
        self.branch2 = nn.Sequential(
            BasicConv2d(1088, 256, kernel_size=1),
            BasicConv2d(256, 288, kernel_size=3, padding=1),
            BasicConv2d(288, 320, kernel_size=3, stride=2),
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block8(nn.Module):
    """Inception-ResNet-C (figure 19): 2080 -> 2080 channels at 8x8, residual scaled by 0.20.

    The released model ends with one Block8 that has scale 1.0 and no ReLU (``activate=False``).
    """

    def __init__(self, scale: float = 0.20, activate: bool = True) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(2080, 192, kernel_size=1)
        self.branch1 = nn.Sequential(
            BasicConv2d(2080, 192, kernel_size=1),
            BasicConv2d(192, 224, kernel_size=(1, 3), padding=(0, 1)),
            BasicConv2d(224, 256, kernel_size=(3, 1), padding=(1, 0)),
        )
        self.up = PointwiseConv2d(448, 2080)
        self.scale = LambdaScale(scale)
        self.relu = nn.ReLU(inplace=True) if activate else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch0(x), self.branch1(x)]
        return self.relu(x + self.scale(self.up(torch.cat(branches, 1))))
