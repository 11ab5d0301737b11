"""The tabular detector's recipe controls (feature grouping, one calibration pass, early stopping,
training-set refinement) and the leave-one-dataset-out selection of its defaults."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tasks.anomaly import IMixerTabularDetector
from tasks.anomaly.benchmark import SuiteConfig, leave_one_group_out, summarize
from tasks.anomaly.engine import LossPlateauHook

FAST = dict(embed_dim=8, num_blocks=1, min_iters=30, max_iters=30, score_repeats=1, device="cpu", random_state=0)


def _wide(n=240, d=40, seed=0):
    """Inliers on a 3-d linear manifold in ``d`` dimensions; outliers off it."""
    rng = np.random.RandomState(seed)
    A = rng.randn(3, d)
    X = rng.randn(n, 3) @ A + 0.05 * rng.randn(n, d)
    test_in = rng.randn(40, 3) @ A + 0.05 * rng.randn(40, d)
    test_out = 2.0 * rng.randn(8, d) * X.std(0)
    return X, np.vstack([test_in, test_out]), np.r_[np.zeros(40), np.ones(8)]


@pytest.mark.parametrize("d, max_tokens, layout", [(100, 16, (15, 7)), (100, 32, (25, 4)), (10, 16, (10, 1)),
                                                   (10, 4, (4, 3)), (100, None, (100, 1)), (784, 32, (32, 25))])
def test_token_layout(d, max_tokens, layout):
    L, g = IMixerTabularDetector(max_tokens=max_tokens).token_layout(d)
    assert (L, g) == layout and L * g >= d and (L - 1) * g < d  # no token is only padding


def test_wide_input_is_grouped_and_detects():
    X, X_te, y_te = _wide()
    det = IMixerTabularDetector(max_tokens=8, **dict(FAST, min_iters=100, max_iters=100, embed_dim=16)).fit(X)
    assert det.token_layout_ == (8, 5)
    assert (det.model_.num_tokens, det.model_.token_dim) == (8, 5)
    scores = det.score_samples(X_te)
    assert np.isfinite(scores).all() and roc_auc_score(y_te, scores) > 0.9
    padded = IMixerTabularDetector(max_tokens=6, **FAST).fit(X)  # 40 features -> 6 tokens of 7 (2 padded)
    assert padded.token_layout_ == (6, 7) and np.isfinite(padded.score_samples(X_te)).all()


def test_one_calibration_pass_serves_scale_and_threshold():
    X, _, _ = _wide(d=12)
    det = IMixerTabularDetector(calibration_samples=100, contamination=0.2, refine_rounds=0, **FAST).fit(X)
    rows = np.unique(np.linspace(0, len(X) - 1, 100).astype(int))
    assert len(det.calibration_scores_) == len(rows)
    np.testing.assert_array_equal(det.train_rows_, np.arange(len(X)))  # no refinement: every row
    # the scores kept from calibration are what score_samples gives for those rows
    np.testing.assert_allclose(det.calibration_scores_, det.score_samples(X[rows]), rtol=1e-5, atol=1e-6)
    assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 0.8))
    assert abs(det.predict(X[rows]).mean() - 0.2) < 0.02


@pytest.mark.parametrize("kw, match", [(dict(max_tokens=1), "max_tokens"), (dict(max_tokens=8.5), "max_tokens"),
                                       (dict(calibration_samples=0), "calibration_samples"),
                                       (dict(n_iter_no_change=0), "n_iter_no_change"),
                                       (dict(refine_rounds=-1), "refine_rounds"), (dict(refine_rounds=True), "refine_rounds"),
                                       (dict(refine_ratio=0.0), "refine_ratio"), (dict(refine_ratio=1.0), "refine_ratio"),
                                       (dict(refine_rescale=1), "refine_rescale")])
def test_cost_options_checked(kw, match):
    X, _, _ = _wide(d=12)
    with pytest.raises(ValueError, match=match):
        IMixerTabularDetector(**dict(FAST, **kw)).fit(X)


def test_refinement_leaves_out_the_outliers_of_the_training_rows():
    X, _, _ = _wide(n=200, d=12)
    rng = np.random.RandomState(3)
    outliers = rng.choice([-1.0, 1.0], size=(20, 12)) * 6.0 * X.std(0)  # gross, off the manifold
    X_train = np.vstack([X, outliers])  # contaminated: rows 200-219 are outliers
    det = IMixerTabularDetector(refine_rounds=1, refine_ratio=0.15, **FAST).fit(X_train)
    left_out = np.setdiff1d(np.arange(220), det.train_rows_)
    assert len(left_out) == 33  # the 15 % of 220 rows the first model scored highest
    assert np.isin(np.arange(200, 220), left_out).sum() >= 18  # ... are the planted outliers
    np.testing.assert_allclose(det.mean_, X_train[det.train_rows_].mean(0))  # refit standardised on the kept rows
    # the threshold still comes from every training row, so contamination keeps its meaning
    assert abs(det.predict(X_train).mean() - 0.1) < 0.03
    subset = IMixerTabularDetector(refine_rounds=1, refine_ratio=0.15, max_train_samples=150, refine_rescale=False,
                                   **FAST).fit(X_train)
    assert len(subset.train_rows_) == 127 and np.all(np.diff(subset.train_rows_) > 0)  # of the 150-row subset
    np.testing.assert_allclose(subset.mean_, X_train.mean(0))  # refine_rescale=False: every row's statistics
    with pytest.raises(ValueError, match="refine_ratio=0.9 leaves"):
        IMixerTabularDetector(refine_rounds=1, refine_ratio=0.9, **FAST).fit(X_train[:40])


def _drive(hook, losses):
    import torch

    runner = SimpleNamespace(iter=0, train_loop=SimpleNamespace(stop_training=False))
    for i, loss in enumerate(losses):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs=dict(loss=torch.tensor(loss)))
        if runner.train_loop.stop_training:
            return i + 1
    return None


def test_loss_plateau_hook():
    falling = [math.exp(-i / 40) for i in range(400)]  # loses > 1 % every 10 steps
    assert _drive(LossPlateauHook(patience=10, min_delta=0.01, min_iters=20, smoothing=0.0), falling) is None
    flat_after_100 = [max(1.0 - i / 100, 0.0) + 0.1 for i in range(400)]
    stop = _drive(LossPlateauHook(patience=10, min_delta=0.01, min_iters=20, smoothing=0.0), flat_after_100)
    assert stop == 120  # 110 still improved on 100 (0.10 vs 0.11); 120 did not improve on 110
    early = [1.0] * 100  # flat from the start, but never before min_iters
    assert _drive(LossPlateauHook(patience=10, min_delta=0.01, min_iters=50, smoothing=0.0), early) == 50
    with pytest.raises(ValueError, match="patience"):
        LossPlateauHook(patience=0)
    with pytest.raises(ValueError, match="min_delta"):
        LossPlateauHook(min_delta=1.5)


def test_detector_stops_early_on_a_flat_loss():
    X, _, _ = _wide(d=12)
    det = IMixerTabularDetector(**dict(FAST, max_iters=400, min_iters=20, n_iter_no_change=10, tol=0.9)).fit(X)
    assert det.n_iter_ == 20  # the loss never halves within 10 steps: stops at min_iters
    full = IMixerTabularDetector(**dict(FAST, max_iters=40, min_iters=40)).fit(X)
    assert full.n_iter_ == 40


def test_leave_one_group_out_never_scores_the_choice_on_its_own_data():
    means = {"c1": {"x": 0.9, "y": 0.5, "z": 0.5}, "c2": {"x": 0.6, "y": 0.6, "z": 0.6}}
    got = leave_one_group_out(means, ["x", "y", "z"], ["c1", "c2"], groups=())
    # x: chosen on y, z where c2 is better, so x reports c2's 0.6, not c1's 0.9
    assert got == {"x": ("c2", 0.6), "y": ("c1", 0.5), "z": ("c1", 0.5)}
    grouped = leave_one_group_out(means, ["x", "y", "z"], ["c1", "c2"], groups=[("x", "y")])
    assert grouped["x"] == ("c2", 0.6) and grouped["y"] == ("c2", 0.6)  # chosen on z alone
    assert grouped["z"] == ("c1", 0.5)  # chosen on x and y (c1 0.7 vs c2 0.6)
    with pytest.raises(ValueError, match="no other dataset"):
        leave_one_group_out(means, ["x", "y"], ["c1", "c2"], groups=[("x", "y")])


def test_summary_ranks_the_held_out_column():
    rows = []
    table = {"c1": {"x": 0.9, "y": 0.5, "z": 0.5}, "c2": {"x": 0.6, "y": 0.6, "z": 0.6},
             "iforest": {"x": 0.7, "y": 0.55, "z": 0.4}}
    for det, vals in table.items():
        for ds, v in vals.items():
            rows.append(dict(dataset=ds, detector=det, seed="0", status="ok", roc_auc=str(v), ap=str(v),
                             fit_s="1", score_s="1", error=""))
    md = summarize(rows, ["x", "y", "z"], list(table), 1,
                   selection=dict(candidates=["c1", "c2"], name="sel", groups=()))
    # held-out column: x 0.6, y 0.5, z 0.5 -> mean 53.3; ranks vs iforest (0.7, 0.55, 0.4): 2, 2, 1
    assert "| sel | 53.3 | 1.67 |" in md and "| iforest | 55.0 | 1.33 |" in md
    assert "Best on all datasets: **c1**" in md  # over all three: c1 0.633, c2 0.6


def test_summary_per_source_group():
    """With source groups, the held-out column and every detector's ROC-AUC / AP / time per group."""
    table = {"c1": {"a_1": 0.9, "a_2": 0.5, "b_1": 0.5}, "c2": {"a_1": 0.6, "a_2": 0.6, "b_1": 0.6},
             "iforest": {"a_1": 0.7, "a_2": 0.55, "b_1": 0.4}}
    rows = [dict(dataset=ds, detector=det, seed="0", status="ok", roc_auc=str(v), ap=str(v / 2), fit_s="1",
                 score_s="0.5", error="") for det, vals in table.items() for ds, v in vals.items()]
    md = summarize(rows, ["a_1", "a_2", "b_1"], list(table), 1,
                   selection=dict(candidates=["c1", "c2"], name="sel", groups=[("a_1", "a_2"), ("b_1",)]))
    # a held out: chosen on b_1 -> c2 (0.6 on both); b_1 held out: chosen on a -> c1 (0.5)
    assert "| a | 60.0 | 62.5 |" in md and "| b_1 | 50.0 | 40.0 |" in md and "| all | 56.7 | 55.0 |" in md
    assert "| a | 70.0 / 35.0 / 1.50 | 60.0 / 30.0 / 1.50 | 62.5 / 31.2 / 1.50 |" in md


def test_summary_of_one_dataset_skips_the_selection_instead_of_failing():
    """A selection config run on one dataset (--only-data, e.g. the cost cell) still writes its tables."""
    rows = [dict(dataset="cost", detector=d, seed="0", status="ok", roc_auc="0.5", ap="0.1", fit_s="2",
                 score_s="1", error="") for d in ("c1", "c2", "iforest")]
    md = summarize(rows, ["cost"], ["c1", "c2", "iforest"], 1, selection=dict(candidates=["c1", "c2"], groups=()))
    assert "| cost | **50.0" in md and "Not computed" in md
    grouped = [dict(r, dataset=ds) for r in rows for ds in ("wbc", "wdbc")]  # one source: still one group
    md = summarize(grouped, ["wbc", "wdbc"], ["c1", "c2", "iforest"], 1,
                   selection=dict(candidates=["c1", "c2"], groups=[("wbc", "wdbc")]))
    assert "Not computed" in md
