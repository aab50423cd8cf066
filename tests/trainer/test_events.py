"""The engine's event lines: what the app accepts, and what it refuses as not an event."""

import json

import pytest

from trainer.events import VERSION, DoneEvent, EpochEvent, ProtocolError, parse_event


def test_an_event_round_trips_through_its_json_line_and_ignores_newer_fields():
    ev = EpochEvent(epoch=3, loss=0.5, lr=1e-4, mAP=0.41)
    line = json.dumps({**ev.to_dict(), "added_by_a_newer_engine": 1})
    back = parse_event(line)
    assert back == ev


@pytest.mark.parametrize(
    "line, needle",
    [
        ("epoch 1: loss=0.5", "not JSON"),
        (json.dumps({"event": "epoch", "v": VERSION + 1, "epoch": 1, "loss": 0.5, "lr": 0.1}), "version"),
        (json.dumps({"event": "epoch", "epoch": 1, "loss": 0.5, "lr": 0.1}), "version None"),
        (json.dumps({"event": "teleport", "v": VERSION}), "not an event"),
        (json.dumps(["done"]), "not an event"),
        (json.dumps({"event": "epoch", "v": VERSION, "loss": 0.5}), "malformed epoch event"),
    ],
)
def test_a_line_that_is_not_an_event_of_this_version_is_refused_by_name(line, needle):
    with pytest.raises(ProtocolError, match=needle):
        parse_event(line)


def test_done_event_fields_survive_the_line():
    ev = DoneEvent(run_dir="r", best="r/model.pt", epoch=2, best_mAP=0.4, score_thresh=0.5)
    assert parse_event(json.dumps(ev.to_dict())) == ev


def test_a_stage_event_round_trips_and_says_what_is_read():
    from trainer.events import StageEvent

    ev = StageEvent(stage="choose", done=40, total=162)
    assert parse_event(ev.to_json()) == ev
    assert ev.describe() == "choosing the starting model: 40/162 photos read"
    assert (
        StageEvent(stage="place", done=3, total=9).describe() == "placing the typed numbers: 3/9 photos read"
    )
