"""Detector construction and checkpoints (saved with their config; loaded weights-only)."""

from __future__ import annotations

import logging
import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small, resnet50
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import _mobilenet_extractor, _resnet_fpn_extractor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops import boxes as box_ops

from .data import NUM_CLASSES
from .errors import CheckpointError, NoDefaultModelError
from .fileio import atomic_write
from .paths import BUNDLED_MODELS

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "digit-detector"
CHECKPOINT_VERSION = 1


class _KeepSizeTransform(GeneralizedRCNNTransform):
    """Normalise and batch only: resizing is done outside the model, with exact box mapping."""

    def resize(self, image, target=None):  # noqa: D102 - identity on purpose
        return image, target


def batch_key(model: nn.Module, image: torch.Tensor) -> tuple[int, int]:
    """Images of one key are padded to the same shape when batched together, so each reads
    exactly as it would alone. torchvision pads a batch to its largest image (black, right and
    bottom); a digit at the edge of a narrow crop then reads differently beside a wide one."""
    h, w = image.shape[-2:]
    transform = getattr(getattr(model, "module", model), "transform", None)
    if isinstance(transform, _KeepSizeTransform):
        d = transform.size_divisible
        return -(-h // d), -(-w // d)
    return h, w  # resized inside the model (or unknown): only equal inputs are sure to pad alike


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class _Block(nn.Module):
    """Residual basic block (two 3x3 convs), optional stride-2 entry."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.a = _conv_bn(cin, cout, stride)
        self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x):
        return torch.relu(self.b(self.a(x)) + self.skip(x))


class DigitNet(nn.Module):
    """Slim residual backbone whose FPN fuses strides 8/16/32 into one stride-8 map.

    Digits in an 80 px tall image are 15-70 px tall: stride 8 gives several cells per digit,
    and the top-down path brings in the context of the deeper stages.
    """

    def __init__(self, width: float = 1.0, out_channels: int = 128) -> None:
        super().__init__()
        c = [max(8, int(v * width)) for v in (32, 48, 96, 192, 256)]
        self.stem = nn.Sequential(_conv_bn(3, c[0], 2), _conv_bn(c[0], c[0]))
        self.s2 = _Block(c[0], c[1], 2)
        self.s3 = nn.Sequential(_Block(c[1], c[2], 2), _Block(c[2], c[2], 1))
        self.s4 = nn.Sequential(_Block(c[2], c[3], 2), _Block(c[3], c[3], 1))
        self.s5 = _Block(c[3], c[4], 2)
        self.fpn = FeaturePyramidNetwork([c[2], c[3], c[4]], out_channels)
        self.out_channels = out_channels

    def forward(self, x):
        c3 = self.s3(self.s2(self.stem(x)))
        c4 = self.s4(c3)
        c5 = self.s5(c4)
        feats = self.fpn(OrderedDict([("0", c3), ("1", c4), ("2", c5)]))
        return OrderedDict([("0", feats["0"])])


# Box voting: each detection's box becomes the score-weighted mean of the boxes that all proposals
# regress for its digit where they overlap it by at least this IoU. NMS keeps one proposal's box;
# the mean of its neighbours sits closer to the digit (held-out mAP 0.488 -> 0.498 for model
# v2, AP75 0.43 -> 0.48).
BOX_VOTE_IOU = 0.8


# A model with a text class reports no text: its text detections are dropped, and with them any
# digit detection they cover at least this much (IoU) with a score above TEXT_SUPPRESS_RATIO
# times the digit's: on a letter's spot a fair belief in a letter outweighs a surer-looking digit
# that the letter half resembles (an "S" read as 5). Chosen on 400 held-out printed synthetic
# photos (`synth --kind printed --seed 90211 --count 400`) and the 362 held-out SVHN train photos:
# printed_v10 0.7275 at 0.3, 0.7375 at 0.45, 0.76 at 0.6 and 0.75, 0.7525 at 0.9, 0.7475 at 1.0
# (SVHN 0.8895 at 0.3, 0.8923 from 0.45 up); printed_v9 0.6975 / 0.715 / 0.7125 / 0.71 at
# 0.3 / 0.6 / 0.75 / 1.0. (0.3 was chosen with printed_v8 and the generator of the time.)
TEXT_SUPPRESS_IOU = 0.5
TEXT_SUPPRESS_RATIO = 0.6


def num_classes(cfg: dict) -> int:
    """Classes of a config's box predictor: background, the ten digits, and text if it has one."""
    return NUM_CLASSES + (1 if cfg.get("text_class") else 0)


class VotingRoIHeads(RoIHeads):
    """torchvision's RoI heads with box voting after NMS, and a text class taken out of the
    results (inference only; training is unchanged)."""

    vote_iou: float = BOX_VOTE_IOU
    text_label: int | None = None  # the text class's label in a model that has one

    def postprocess_detections(self, class_logits, box_regression, proposals, image_shapes):
        boxes, scores, labels = super().postprocess_detections(
            class_logits, box_regression, proposals, image_shapes
        )
        if self.vote_iou >= 1.0:
            return boxes, scores, labels
        # every proposal's box and score for every digit (torchvision keeps only the NMS winners)
        all_boxes = self.box_coder.decode(box_regression, proposals)
        all_scores = torch.softmax(class_logits, -1)
        if len(proposals) > 1:
            per_image = [len(p) for p in proposals]
            all_boxes, all_scores = all_boxes.split(per_image, 0), all_scores.split(per_image, 0)
        else:  # one image: no split, whose sizes a traced (ONNX) graph would keep as constants
            all_boxes, all_scores = [all_boxes], [all_scores]
        tracing = torch.jit.is_tracing()  # a traced graph votes always (no branch on the count)
        voted = [
            self._vote(b, lab, box_ops.clip_boxes_to_image(ab, shape), sc) if tracing or len(b) else b
            for b, lab, ab, sc, shape in zip(boxes, labels, all_boxes, all_scores, image_shapes)
        ]
        if self.text_label is None:
            return voted, scores, labels
        kept = [self._without_text(b, s, lab) for b, s, lab in zip(voted, scores, labels)]
        return [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]

    def _without_text(self, boxes, scores, labels):
        """Digits only: text detections dropped, with the digits a fairly sure one covers."""
        text = labels == self.text_label
        iou = box_ops.box_iou(boxes, boxes)
        surer = scores[None, :] > TEXT_SUPPRESS_RATIO * scores[:, None]
        covered = (iou >= TEXT_SUPPRESS_IOU) & text[None, :] & surer
        keep = ~text & ~covered.any(1)
        return boxes[keep], scores[keep], labels[keep]

    def _vote(self, kept, labels, boxes, scores):
        """(K, 4) kept boxes moved to the weighted mean of their digit's overlapping boxes."""
        cand = boxes[:, labels].permute(1, 0, 2)  # (K, P, 4): every proposal's box for each digit
        weight = scores[:, labels].T  # (K, P)
        x1 = torch.maximum(kept[:, None, 0], cand[..., 0])
        y1 = torch.maximum(kept[:, None, 1], cand[..., 1])
        x2 = torch.minimum(kept[:, None, 2], cand[..., 2])
        y2 = torch.minimum(kept[:, None, 3], cand[..., 3])
        inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
        area_k = (kept[:, 2] - kept[:, 0]) * (kept[:, 3] - kept[:, 1])
        area_c = (cand[..., 2] - cand[..., 0]) * (cand[..., 3] - cand[..., 1])
        iou = inter / (area_k[:, None] + area_c - inter).clamp(min=1e-9)
        weight = torch.where(iou >= self.vote_iou, weight, torch.zeros_like(weight))
        total = weight.sum(1, keepdim=True)
        voted = (cand * weight[..., None]).sum(1) / total.clamp(min=1e-12)
        return torch.where(total > 0, voted, kept)


def _load_backbone_weights(body: nn.Module, path: str | os.PathLike) -> None:
    """Load a local torchvision backbone/classifier state dict into ``body`` by key matching."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "not a state dict"
        raise CheckpointError(f"cannot read backbone weights {path}: {exc}") from None
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise CheckpointError(f"{path} is not a state dict")
    own = body.state_dict()
    matched = {}
    for key, val in sd.items():
        for cand in (key, key.removeprefix("features."), key.removeprefix("backbone.")):
            if cand in own and own[cand].shape == val.shape:
                matched[cand] = val
                break
    if len(matched) < 0.5 * len(own):
        raise CheckpointError(
            f"{path} does not fit this backbone ({len(matched)} of {len(own)} tensors match)"
        )
    body.load_state_dict(matched, strict=False)
    log.info("loaded %d backbone tensors from %s", len(matched), path)


def build_detector(cfg: dict, backbone_weights: str | None = None) -> FasterRCNN:
    """Build the Faster R-CNN described by a preset config (random init unless weights given)."""
    arch = cfg["arch"]
    anchors = AnchorGenerator(
        tuple(tuple(s) for s in cfg["anchor_sizes"]),
        tuple(tuple(r) for r in cfg["aspect_ratios"]),
    )
    s = cfg["sampling"]
    kw: dict[str, Any] = dict(
        num_classes=num_classes(cfg),
        rpn_anchor_generator=anchors,
        box_score_thresh=cfg["box_score_thresh"],
        box_nms_thresh=cfg["box_nms_thresh"],
        **s,
    )
    if arch == "mobilenet_v2":
        body = mobilenet_v2().features
        body.out_channels = 1280
        if backbone_weights:
            _load_backbone_weights(body, backbone_weights)
        model = FasterRCNN(body, **kw)
    elif arch == "digitnet":
        body = DigitNet(cfg.get("width", 1.0))
        if backbone_weights:
            _load_backbone_weights(body, backbone_weights)
        pool = MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2)
        rep = 256
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead

        model = FasterRCNN(
            body,
            box_roi_pool=pool,
            box_head=TwoMLPHead(body.out_channels * 49, rep),
            box_predictor=FastRCNNPredictor(rep, num_classes(cfg)),
            **{k: v for k, v in kw.items() if k != "num_classes"},
            num_classes=None,
        )
    elif arch in ("mobilenet_v3_large_fpn", "mobilenet_v3_small_fpn", "resnet50_fpn"):
        if arch == "resnet50_fpn":
            bb = _resnet_fpn_extractor(resnet50(), 5)
        else:
            net = mobilenet_v3_large() if arch == "mobilenet_v3_large_fpn" else mobilenet_v3_small()
            bb = _mobilenet_extractor(net, True, 6)
        if backbone_weights:
            _load_backbone_weights(bb.body, backbone_weights)
        model = FasterRCNN(bb, **kw)
    else:
        raise CheckpointError(f"unknown architecture {arch!r}")
    model.roi_heads.__class__ = VotingRoIHeads  # same state, voting added to inference
    model.roi_heads.vote_iou = float(cfg.get("box_vote_iou", BOX_VOTE_IOU))
    model.roi_heads.text_label = NUM_CLASSES if cfg.get("text_class") else None
    if cfg.get("internal_resize"):
        lo, hi = cfg["internal_resize"]
        model.transform = GeneralizedRCNNTransform(
            lo, hi, model.transform.image_mean, model.transform.image_std
        )
    else:
        model.transform = _KeepSizeTransform(
            1, 1, model.transform.image_mean, model.transform.image_std, size_divisible=32
        )
    return model


def warm_start(model: FasterRCNN, source: FasterRCNN) -> None:
    """Copy ``source``'s weights into ``model`` of the same config, where ``model`` may have the
    text class ``source`` lacks: its classifier row starts as the background's, a little less
    likely, and its box regressor as the mean of the digits', so the model reads as before
    until it learns text."""
    own, src = model.state_dict(), source.state_dict()
    merged = {}
    for key, val in src.items():
        mine = own[key]
        if mine.shape == val.shape:
            merged[key] = val
        elif key.endswith("cls_score.weight") or key.endswith("cls_score.bias"):
            extra = val[:1] - (3.0 if key.endswith("bias") else 0.0)
            merged[key] = torch.cat([val, extra.expand(mine.shape[0] - val.shape[0], *val.shape[1:])])
        elif key.endswith("bbox_pred.weight") or key.endswith("bbox_pred.bias"):
            digits = val[4:].reshape(-1, 4, *val.shape[1:]).mean(0)
            n_new = (mine.shape[0] - val.shape[0]) // 4
            merged[key] = torch.cat([val] + [digits] * n_new)
        else:
            raise CheckpointError(f"cannot start from a model whose {key} is {tuple(val.shape)}")
    model.load_state_dict(merged)


# ---------------------------------------------------------------- checkpoints


CHECKPOINT_OWN = ("format", "version", "preset", "config", "model")  # what save_checkpoint writes itself


def checkpoint_extras(blob: dict) -> dict:
    """A checkpoint's metadata beyond what :func:`save_checkpoint` writes itself (threshold,
    card, metrics...): pass it back as ``**extra`` to rewrite the checkpoint with it kept."""
    return {k: v for k, v in blob.items() if k not in CHECKPOINT_OWN}


def save_checkpoint(path: str | os.PathLike, model: nn.Module, cfg: dict, **extra: Any) -> None:
    """Atomically write a checkpoint: weights + config + metadata (+ optional training state)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(model, "module", model)
    half = extra.pop("half", False)
    state = module.state_dict()
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    blob = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "preset": cfg.get("preset"),
        "config": cfg,
        "model": state,
        **extra,
    }
    atomic_write(path, lambda f: torch.save(blob, f))


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """``None``/"default" -> the bundled default model, "printed" -> the bundled printed-numbers
    model (:data:`~trainer.paths.BUNDLED_MODELS`); anything else is a file path."""
    name = "default" if model is None else str(model)
    if name in BUNDLED_MODELS:
        path = BUNDLED_MODELS[name]
        if not path.is_file():
            raise NoDefaultModelError(
                f"no {name} model is bundled (expected {path}); "
                "train one with `python -m trainer train` and pass --model PATH"
            )
        return path
    p = Path(model)
    if not p.is_file():
        raise CheckpointError(f"model file not found: {p}")
    return p


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and check a checkpoint file (weights_only: a model file is data, not code).

    Anything else raises :class:`CheckpointError` "not a Digit Studio model: FILE (cause)", the
    cause in one line of our own (PyTorch's own text advises loading untrusted files as code).
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # PyTorch warns about pickle protocols with its own advice
            warnings.simplefilter("ignore")
            blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"model file not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - pickle/zip errors of every kind
        raise CheckpointError(f"not a Digit Studio model: {path} ({_load_failure(path, exc)})") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        what = "a dictionary" if isinstance(blob, dict) else f"a {type(blob).__name__}"
        raise CheckpointError(
            f"not a Digit Studio model: {path} (a PyTorch file holding {what} without the "
            f"'format': '{CHECKPOINT_FORMAT}' of a Digit Studio checkpoint)"
        )
    if blob.get("version", 0) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} was written by a newer version of this tool")
    return blob


