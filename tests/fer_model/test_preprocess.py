"""The model input: a gray face gives the same tensor as RGB (inference) or as one channel (training)."""

from __future__ import annotations

import numpy as np
import torch

from fer_model.preprocess import eval_transform, ten_crop_transform, train_transform


def test_rgb_and_single_channel_gray_faces_give_the_same_input() -> None:
    """Photos reach the model as RGB, FER2013 training images as one channel: a gray face must not turn darker
    (torchvision's Grayscale on uint8 truncates 100 to 99)."""
    gray = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    one_channel = torch.from_numpy(gray).unsqueeze(0)
    for make in (eval_transform, ten_crop_transform):
        transform = make(80, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
        served, trained = transform(rgb), transform(one_channel)
        assert served.shape == trained.shape
        assert (served - trained).abs().max() < 1e-3
    reference = train_transform(80, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), augment=None)  # training's plain path
    assert (reference(one_channel) - eval_transform(80, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(rgb)).abs().max() < 1e-3
