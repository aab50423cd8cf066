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
    return rh.postprocess_detections(logits, torch.zeros(n, 11 * 4), [proposals], [(100, 100)])


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