def _load_failure(path: Path, exc: Exception) -> str:
    """Why ``torch.load`` refused ``path``, in one line (never PyTorch's advice text)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"
    if not head:
        return "the file is empty"
    if head.startswith(b"PK\x03\x04"):
        if "Weights only load failed" in str(exc):
            return (
                "a PyTorch file holding Python objects, which are not loaded: a model file is data, not code"
            )
        return "a zip archive, but not one PyTorch wrote"
    if head[:1] == b"\x80":
        return "a Python pickle, not a PyTorch checkpoint: pickled objects are not loaded, a model is data"
    if head[:1] == b"\x08" and (b"pytorch" in head or b"onnx" in head.lower()):
        return "an ONNX file; Digit Studio reads its own .pt checkpoints"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"the file's {_size_text(path)} are not a PyTorch checkpoint"
    first = " ".join(text.split())[:40]
    return f"a text file starting {first!r}, not a PyTorch checkpoint"


def _size_text(path: Path) -> str:
    try:
        n = path.stat().st_size
    except OSError:
        return "bytes"
    return f"{n} bytes" if n < 10_000 else f"{n / 1e6:.1f} MB"


def load_detector(
    path: str | os.PathLike | None, expect_preset: str | None = None
) -> tuple[FasterRCNN, dict, dict]:
    """Rebuild a detector from a checkpoint. Returns (model in eval mode, config, checkpoint)."""
    path = resolve_model_path(path)
    blob = read_checkpoint(path)
    cfg = blob["config"]
    if expect_preset and blob.get("preset") != expect_preset:
        raise CheckpointError(f"{path} holds a '{blob.get('preset')}' model, not a '{expect_preset}' one")
    model = build_detector(cfg)
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["model"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not match its declared preset: {exc}") from None
    model.eval()
    return model, cfg, blob
