"""Box voting after NMS: the kept box moves to the score-weighted mean of its digit's boxes."""

import torch

from trainer.model import VotingRoIHeads, build_detector
from trainer.presets import get_preset


def heads(vote_iou: float) -> VotingRoIHeads:
    model = build_detector(get_preset("default")).eval()
    rh = model.roi_heads
    assert isinstance(rh, VotingRoIHeads)
    rh.vote_iou = vote_iou
    return rh


def run(rh: VotingRoIHeads, proposals: torch.Tensor, digit_probs: list[float]):
    # zero regression: each proposal's box for every class is the proposal itself
    n = len(proposals)
    logits = torch.full((n, 11), -20.0)
    for i, p in enumerate(digit_probs):
        logits[i, 0] = 0.0  # background
        logits[i, 4] = torch.log(torch.tensor(p / (1 - p)))  # digit 3 (class 4) with probability ~p
    return rh.postprocess_detections(logits, torch.zeros(n, 11 * 4), [proposals], [(100, 130)])


def test_the_kept_box_is_the_weighted_mean_of_the_overlapping_boxes_of_its_digit():
    props = torch.tensor([[10.0, 10, 30, 50], [10, 12, 30, 52], [60, 10, 80, 50]])
    boxes, scores, labels = run(heads(0.8), props, [0.9, 0.6, 0.8])
    (b, s, lab) = boxes[0], scores[0], labels[0]
    assert lab.tolist() == [4, 4] and s[0] > s[1]
    # the first two proposals overlap by IoU 0.9: voted into one box between them
    w = torch.tensor([0.9, 0.6])
    expect = (props[:2] * w[:, None]).sum(0) / w.sum()
    assert torch.allclose(b[0], expect, atol=1e-3)
    assert torch.allclose(b[1], props[2])  # alone: unchanged


def test_without_voting_nms_keeps_the_best_proposal_box():
    props = torch.tensor([[10.0, 10, 30, 50], [10, 12, 30, 52]])
    boxes, _, _ = run(heads(1.0), props, [0.9, 0.6])
    assert torch.allclose(boxes[0][0], props[0])


def text_heads() -> VotingRoIHeads:
    cfg = get_preset("default")
    cfg["text_class"] = True
    rh = build_detector(cfg).eval().roi_heads
    assert rh.text_label == 11 and rh.box_predictor.cls_score.out_features == 12
    return rh


def run_text(rh: VotingRoIHeads, proposals: torch.Tensor, probs: list[tuple[float, float]]):
    """Each proposal: (probability of digit 3, probability of text)."""
    n = len(proposals)
    logits = torch.full((n, 12), -20.0)
    for i, (p_digit, p_text) in enumerate(probs):
        p_bg = 1 - p_digit - p_text
        logits[i, 0] = torch.log(torch.tensor(p_bg))
        logits[i, 4] = torch.log(torch.tensor(p_digit))
        logits[i, 11] = torch.log(torch.tensor(p_text))
    return rh.postprocess_detections(logits, torch.zeros(n, 12 * 4), [proposals], [(100, 130)])


def test_a_text_class_is_never_reported_and_takes_the_digit_it_covers_with_it():
    rh = text_heads()
    props = torch.tensor([[10.0, 10, 30, 50], [40, 10, 60, 50], [70, 10, 90, 50], [100, 10, 120, 50]])
    # a letter surer as text than as a 3; a letter read as a 3 at 0.5 but text at 0.4 (over
    # TEXT_SUPPRESS_RATIO x 0.5 = 0.3); a 3 at 0.65 with a lesser text belief (0.3, under
    # 0.6 x 0.65: a ratio of 0.3 dropped it); a 3 alone
    probs = [(0.3, 0.6), (0.5, 0.4), (0.65, 0.3), (0.9, 0.0)]
    boxes, scores, labels = run_text(rh, props, probs)
    assert labels[0].tolist() == [4, 4]
    kept = sorted(b[0].item() for b in boxes[0])
    assert kept == [70.0, 100.0]
    assert torch.all(scores[0] > 0.6)


def test_warm_start_adds_a_text_class_that_changes_no_digit_reading():
    from trainer.model import warm_start

    torch.manual_seed(0)
    old = build_detector(get_preset("default")).eval()
    cfg = get_preset("default")
    cfg["text_class"] = True
    new = build_detector(cfg).eval()
    warm_start(new, old)
    feats = torch.randn(5, 256)
    (lo, bo), (ln, bn) = old.roi_heads.box_predictor(feats), new.roi_heads.box_predictor(feats)
    assert torch.equal(ln[:, :11], lo) and torch.equal(bn[:, :44], bo)
    assert torch.allclose(ln[:, 11], lo[:, 0] - 3.0)  # text starts unlikely: the background's row, less
    p_old, p_new = torch.softmax(lo, 1), torch.softmax(ln, 1)[:, :11]
    assert torch.equal(p_old.argmax(1), p_new.argmax(1))
