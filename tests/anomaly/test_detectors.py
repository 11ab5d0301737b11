"""Estimator API of every detector: shapes, determinism, score direction, bad inputs, the Runner path."""
import numpy as np
import pytest
from sklearn.base import clone

from tasks.anomaly import (IForestDetector, IMixerImageDetector, IMixerTabularDetector, KNNDetector,
                           LOFDetector, OCSVMDetector)

FAST_NEURAL = dict(embed_dim=8, num_blocks=1, min_iters=20, max_iters=20, score_repeats=1, device="cpu")


def _make(name, seed=0):
    return {
        "iforest": lambda: IForestDetector(n_estimators=50, random_state=seed),
        "lof": lambda: LOFDetector(n_neighbors=10),
        "ocsvm": lambda: OCSVMDetector(random_state=seed),
        "knn": lambda: KNNDetector(n_neighbors=5),
        "imixer": lambda: IMixerTabularDetector(token_mixer="implicit", random_state=seed, **FAST_NEURAL),
        "mlpmixer": lambda: IMixerTabularDetector(token_mixer="mlp", random_state=seed, **FAST_NEURAL),
    }[name]()


ALL = ["iforest", "lof", "ocsvm", "knn", "imixer", "mlpmixer"]


def _correlated(n=200, d=6, seed=0):
    """Inliers on a low-dimensional linear manifold (features predictable from each other)."""
    rng = np.random.RandomState(seed)
    z = rng.randn(n, 2)
    A = rng.randn(2, d)
    return z @ A + 0.05 * rng.randn(n, d), A


@pytest.fixture(scope="module")
def data():
    X, A = _correlated()
    rng = np.random.RandomState(1)
    inliers = rng.randn(40, 2) @ A + 0.05 * rng.randn(40, 6)
    # far outside the data in every coordinate, with random signs (so also off the manifold)
    outliers = rng.choice([-1.0, 1.0], size=(5, 6)) * (6.0 + rng.rand(5, 6)) * X.std(0)
    return X, np.vstack([inliers, outliers]), np.r_[np.zeros(40), np.ones(5)]


@pytest.mark.parametrize("name", ALL)
def test_fit_score_shapes_and_direction(name, data):
    X, X_test, y_test = data
    det = _make(name)
    assert det.fit(X) is det
    assert det.n_features_in_ == X.shape[1]
    scores = det.score_samples(X_test)
    assert scores.shape == (len(X_test),) and scores.dtype == np.float64 and np.isfinite(scores).all()
    np.testing.assert_array_equal(det.decision_function(X_test), scores)
    # higher = more anomalous: the five injected outliers get the five highest scores
    assert set(np.argsort(-scores)[:5]) == set(np.flatnonzero(y_test)), (name, scores)
    pred = det.predict(X_test)
    assert pred.shape == (len(X_test),) and set(np.unique(pred)) <= {0, 1}
    assert pred[y_test == 1].all()


@pytest.mark.parametrize("name", ["iforest", "ocsvm", "imixer", "mlpmixer"])
def test_deterministic_with_seed(name, data):
    X, X_test, _ = data
    a = _make(name, seed=3).fit(X).score_samples(X_test)
    b = _make(name, seed=3).fit(X).score_samples(X_test)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_sklearn_params_and_clone():
    det = IMixerTabularDetector(embed_dim=8, token_mixer="mlp", random_state=1)
    params = det.get_params()
    assert params["embed_dim"] == 8 and params["token_mixer"] == "mlp"
    twin = clone(det)
    assert twin.get_params() == params and not hasattr(twin, "model_")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("bad, match", [
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), "NaN"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), "inf"),
    (lambda X: X[:, 0], "2-D"),
    (lambda X: X[None], "2-D"),
    (lambda X: X[:1], "sample"),
])
def test_bad_fit_input(name, bad, match, data):
    X, _, _ = data
    with pytest.raises(ValueError, match=match):
        _make(name).fit(bad(X))


@pytest.mark.parametrize("name", ["iforest", "knn", "imixer"])
def test_bad_score_input(name, data):
    X, X_test, _ = data
    det = _make(name)
    with pytest.raises(Exception, match="not fitted|fit"):
        det.score_samples(X_test)
    det.fit(X)
    with pytest.raises(ValueError, match="features"):
        det.score_samples(X_test[:, :3])
    bad = X_test.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.score_samples(bad)


def test_neural_param_errors(data):
    X, _, _ = data
    with pytest.raises(ValueError, match="token_mixer"):
        IMixerTabularDetector(token_mixer="conv", **FAST_NEURAL).fit(X)
    with pytest.raises(ValueError, match="implicit"):
        IMixerTabularDetector(token_mixer="mlp", implicit=dict(n_iter=3), **FAST_NEURAL).fit(X)
    with pytest.raises(ValueError, match=">= 2 features"):
        IMixerTabularDetector(**FAST_NEURAL).fit(X[:, :1])
    with pytest.raises(ValueError, match="n_neighbors|sample"):
        KNNDetector(n_neighbors=50).fit(X[:20])


