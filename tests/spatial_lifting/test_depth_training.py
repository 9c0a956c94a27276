"""Table VIII depth networks trained to a validation plateau: early stopping, best epoch kept, the rule."""

import pytest
import torch

import densepred.spatial_lifting.experiments as ex
from densepred.engine import make_loader
from densepred.spatial_lifting import depth_training as dt


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _run(decoder="sl-fastdepth", epochs=3):
    return dt.table8_run(decoder, "synth-street", 4, (32, 64), epochs, batch_size=2, output_bias=3.0,
                         max_depth=40.0, midas_features=8)


def test_table8_run_widens_only_the_2d_midas():
    r = dt.table8_run("midas", "synth-street", 4, [32, 64], 3, midas_features=48, max_depth=80.0)
    assert r.midas_features == 48 and r.data == ex.Data("synth-street", 4, (32, 64), max_depth=80.0)
    assert r.train == ex.depth_recipe(3)
    assert dt.table8_run("sl-midas", "synth-street", 4, (32, 64), 3, midas_features=48).midas_features is None


def test_with_plateau_sets_the_engine_rule():
    p = dt.with_plateau(_run(), val_n=4, patience=2)
    assert (p.run.train.monitor, p.run.train.mode, p.run.train.patience, p.val_n) == ("val_delta1", "max", 2, 4)
    assert p.run.train.epochs == 3 and p.run.data == _run().data
    assert dt.with_plateau(_run(), val_n=4, patience=None).run == _run()


def test_plateau_run_errors():
    with pytest.raises(ValueError, match="patience needs val_n"):
        dt.with_plateau(_run(), val_n=None, patience=2)
    with pytest.raises(ValueError, match="val_n"):
        dt.PlateauDepthRun(_run(), val_n=0)
    monitored = dt.with_plateau(_run(), 2, 2).run
    with pytest.raises(ValueError, match="scores nothing"):
        dt.PlateauDepthRun(monitored, val_n=None)


def test_val_delta1_pools_valid_pixels_and_averages_slices():
    class Const(torch.nn.Module):
        def __init__(self, value, lifted):
            super().__init__()
            self.w, self.value, self.lifted = torch.nn.Parameter(torch.zeros(1)), value, lifted

        def forward(self, x):
            b, _, h, w = x.shape
            y = torch.full((b, 1, h, w), self.value)
            return torch.stack([y - 1, y + 1], 2) if self.lifted else y  # the slice mean is `value`

    depth = torch.tensor([[[0.0, 9.0], [10.0, 30.0]]])  # one invalid pixel
    batch = [{"image": torch.zeros(1, 3, 2, 2), "depth": depth}]
    for lifted in (False, True):
        out = dt.val_delta1(Const(float(torch.log1p(torch.tensor(10.0))), lifted), batch)
        assert out == {"val_delta1": pytest.approx(100 * 2 / 3)}  # 9 and 10 m within 1.25x, 30 m not
    with pytest.raises(ValueError, match="no valid depth"):
        dt.val_delta1(Const(1.0, False), [{"image": torch.zeros(1, 3, 2, 2), "depth": torch.zeros(1, 2, 2)}])


def test_train_depth_plateau_keeps_the_best_epoch_and_caches(cache):
    prun = dt.with_plateau(_run(epochs=4), val_n=4, patience=1)
    t = dt.train_depth_plateau(prun, seed=0)
    vals = t.series("val_delta1")
    assert 2 <= len(vals) <= 4 and t.lifted and len(t.selected) == 5
    meta = dt.train_depth_plateau(prun, seed=0)
    assert meta.hit
    ok, _ = dt.val_delta1_rule(1).check(vals)
    assert ok == (len(vals) < 4 or vals[-1] <= max(vals[:-1]))  # stopped by patience => plateau
    # the kept weights are the best epoch's: re-scoring them on the validation split gives the best value
    val = make_loader(ex.split(prun.run.data, "val", n=4, task="depth"), 2)
    assert dt.val_delta1(t.model, val)["val_delta1"] == pytest.approx(max(vals))
    test = make_loader(ex.split(prun.run.data, "eval", n=2, task="depth"), 2)
    assert set(ex.evaluate_depth(t, test)) == {"abs_rel", "rmse", "delta1"}


def test_train_depth_plateau_without_validation(cache):
    t = dt.train_depth_plateau(dt.PlateauDepthRun(_run("midas", epochs=1)), seed=0)
    assert not t.lifted and t.series("val_delta1") == [] and len(t.series("train_loss")) == 1


def test_val_delta1_rule_is_metric_plateau():
    rule = dt.val_delta1_rule(2)
    assert rule.curve == "val_delta1" and "2 epochs" in rule.stated
    assert rule.check([10, 20, 19, 18])[0] and not rule.check([10, 20, 19, 21])[0]


def test_page_run_pairs_encoders_with_decoders():
    enc = {"fastdepth": "mobilenetv2-050", "midas": "resnext26"}
    p = dt.page_run("midas", "synth-street", 4, [32, 64], 5, encoder=enc, encoder_weights={"resnext26": "/w.pth"},
                    val_n=3, patience=2, midas_features=16)
    assert (p.run.encoder, p.run.encoder_weights, p.run.midas_features, p.val_n, p.run.train.patience) == \
        ("resnext26", "/w.pth", 16, 3, 2)
    q = dt.page_run("fastdepth", "synth-street", 4, (32, 64), 5, encoder=enc, encoder_weights="hub")
    assert (q.run.encoder, q.run.encoder_weights, q.val_n, q.run.train.monitor) == ("mobilenetv2-050", "hub", None, None)
    with pytest.raises(KeyError, match="encoder has no entry for 'sl-midas'"):
        dt.page_run("sl-midas", "synth-street", 4, (32, 64), 5, encoder=enc)
