"""``python -m trainer export-onnx``: the file onnxruntime runs gives the PyTorch model's boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms.functional import pil_to_tensor

from trainer.__main__ import main
from trainer.imageio import list_images, load_rgb
from trainer.onnx_export import exportable_detector

from .conftest import SVHN

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(onnxruntime session, the PyTorch module it was exported from, score threshold)."""
    out = tmp_path_factory.mktemp("onnx") / "default.onnx"
    assert main(["export-onnx", "--model", "default", "--out", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    net, _cfg, blob = exportable_detector("default")
    meta = session.get_modelmeta().custom_metadata_map
    assert float(meta["score_thresh"]) == pytest.approx(float(blob["score_thresh"]))
    return session, net, float(blob["score_thresh"])


def _both(exported, image: torch.Tensor):
    """Detections at the model's threshold from onnxruntime and from PyTorch, as (boxes, labels)."""
    session, net, thr = exported
    boxes, labels, scores = session.run(None, {"image": image.numpy()})
    with torch.no_grad():
        ref = [t.numpy() for t in net(image)]
    got = (boxes[scores >= thr], labels[scores >= thr])
    want = (ref[0][ref[2] >= thr], ref[1][ref[2] >= thr])
    return got, want


def _assert_same(got, want, max_px: float = 1.0) -> float:
    """Same digits (category ids) and boxes within ``max_px``; returns the largest difference."""
    (gb, gl), (wb, wl) = got, want
    assert gl.tolist() == wl.tolist()
    if not len(wb):
        return 0.0
    worst = float(np.abs(gb - wb).max())
    assert worst <= max_px
    return worst


@pytest.mark.slow
@pytest.mark.svhn
def test_onnx_boxes_match_pytorch_on_20_valid_photos(exported):
    if not (SVHN / "valid").is_dir():
        pytest.skip("../shared/data/svhn is not present")
    paths = list_images(SVHN / "valid")[:20]
    found = 0
    for p in paths:
        img = load_rgb(p)
        got, want = _both(exported, pil_to_tensor(img).float() / 255.0)
        _assert_same(got, want)
        found += len(want[1])
        # boxes are in the pixels of the photo given (the graph resizes inside)
        if len(got[0]):
            assert got[0][:, 2].max() <= img.width and got[0][:, 3].max() <= img.height
    assert found >= 30  # the photos hold digits, and both found them


def test_onnx_takes_any_image_size_and_empty_results(exported):
    session = exported[0]
    torch.manual_seed(3)
    for h, w in ((37, 73), (131, 59), (400, 640)):
        got, want = _both(exported, torch.rand(3, h, w))
        _assert_same(got, want)
    blank = torch.full((3, 50, 90), 0.5)
    boxes, labels, scores = session.run(None, {"image": blank.numpy()})
    assert boxes.shape == (0, 4) and labels.shape == (0,) and scores.shape == (0,)


def test_export_never_replaces_a_file_unasked_and_refuses_a_non_model(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"mine")
    assert main(["export-onnx", "--model", "default", "--out", str(out)]) == 2
    assert "exists; choose another --out or pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"
    (tmp_path / "x.pt").write_text("not a model")
    assert main(["export-onnx", "--model", str(tmp_path / "x.pt"), "--out", str(tmp_path / "y.onnx")]) == 2
    assert "not a Digit Studio model" in capsys.readouterr().err
    assert main(["export-onnx", "--model", "default", "--out", str(tmp_path / "z.onnx"), "--opset", "9"]) == 2
    assert "needs opset 11 or later" in capsys.readouterr().err
