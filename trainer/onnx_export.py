"""The detector as an ONNX file, for onnxruntime and the labelling tools that load ONNX models.

The exported graph takes one RGB image as a float tensor ``image`` of shape (3, H, W), values 0..1,
any H and W. It resizes the image as the engine does (the checkpoint's resize spec: short side to
``min_size`` unless the long side would pass ``max_size``, or a square for "squash" models),
normalises it, runs the Faster R-CNN with box voting, and maps the boxes back. Outputs:

- ``boxes`` (N, 4) float: x1, y1, x2, y2 in the pixels of the image given;
- ``labels`` (N,) int64: category id = digit + 1 (1..10), as in the task-1 ``pred.json``;
- ``scores`` (N,) float: every detection down to the model's ``box_score_thresh``; the model's
  threshold for reading a number is in the file's metadata (``score_thresh``).

The engine resizes with PIL outside the model; the graph resizes with bilinear interpolation
inside it, so its boxes can differ from ``python -m trainer predict --scales single`` by a pixel.
Export uses torch's TorchScript-based exporter (opset 11 or later); checking the file needs the
``[onnx]`` extra (onnx, onnxruntime).
"""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from .errors import DigitError
from .fileio import atomic_write_bytes
from .model import load_detector, resolve_model_path

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
MIN_OPSET = 11  # torchvision's detection ops (RoIAlign, NMS, dynamic resize) need 11
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["boxes", "labels", "scores"]


class ImageDetector(nn.Module):
    """One image tensor (3, H, W) in 0..1 -> (boxes xyxy in its pixels, labels, scores)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor):
        out = self.model([image])[0]
        return out["boxes"], out["labels"], out["scores"]


def with_resize(model: nn.Module, cfg: dict) -> nn.Module:
    """``model`` with the engine's resize inside it: a checkpoint's own transform only normalises
    (the predictor resizes outside, with exact box mapping), so it is replaced by torchvision's
    resizing transform, whose postprocess maps boxes back to the input image's pixels."""
    if cfg.get("internal_resize"):
        return model
    spec, old = cfg["resize"], model.transform
    if spec["mode"] == "squash":
        s = int(spec["size"])
        model.transform = GeneralizedRCNNTransform(
            s, s, old.image_mean, old.image_std, size_divisible=32, fixed_size=(s, s)
        )
    else:
        model.transform = GeneralizedRCNNTransform(
            int(spec["min_size"]), int(spec["max_size"]), old.image_mean, old.image_std, size_divisible=32
        )
    return model


def exportable_detector(model_spec: str | os.PathLike | None) -> tuple[ImageDetector, dict, dict]:
    """(the module that is exported, in eval mode; config; checkpoint) of a model file or "default"."""
    model, cfg, blob = load_detector(model_spec)
    return ImageDetector(with_resize(model, cfg)).eval(), cfg, blob


@dataclass
class OnnxExport:
    path: Path
    opset: int
    size_bytes: int
    score_thresh: float
    checked: bool  # the onnx package's checker passed (False when onnx is not installed)


def export_onnx(
    model_spec: str | os.PathLike | None,
    out: str | os.PathLike,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
) -> OnnxExport:
    """Write the detector of ``model_spec`` (a checkpoint or "default") to ``out`` as ONNX."""
    out = Path(out)
    if opset < MIN_OPSET:
        raise DigitError(f"--opset {opset}: the detector needs opset {MIN_OPSET} or later")
    if out.exists() and not overwrite:
        raise DigitError(f"{out} exists; choose another --out or pass --overwrite")
    if out.exists() and out.is_dir():
        raise DigitError(f"{out} is a folder; --out is the .onnx file to write")
    path = resolve_model_path(model_spec)
    net, cfg, blob = exportable_detector(path)
    score_thresh = float(blob.get("score_thresh", cfg.get("score_thresh", 0.5)))
    example = torch.rand(3, 96, 160, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shapes the graph handles dynamically
        try:
            torch.onnx.export(
                net,
                (example,),
                buf,
                opset_version=int(opset),
                dynamo=False,
                input_names=INPUT_NAMES,
                output_names=OUTPUT_NAMES,
                dynamic_axes={
                    "image": {1: "height", 2: "width"},
                    "boxes": {0: "detections"},
                    "labels": {0: "detections"},
                    "scores": {0: "detections"},
                },
            )
        except Exception as exc:  # noqa: BLE001 - exporter failures of every kind become one message
            raise DigitError(f"the model could not be exported to ONNX: {exc}") from None
    data, checked = _with_metadata(buf.getvalue(), path, cfg, blob, score_thresh)
    atomic_write_bytes(out, data)
    log.info("wrote %s (%d bytes, opset %d)", out, len(data), opset)
    return OnnxExport(out, int(opset), len(data), score_thresh, checked)


def _with_metadata(data: bytes, path: Path, cfg: dict, blob: dict, score_thresh: float) -> tuple[bytes, bool]:
    """The file with what a user of it needs to know as metadata, checked by onnx when installed."""
    try:
        import onnx
    except ImportError:
        return data, False
    model = onnx.load_from_string(data)
    meta = {
        "source": path.name,
        "preset": str(blob.get("preset")),
        "input": "image: float32 (3, H, W), RGB, values 0..1",
        "outputs": "boxes (N, 4) x1 y1 x2 y2 in input pixels; labels (N,) = digit + 1; scores (N,)",
        "score_thresh": f"{score_thresh:g}",
        "resize": json.dumps(cfg.get("internal_resize") or cfg["resize"]),
        "names": json.dumps({d + 1: str(d) for d in range(10)}),
    }
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = "digit-studio"
    onnx.checker.check_model(model)
    return model.SerializeToString(), True
