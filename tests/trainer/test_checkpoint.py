import pickle

import pytest
import torch

from trainer import paths
from trainer.errors import CheckpointError, NoDefaultModelError
from trainer.model import build_detector, load_detector, save_checkpoint
from trainer.presets import PRESETS, get_preset


def test_round_trip_gives_identical_predictions(tmp_path):
    cfg = get_preset("default")
    torch.manual_seed(1)
    m = build_detector(cfg).eval()
    save_checkpoint(tmp_path / "m.pt", m, cfg, score_thresh=0.35)
    m2, cfg2, blob = load_detector(tmp_path / "m.pt")
    assert cfg2 == cfg and blob["score_thresh"] == 0.35
    x = [torch.rand(3, 80, 150)]
    with torch.no_grad():
        a, b = m(x)[0], m2(x)[0]
    assert torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["labels"], b["labels"])


def test_half_precision_checkpoint_loads_as_float(tmp_path):
    cfg = get_preset("default")
    save_checkpoint(tmp_path / "h.pt", build_detector(cfg), cfg, half=True)
    blob = torch.load(tmp_path / "h.pt", weights_only=True)
    assert any(v.dtype == torch.float16 for v in blob["model"].values())
    m, _, _ = load_detector(tmp_path / "h.pt")
    assert next(m.parameters()).dtype == torch.float32


def test_other_preset_is_refused_clearly(tmp_path):
    cfg = get_preset("default")
    save_checkpoint(tmp_path / "m.pt", build_detector(cfg), cfg)
    with pytest.raises(CheckpointError, match="'default' model, not a 'seed'"):
        load_detector(tmp_path / "m.pt", expect_preset="seed")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a Digit Studio model: .*x.pt"):
        load_detector(tmp_path / "x.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "y.pt")
    with pytest.raises(CheckpointError, match="without the 'format': 'digit-detector'"):
        load_detector(tmp_path / "y.pt")


NOT_MODELS = {
    "random bytes": (bytes(range(7, 256)) * 20, "the file's 4980 bytes are not a PyTorch checkpoint"),
    "text": (b"hello world\nsecond line", "a text file starting 'hello world second line', not a PyTorch"),
    "empty": (b"", "the file is empty"),
    "pickle": (pickle.dumps({"format": "digit-detector"}, protocol=4), "a Python pickle, not a PyTorch"),
    "zip": (b"PK\x03\x04 not really a zip", "a zip archive, but not one PyTorch wrote"),
}


@pytest.mark.parametrize("kind", list(NOT_MODELS))
def test_a_file_that_is_not_a_model_says_so_in_one_line(tmp_path, kind, recwarn):
    content, cause = NOT_MODELS[kind]
    path = tmp_path / "m.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load_detector(path)
    text = str(err.value)
    assert text.startswith(f"not a Digit Studio model: {path} (") and cause in text
    assert "\n" not in text and "weights_only" not in text and "issue" not in text
    assert not [w for w in recwarn if "weights_only" in str(w.message) or "file an issue" in str(w.message)]


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_is_not_executed(tmp_path):
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "digit-detector", "x": _Evil()}, f)
    with pytest.raises(CheckpointError):
        load_detector(tmp_path / "evil.pt")


def test_mismatched_weights_are_reported(tmp_path):
    cfg = get_preset("default")
    m = build_detector(cfg)
    cfg_wide = dict(cfg, width=0.5)
    save_checkpoint(tmp_path / "m.pt", m, cfg_wide)
    with pytest.raises(CheckpointError, match="does not match"):
        load_detector(tmp_path / "m.pt")


def test_missing_default_model_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(paths.BUNDLED_MODELS, "default", tmp_path / "none.pt")
    with pytest.raises(NoDefaultModelError, match="no default model is bundled"):
        load_detector("default")


def test_seed_preset_is_the_lab_recipe():
    cfg = get_preset("seed")
    assert cfg["resize"] == {"mode": "squash", "size": 224}
    assert cfg["anchor_sizes"] == [[32, 64, 128, 256, 512]]
    assert cfg["aspect_ratios"] == [[0.5, 1.0, 2.0]]
    assert cfg["optimizer"] == {"lr": 1e-3, "weight_decay": 1e-4}
    assert cfg["score_thresh"] == 0.8 and cfg["epochs"] == 50
    m = build_detector(cfg)
    assert m.backbone.out_channels == 1280
    assert m.roi_heads.score_thresh == 0.8


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_runs(name):
    m = build_detector(get_preset(name)).eval()
    with torch.no_grad():
        out = m([torch.rand(3, 64, 96)])
    assert set(out[0]) == {"boxes", "scores", "labels"}


def test_backbone_weights_load_from_a_local_file(tmp_path):
    from torchvision.models import mobilenet_v2

    net = mobilenet_v2()
    torch.save(net.state_dict(), tmp_path / "mnv2.pth")
    m = build_detector(get_preset("seed"), backbone_weights=str(tmp_path / "mnv2.pth"))
    assert torch.equal(m.backbone[0][0].weight, net.features[0][0].weight)
    torch.save({"junk": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="does not fit"):
        build_detector(get_preset("seed"), backbone_weights=str(tmp_path / "bad.pth"))