def test_tabular_detector_trains_through_runner(data, capsys):
    """fit() builds an mmengine Runner (iteration loop, registered model/dataset) and shows progress."""
    X, _, _ = data
    det = IMixerTabularDetector(verbose=True, random_state=0, **FAST_NEURAL).fit(X)
    assert det.n_iter_ == 20
    assert type(det.model_).__name__ == "MaskedTokenIMixer" and not det.model_.training
    assert det.model_.backbone.token_mixer == "implicit"
    err = capsys.readouterr().err
    assert "20/20" in err  # the tqdm bar reached the end
    # the calibration hook set a per-feature error scale from the training rows
    assert not np.allclose(det.model_.error_scale.numpy(), 1.0)


def test_image_detector_digits():
    """One-vs-rest digits: the self-supervised iMixer features + k-NN separate other digits."""
    from sklearn.metrics import roc_auc_score

    from tasks.anomaly.datasets import load_image_one_vs_rest

    d = load_image_one_vs_rest("digits", normal_class=0, contamination=0.1)
    rng = np.random.RandomState(0)
    idx = rng.permutation(len(d.y))
    tr, te = idx[:120], idx[120:]
    det = IMixerImageDetector(patch_size=2, embed_dim=16, num_blocks=1, min_iters=20, max_iters=20,
                              device="cpu", random_state=0).fit(d.X[tr])
    assert det.patch_ == 2 and det.model_.num_tokens == 16
    scores = det.score_samples(d.X[te])
    assert scores.shape == (len(te),)
    assert roc_auc_score(d.y[te], scores) > 0.8
    with pytest.raises(ValueError, match="image_shape"):
        IMixerImageDetector(image_shape=(1, 8, 9), **dict(min_iters=1, max_iters=1)).fit(d.X[tr])


def test_image_detector_ensemble_and_shared_training():
    """The score ensemble (features, raw pixels, reconstruction error), its checks, and reuse_training."""
    from tasks.anomaly.datasets import load_image_one_vs_rest

    d = load_image_one_vs_rest("digits", normal_class=1, contamination=0.1)
    X = d.X[:100]
    small = dict(patch_size=2, embed_dim=16, num_blocks=1, min_iters=10, max_iters=10, device="cpu", random_state=0)
    plain = IMixerImageDetector(**small, pixel_weight=0.4, recon_weight=0.2).fit(X)
    first = IMixerImageDetector(**small, reuse_training=True).fit(X)
    again = IMixerImageDetector(**small, reuse_training=True, pixel_weight=0.4, recon_weight=0.2).fit(X)
    assert again.model_ is first.model_  # trained once, shared by the scoring variants
    np.testing.assert_allclose(again.score_samples(d.X[100:]), plain.score_samples(d.X[100:]), rtol=1e-6)
    # k as a fraction of the training images, rounded down: 0.079 of 100 is k = 7, the default 0.03 k = 3
    frac = IMixerImageDetector(**small, reuse_training=True, n_neighbors=0.079).fit(X)
    seven = IMixerImageDetector(**small, reuse_training=True, n_neighbors=7).fit(X)
    assert (frac.n_neighbors_, seven.n_neighbors_, first.n_neighbors_) == (7, 7, 3)
    np.testing.assert_allclose(frac.score_samples(d.X[100:]), seven.score_samples(d.X[100:]), rtol=1e-6)
    assert not np.allclose(frac.score_samples(d.X[100:]), first.score_samples(d.X[100:]))
    # each term is in units of its median training value: the ensemble of the training rows is ~1 there
    assert abs(np.median(plain._threshold_scores(X)) - 1.0) < 0.2
    # the threshold flags the contamination share of the training images (scored leaving themselves out)
    assert abs((plain._threshold_scores(X) > plain.threshold_).mean() - 0.1) < 0.02
    Z = d.X[100:]
    np.testing.assert_array_equal(plain.predict(Z), (plain.score_samples(Z) > plain.threshold_).astype(int))
    # feature_layer=0: the patch embeddings before any mixing
    import torch

    m = first.model_
    with torch.no_grad():
        tok = torch.as_tensor(first._tokens((X[:3] - first.mean_) / first.scale_), dtype=torch.float32)
        expected = tok @ m.value_weight[0] + m.value_bias + m.token_embed
        np.testing.assert_allclose(m.features(tok, layer=0).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    for bad, match in [(dict(pixel_weight=1.0), "KNNDetector"), (dict(pixel_weight=0.5, recon_weight=0.6), "recon_weight"),
                       (dict(feature_layer=2), "num_blocks"), (dict(pool="max"), "pool"), (dict(n_neighbors=0), "n_neighbors"),
                       (dict(n_neighbors=1.0), "fraction"), (dict(n_neighbors=True), "n_neighbors")]:
        with pytest.raises(ValueError, match=match):
            IMixerImageDetector(**dict(small, **bad)).fit(X)


def test_image_detector_with_classification_backbone(tmp_path):
    """Features of an image backbone loaded from a runner-style checkpoint (prefix 'backbone.')."""
    import torch

    from backbones import build_backbone

    bb = dict(type="IMixer", img_size=8, in_chans=1, patch_size=2, embed_dim=16, num_blocks=1, num_classes=0)
    ref = build_backbone(bb)
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in ref.state_dict().items()}}, tmp_path / "c.pth")
    X = np.random.RandomState(0).rand(30, 64)
    det = IMixerImageDetector(backbone=bb, checkpoint=str(tmp_path / "c.pth"), n_neighbors=3, device="cpu").fit(X)
    with torch.no_grad():
        expected = ref.eval().forward_features(torch.as_tensor(X[:2], dtype=torch.float32).reshape(2, 1, 8, 8))
    np.testing.assert_allclose(det._features(X[:2]), expected.flatten(1).numpy(), rtol=1e-5, atol=1e-5)
    assert det.score_samples(X[:4]).shape == (4,)


