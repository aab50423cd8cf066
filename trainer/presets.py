"""Named recipes. A checkpoint stores its full config, so it rebuilds even if a preset changes."""

from __future__ import annotations

import copy

from .errors import DigitError

# torchvision's own detection defaults, for the presets that keep them.
_TV_SAMPLING = {
    "rpn_pre_nms_top_n_train": 2000,
    "rpn_pre_nms_top_n_test": 1000,
    "rpn_post_nms_top_n_train": 2000,
    "rpn_post_nms_top_n_test": 1000,
    "rpn_batch_size_per_image": 256,
    "box_batch_size_per_image": 512,
    "box_detections_per_img": 100,
}

PRESETS: dict[str, dict] = {
    # The lab's recipe, kept faithful: MobileNetV2 features (1280 ch), 224x224 squash (which
    # torchvision's own transform then scales to 800), anchors 32..512, ratios 0.5/1/2,
    # AdamW 1e-3 / wd 1e-4, cosine over 60% of the epochs, score threshold 0.8.
    "seed": {
        "arch": "mobilenet_v2",
        "resize": {"mode": "squash", "size": 224},
        "internal_resize": [800, 1333],
        "anchor_sizes": [[32, 64, 128, 256, 512]],
        "aspect_ratios": [[0.5, 1.0, 2.0]],
        "score_thresh": 0.8,
        "box_score_thresh": 0.8,
        "box_nms_thresh": 0.5,
        "sampling": dict(_TV_SAMPLING),
        "augment": False,
        "optimizer": {"lr": 1e-3, "weight_decay": 1e-4},
        "schedule": {"kind": "seed_cosine", "t_max_frac": 0.6, "eta_min": 1e-6, "warmup_iters": 0},
        "epochs": 50,
        "batch_size": 4,
        "min_size_jitter": [],
    },
    # Our recipe for digits: small slim backbone with FPN fused to stride 8, aspect-keeping
    # resize to an 80 px short side (SVHN digits are 55-70% of the image height), tall anchors
    # (median digit h/w is 2.0, 5-95% 1.3-3.5) sized 10..56, cheap RoI/RPN sampling.
    "default": {
        "arch": "digitnet",
        "width": 1.0,
        "resize": {"mode": "keep", "min_size": 80, "max_size": 320},
        "internal_resize": None,
        "anchor_sizes": [[10, 14, 20, 28, 40, 56]],
        "aspect_ratios": [[1.4, 2.0, 3.0]],
        "score_thresh": 0.5,
        "box_score_thresh": 0.05,
        "box_nms_thresh": 0.45,
        "sampling": {
            "rpn_pre_nms_top_n_train": 600,
            "rpn_pre_nms_top_n_test": 300,
            "rpn_post_nms_top_n_train": 150,
            "rpn_post_nms_top_n_test": 100,
            "rpn_batch_size_per_image": 128,
            "box_batch_size_per_image": 64,
            "box_detections_per_img": 30,
        },
        "augment": True,
        # A third of the samples are new numbers joined from one-digit slices of the training
        # photos, and widths are stretched 0.8-1.25x: the real photos are few, and a detector
        # trained on them alone learns each photo rather than its digits.
        "recompose": 0.35,
        "stretch": [0.8, 1.25],
        # A quarter of the samples put the number, 10-44 px tall, into a larger scene built from
        # other training photos with their digits painted over (trainer/scenes.py): whole photos
        # are read by finding small digits in tiles, which crops alone never teach.
        "scene": 0.25,
        # Share of the samples that are printed numbers (bibs, plates, labels, meters) in the
        # package's fonts, with letters and words around them that are not digits
        # (trainer/printed.py). 0 keeps the models trained before it reproducible.
        "printed": 0.0,
        # A twelfth class, "text": the letters of printed samples are labelled as text, so a
        # letter beside a number ("S0374") is learned as a thing of its own, not as background a
        # digit-like shape may win over. The model never reports it: a digit on the spot of a
        # surer text detection is dropped with it (trainer.model.VotingRoIHeads).
        "text_class": False,
        "optimizer": {"lr": 2e-3, "weight_decay": 0.05},
        "schedule": {"kind": "warmup_cosine", "warmup_iters": 200, "eta_min": 1e-5},
        "epochs": 60,
        "batch_size": 16,
        "min_size_jitter": [64, 72, 80, 88, 96, 104],
        # After training, the input short side is chosen among these on the held-out photos.
        "test_sizes": [80, 96, 112, 128],
    },
}

for _name, _arch in (
    ("mobilenet_v3_large_fpn", "mobilenet_v3_large_fpn"),
    ("mobilenet_v3_small_fpn", "mobilenet_v3_small_fpn"),
    ("resnet50_fpn", "resnet50_fpn"),
):
    PRESETS[_name] = {
        "arch": _arch,
        "resize": {"mode": "keep", "min_size": 320, "max_size": 800},
        "internal_resize": None,
        "anchor_sizes": [[16, 24, 32]] * 3 if "mobilenet" in _arch else [[16], [32], [64], [128], [256]],
        "aspect_ratios": [[1.0, 2.0, 3.0]] * (3 if "mobilenet" in _arch else 5),
        "score_thresh": 0.5,
        "box_score_thresh": 0.05,
        "box_nms_thresh": 0.5,
        "sampling": dict(_TV_SAMPLING),
        "augment": True,
        "optimizer": {"lr": 1e-3, "weight_decay": 1e-4},
        "schedule": {"kind": "warmup_cosine", "warmup_iters": 200, "eta_min": 1e-6},
        "epochs": 30,
        "batch_size": 8,
        "min_size_jitter": [256, 288, 320, 352, 384],
    }


def get_preset(name: str) -> dict:
    """A deep copy of a preset's config (safe to modify)."""
    if name not in PRESETS:
        raise DigitError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[name])
    cfg["preset"] = name
    return cfg
