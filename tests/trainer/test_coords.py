"""Boxes go back to original pixels exactly, for both resize modes."""

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.predict import Predictor
from trainer.presets import get_preset
from trainer.transforms import boxes_to_original, resize, target_size


@pytest.mark.parametrize("size", [(37, 91), (400, 120), (95, 42), (1000, 30)])
@pytest.mark.parametrize("preset", ["default", "seed"])
def test_resize_round_trip(size, preset):
    spec = get_preset(preset)["resize"]
    boxes = np.array([[3.5, 2.0, 20.25, 29.0], [0, 0, size[0], size[1]]], np.float32)
    img = Image.new("RGB", size)
    small, sboxes, scale = resize(img, boxes.copy(), spec)
    assert small.size == target_size(*size, spec)
    back = boxes_to_original(sboxes, scale, size)
    np.testing.assert_allclose(back, boxes, atol=1e-3)


def test_keep_mode_keeps_aspect_and_limits_long_side():
    spec = {"mode": "keep", "min_size": 80, "max_size": 320}
    assert target_size(100, 50, spec) == (160, 80)
    assert target_size(1000, 50, spec) == (320, 16)
    assert target_size(224, 224, {"mode": "squash", "size": 224}) == (224, 224)


class _EchoModel(torch.nn.Module):
    """Returns, for each input tensor, one box covering its middle (in the resized frame)."""

    def forward(self, images):
        out = []
        for t in images:
            h, w = t.shape[-2:]
            out.append(
                {
                    "boxes": torch.tensor([[w * 0.25, h * 0.1, w * 0.75, h * 0.9]]),
                    "scores": torch.tensor([0.9]),
                    "labels": torch.tensor([4]),
                }
            )
        return out


@pytest.mark.parametrize("preset", ["default", "seed"])
def test_predictor_maps_boxes_to_original_pixels(preset):
    cfg = get_preset(preset)
    pred = Predictor.from_model(_EchoModel(), cfg, torch.device("cpu"), 0.5, batch_size=3)
    sizes = [(200, 60), (33, 47), (512, 100), (90, 90)]
    results = pred.predict_images([Image.new("RGB", s) for s in sizes])
    for (w, h), r in zip(sizes, results):
        assert (r.width, r.height) == (w, h)
        np.testing.assert_allclose(r.boxes[0], [w * 0.25, h * 0.1, w * 0.5, h * 0.8], rtol=1e-4)
        assert r.digits.tolist() == [3]