def test_masked_model_loss_and_masks():
    """Trimmed loss drops the worst rows; the fixed scoring masks cover every token equally."""
    import torch

    from tasks.anomaly.models import MaskedTokenIMixer, fixed_mask_patterns

    for mode in ("any_order", "partition", "mixed"):
        hidden, target = fixed_mask_patterns(7, 0.25, 3, seed=0, mode=mode)
        reps = 6 if mode == "mixed" else 3
        assert (target.sum(0) == reps).all() and (hidden | ~target).all()  # targets are always hidden
    hidden, target = fixed_mask_patterns(8, 0.25, 1, mode="any_order")
    assert hidden.sum(1).tolist() == [8, 6, 4, 2]  # chunk g sees only the chunks before it
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    x[:8] *= 50.0  # rows the model cannot reconstruct
    full = MaskedTokenIMixer(5, embed_dim=8, num_blocks=1, token_mixer="mlp", trim_ratio=0.0)
    trimmed = MaskedTokenIMixer(5, embed_dim=8, num_blocks=1, token_mixer="mlp", trim_ratio=0.25)
    trimmed.load_state_dict(full.state_dict())
    torch.manual_seed(1)
    a = full(x, mode="loss")["loss"]
    torch.manual_seed(1)
    b = trimmed(x, mode="loss")["loss"]
    assert b < 0.1 * a  # the 8 huge rows are among the dropped 16
    with pytest.raises(ValueError, match="trim_ratio"):
        MaskedTokenIMixer(5, trim_ratio=1.0)
    with pytest.raises(ValueError, match="mask_mode"):
        MaskedTokenIMixer(5, mask_mode="random")


def test_student_t_error_model():
    """error_df: each token adds nu * log1p(scaled error / nu); large nu gives back the Gaussian score;
    one huge token error weighs less than many moderate ones; calibration scores use the same model."""
    import torch

    from tasks.anomaly.models import MaskedTokenIMixer

    torch.manual_seed(0)
    x = torch.randn(32, 6)
    gauss = MaskedTokenIMixer(6, embed_dim=8, num_blocks=1, token_mixer="mlp", mask_mode="partition").eval()
    cal = gauss.calibrate([x])
    models = {nu: MaskedTokenIMixer(6, embed_dim=8, num_blocks=1, token_mixer="mlp", mask_mode="partition",
                                    error_df=nu).eval() for nu in (1.0, 4.0, 1e6)}
    with torch.no_grad():
        z = gauss.token_errors(x) / gauss.error_scale
        torch.testing.assert_close(gauss.anomaly_score(x), z.mean(1))
        torch.testing.assert_close(cal, z.mean(1))
        for nu, m in models.items():
            m.load_state_dict(gauss.state_dict())
            torch.testing.assert_close(m.anomaly_score(x), (nu * torch.log1p(z / nu)).mean(1))
            torch.testing.assert_close(m.calibrate([x]), m.anomaly_score(x))
        torch.testing.assert_close(models[1e6].anomaly_score(x), gauss.anomaly_score(x), rtol=1e-4, atol=1e-5)
        # one token 36x its typical error vs six tokens 6x: equal under the Gaussian, the many win under t
        one, many = torch.zeros(1, 6), torch.full((1, 6), 6.0)
        one[0, 0] = 36.0
        for m in (gauss, models[1.0]):
            m.error_scale.fill_(1.0)
        assert float(gauss._aggregate(one)) == pytest.approx(float(gauss._aggregate(many)))
        assert float(models[1.0]._aggregate(one)) < float(models[1.0]._aggregate(many))
    for bad in (0, -1.0, float("inf"), "4", True):
        with pytest.raises(ValueError, match="error_df"):
            MaskedTokenIMixer(6, error_df=bad)
