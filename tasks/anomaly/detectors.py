"""Neural anomaly detectors built on the iMixer, with the scikit-learn API of :mod:`tasks.anomaly.base`.

* :class:`IMixerTabularDetector` - every feature is a token; masked-feature reconstruction
  (:class:`~tasks.anomaly.models.MaskedTokenIMixer`) trained without labels; the score is the scaled
  reconstruction error over fixed mask patterns. ``token_mixer='mlp'`` is the explicit twin.
* :class:`IMixerImageDetector` - one-class image sets: iMixer features (self-supervised masked-patch
  reconstruction on the training images, or a backbone trained by the classification runner), scored
  by the k-NN distance to the training features.

``fit`` trains through mmengine's Runner (:func:`~tasks.anomaly.engine.train_with_runner`): the model
and the in-memory dataset are built from the imixer registries, on CPU or CUDA (``device``), with a
tqdm bar when ``verbose``. All scores: **higher = more anomalous**.
"""
from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from backbones.registry import MODELS
from backbones.token_mixers import TokenMixerSpec, resolve_token_mixer

from .base import BaseDetector, check_random_state_int, resolve_device


def _n_iters(n_rows: int, batch_size: int, epochs: float, min_iters: int, max_iters: int) -> int:
    return int(np.clip(math.ceil(epochs * n_rows / batch_size), min_iters, max_iters))


class _RunnerDetector(BaseDetector):
    """Shared pieces of the neural detectors (training schedule, device, batched inference)."""

    def _device(self) -> str:
        return resolve_device(self.device)

    def _token_mixer(self) -> dict:
        """The validated token-mixer spec (``token_mixer`` with the legacy ``implicit`` options merged)."""
        return resolve_token_mixer(self.token_mixer, **(self.implicit or {}))

    def _tensor_batches(self, X: np.ndarray, batch_size: int = 1024):
        """``X`` in float32 batches on the model's device."""
        dev = next(self.model_.parameters()).device
        return (torch.as_tensor(X[i:i + batch_size], dtype=torch.float32, device=dev)
                for i in range(0, len(X), batch_size))

    @torch.no_grad()
    def _batched(self, fn, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        out = [fn(b).float().cpu() for b in self._tensor_batches(X, batch_size)]
        return torch.cat(out).numpy().astype(np.float64)


@MODELS.register_module()
class IMixerTabularDetector(_RunnerDetector):
    r"""Masked-feature reconstruction with a 1-D iMixer over feature tokens.

    Features become tokens: one token per feature when there are at most ``max_tokens`` features,
    otherwise consecutive columns are grouped, ``g = ceil(d / max_tokens)`` per token (the last token
    zero-padded), so with 32 a 784-pixel row is 32 tokens of 25 values instead of 784 tokens. Each token has its
    own value embedding plus a token-identity embedding; :class:`backbones.IMixerSequence` mixes them.
    Training (unlabelled, on the possibly contaminated ``X``) hides tokens at random and regresses the
    hidden values from the visible ones. The default score (``mask_mode='partition'``) splits the tokens
    ``score_repeats`` times at random into ``ceil(1 / mask_ratio)`` groups and predicts each group from
    all the others (training hides each token with probability ``mask_ratio``); ``'any_order'`` follows
    random token orders cut into chunks and predicts each chunk from the chunks before it, an
    order-agnostic autoregressive likelihood (training hides with a rate ``r ~ U(0, 1)`` drawn per row;
    see :mod:`tasks.anomaly.models`). Each token's squared error is divided by its median training error
    and the scaled errors are combined under a Student-t error model (``error_df``; ``None``: averaged).
    The training rows are unlabelled and contaminated, so by default the detector refines them: it
    scores its own training rows, leaves out the most anomalous quarter and fits again
    (``refine_rounds``, after Yoon et al., "Self-supervise, refine, repeat", TMLR 2022). The defaults
    (partition masks, ``error_df=4``, ``lr=1e-3``, 50 to 100 steps of 64 rows, one refinement round of
    25 %) were chosen by leave-one-dataset-out selection on 15 sets among settings whose 5,000 x 100 cell
    fits and scores within 6 s on 2 CPU cores (``configs/anomaly/select_tabular.py``).

    Inputs are standardised internally with the mean / std of the training rows (after refinement, of the
    rows kept), so unscaled data works.

    The cost of a fit is ``refine_rounds + 1`` times ``steps x batch_size`` token sequences forward and
    backward plus ``score_repeats * ceil(1 / mask_ratio)`` forward passes per scored row (the training rows
    once per refinement round, the ``calibration_samples`` training rows once, then every row scored).
    ``docs/anomaly.md`` gives measured times and how the defaults were chosen.

    Args:
        token_mixer: ``'implicit'`` (iMixer, the authors' recipe), ``'mlp'`` (the explicit twin) or
            ``dict(type='implicit', n_iter=4, ...)`` (:mod:`backbones.token_mixers`).
        embed_dim: token width.
        num_blocks: Mixer blocks.
        max_tokens: most tokens per row; wider inputs are grouped as above (``None``: always one token
            per feature, whose cost grows with the square of the width).
        mask_ratio: ``1 / chunks`` of the scoring orders (and the training mask rate for 'partition').
        score_repeats: fixed orders (partitions) averaged in the score: a Monte-Carlo estimate over
            orders; scoring time grows linearly with it.
        mask_mode: ``'any_order'``, ``'partition'`` or ``'mixed'`` (both pattern sets, errors averaged).
        trim_ratio: per batch, leave the rows with the largest loss (this fraction) out of the loss, so
            the outliers in the unlabelled training data are not learnt as normal.
        error_df: per-token error model of the score: ``None`` = Gaussian (errors divided by their
            training median and averaged), a number ``nu`` = Student-t with ``nu`` degrees of freedom
            (each token adds ``nu * log(1 + scaled error / nu)``, so one badly predicted token cannot
            dominate; :class:`~tasks.anomaly.models.MaskedTokenIMixer`).
        implicit: implicit-layer options merged into ``token_mixer`` (kept for existing code; prefer
            ``token_mixer=dict(type='implicit', ...)``).
        epochs: passes over the training rows; the step count is clipped to ``[min_iters, max_iters]``.
        min_iters: fewest optimisation steps.
        max_iters: most optimisation steps.
        n_iter_no_change: early stopping on the training loss: every this many steps (after
            ``min_iters``) the smoothed loss must have fallen by ``tol`` (relative) or training stops
            (:class:`~tasks.anomaly.engine.LossPlateauHook`); ``None`` always runs the planned steps.
        tol: see ``n_iter_no_change``.
        batch_size: rows per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        max_train_samples: train on a random subset of this many rows (large sets such as shuttle);
            ``None`` = all.
        refine_rounds: training-set refinement for contaminated data: after the first fit, the training
            rows are scored, the ``refine_ratio`` most anomalous of them are left out and a fresh model is
            trained on the rest; each round re-scores all the rows with the latest model. ``0``: one model
            on every row. Each round costs one more fit and one scoring pass over the training rows.
        refine_ratio: fraction of the training rows left out in each refinement round. It is not the
            contamination estimate: leaving out some inliers costs little, keeping outliers costs more.
        refine_rescale: a refit standardises with the mean / std of the rows it keeps (``False``: of every
            training row, as the first fit does).
        calibration_samples: evenly spaced training rows that set the per-token error scale and
            ``threshold_`` (one scoring pass serves both).
        device: ``'auto'``, ``'cpu'`` or ``'cuda'``.
        random_state: seed (model init, masks, order); fixed seed -> identical scores on CPU.
        verbose: show a progress bar while training.
        contamination: see :class:`~tasks.anomaly.base.BaseDetector`.

    Attributes:
        model_: the trained :class:`~tasks.anomaly.models.MaskedTokenIMixer` (eval mode).
        mean_, scale_: the internal standardisation.
        token_layout_: ``(tokens, features per token)``.
        n_iter_: optimisation steps run (fewer than planned when early stopping ended training).
        train_rows_: sorted indices of the rows of ``X`` the final model was trained on (all rows, a
            ``max_train_samples`` subset, or what refinement kept of it).
    """

    min_samples = 8

    def __init__(self, token_mixer: TokenMixerSpec = "implicit", embed_dim: int = 32, num_blocks: int = 2,
                 max_tokens: Optional[int] = 32, mask_ratio: float = 0.25, score_repeats: int = 2,
                 mask_mode: str = "partition", trim_ratio: float = 0.1, error_df: Optional[float] = 4.0,
                 implicit: Optional[dict] = None,
                 epochs: float = 20.0, min_iters: int = 50, max_iters: int = 100,
                 n_iter_no_change: Optional[int] = None, tol: float = 0.01, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-4, max_train_samples: Optional[int] = 10000,
                 refine_rounds: int = 1, refine_ratio: float = 0.25, refine_rescale: bool = True,
                 calibration_samples: int = 2000, device: str = "auto", random_state: Optional[int] = None,
                 verbose: bool = False, contamination: float = 0.1) -> None:
        super().__init__(contamination)
        self.token_mixer, self.embed_dim, self.num_blocks = token_mixer, embed_dim, num_blocks
        self.max_tokens = max_tokens
        self.mask_ratio, self.score_repeats, self.implicit = mask_ratio, score_repeats, implicit
        self.mask_mode, self.trim_ratio, self.error_df = mask_mode, trim_ratio, error_df
        self.epochs, self.min_iters, self.max_iters = epochs, min_iters, max_iters
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.batch_size, self.lr, self.weight_decay = batch_size, lr, weight_decay
        self.max_train_samples, self.calibration_samples = max_train_samples, calibration_samples
        self.refine_rounds, self.refine_ratio, self.refine_rescale = refine_rounds, refine_ratio, refine_rescale
        self.device, self.random_state, self.verbose = device, random_state, verbose

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.refine_rounds, bool) or not (isinstance(self.refine_rounds, (int, np.integer))
                                                        and self.refine_rounds >= 0):
            raise ValueError(f"refine_rounds must be an int >= 0 (0: one model on every training row), "
                             f"got {self.refine_rounds!r}")
        if isinstance(self.refine_ratio, bool) or not (isinstance(self.refine_ratio, numbers.Real)
                                                       and 0.0 < self.refine_ratio < 1.0):
            raise ValueError(f"refine_ratio must be a fraction in (0, 1) of the training rows to leave out per "
                             f"refinement round, got {self.refine_ratio!r}")
        if not isinstance(self.refine_rescale, (bool, np.bool_)):
            raise ValueError(f"refine_rescale must be True or False, got {self.refine_rescale!r}")
        if self.max_tokens is not None and not (isinstance(self.max_tokens, (int, np.integer)) and self.max_tokens >= 2):
            raise ValueError(f"max_tokens must be an int >= 2 (or None for one token per feature), got {self.max_tokens!r}")
        if not (isinstance(self.calibration_samples, (int, np.integer)) and self.calibration_samples >= 1):
            raise ValueError(f"calibration_samples must be an int >= 1, got {self.calibration_samples!r}")
        if self.n_iter_no_change is not None and int(self.n_iter_no_change) < 1:
            raise ValueError(f"n_iter_no_change must be >= 1 step (or None: no early stopping), got {self.n_iter_no_change}")

    def token_layout(self, n_features: int) -> Tuple[int, int]:
        """``(tokens, features per token)`` for rows of ``n_features``."""
        if self.max_tokens is None or n_features <= self.max_tokens:
            return n_features, 1
        per = math.ceil(n_features / int(self.max_tokens))
        return math.ceil(n_features / per), per

    def _tokens(self, Z: np.ndarray) -> np.ndarray:
        L, g = self.token_layout_
        if L * g > Z.shape[1]:
            Z = np.concatenate([Z, np.zeros((len(Z), L * g - Z.shape[1]))], axis=1)
        return Z.reshape(len(Z), L, g)

    def _fit(self, X: np.ndarray) -> None:
        if X.shape[1] < 2:
            raise ValueError(f"{type(self).__name__} predicts each feature from the others and needs >= 2 "
                             f"features, got {X.shape[1]}")
        seed = check_random_state_int(self.random_state)
        self.token_layout_ = self.token_layout(X.shape[1])
        pool = np.arange(len(X))
        if self.max_train_samples is not None and len(X) > self.max_train_samples:
            pool = np.random.RandomState(seed).choice(len(X), int(self.max_train_samples), replace=False)
        kept = int(len(pool) * (1.0 - float(self.refine_ratio)))
        if self.refine_rounds and kept < self.min_samples:  # refuse before any training, not after the first fit
            raise ValueError(f"refine_ratio={self.refine_ratio} leaves about {kept} of {len(pool)} training rows; "
                             f"{type(self).__name__} needs >= {self.min_samples}: lower refine_ratio, set "
                             "refine_rounds=0 or give more rows")
        rows = pool
        for round_ in range(int(self.refine_rounds) + 1):
            if round_:
                # refinement: score the pool with the current model, leave out its refine_ratio most anomalous
                # rows and fit afresh (standardisation included) on the rest; each round re-scores the pool
                scores = self.model_.calibrate(self._tensor_batches(T[pool])).cpu().numpy()
                rows = pool[scores <= np.quantile(scores, 1.0 - float(self.refine_ratio))]
            if not round_ or self.refine_rescale:
                # the first fit standardises with every row, subsampled or not; a refit with the rows it keeps
                # (refine_rescale=False: the first fit's standardisation, and its tokens, stay)
                fitted = X[rows] if round_ else X
                self.mean_ = fitted.mean(0)
                std = fitted.std(0)
                self.scale_ = np.where(std > 0, std, 1.0)
                T = self._tokens(self._transform(X))
            self.model_, self.n_iter_ = self._train(T[rows], seed)
        self.train_rows_ = np.sort(rows)
        rows = np.unique(np.linspace(0, len(T) - 1, min(len(T), int(self.calibration_samples))).astype(int))
        scores = self.model_.calibrate(self._tensor_batches(T[rows]))
        self.calibration_scores_ = scores.cpu().numpy().astype(np.float64)

    def _train(self, train: np.ndarray, seed: int):
        """A fresh :class:`~tasks.anomaly.models.MaskedTokenIMixer` trained on the token rows ``train``
        through the Runner; returns ``(model, steps run)``."""
        from .engine import train_with_runner

        L, g = self.token_layout_
        token_mixer = self._token_mixer()
        planned = _n_iters(len(train), self.batch_size, self.epochs, self.min_iters, self.max_iters)
        model_cfg = dict(type="MaskedTokenIMixer", num_tokens=L, token_dim=g, embed_dim=self.embed_dim,
                         num_blocks=self.num_blocks, token_mixer=token_mixer, mask_ratio=self.mask_ratio,
                         score_repeats=self.score_repeats, mask_mode=self.mask_mode, trim_ratio=self.trim_ratio,
                         error_df=self.error_df, seed=seed)
        early_stop = (None if self.n_iter_no_change is None else
                      dict(patience=int(self.n_iter_no_change), min_delta=float(self.tol), min_iters=int(self.min_iters)))
        return train_with_runner(
            model_cfg, dict(type="ArrayDataset", X=train.reshape(len(train), -1), token_shape=(L, g)),
            max_iters=planned, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, seed=seed,
            device=self._device(), progress=self.verbose, desc=f"{type(self).__name__}({token_mixer['type']})",
            early_stop=early_stop)

    def _threshold_scores(self, X: np.ndarray) -> np.ndarray:
        return self.calibration_scores_

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._batched(self.model_.anomaly_score, self._tokens(self._transform(X)))


def _square_shape(n_features: int) -> Tuple[int, int, int]:
    side = int(round(math.sqrt(n_features)))
    if side * side != n_features:
        raise ValueError(f"cannot infer an image shape from {n_features} features (not a square); pass "
                         "image_shape=(C, H, W)")
    return 1, side, side


#: models trained by :class:`IMixerImageDetector` with ``reuse_training=True``: key -> (model, steps)
_TRAINED: "OrderedDict[str, Tuple[torch.nn.Module, int]]" = OrderedDict()
_TRAINED_MAX = 8  # a selection suite's training variants x seeds of one dataset


def _median_scale(d: np.ndarray) -> float:
    """The median of the training rows' k-NN distances (1 where it is 0), the unit a distance is put in."""
    m = float(np.median(d))
    return m if m > 0 else 1.0


@MODELS.register_module()
class IMixerImageDetector(_RunnerDetector):
    r"""k-NN distance in iMixer feature space, for one-class image sets.

    Features come from one of two sources:

    * ``backbone=None`` (default): a :class:`~tasks.anomaly.models.MaskedTokenIMixer` over ``p x p``
      patch tokens is trained on the (unlabelled) training images by masked-patch reconstruction; the
      features are the tokens after ``feature_layer`` blocks for the unmasked image.
    * ``backbone=dict(type='IMixer', ...)`` with ``checkpoint``: an image backbone trained by the
      classification runner (``tools/train.py configs/cls/...``); features are its
      ``forward_features`` tokens. Do not use a checkpoint trained with labels of the classes that are
      anomalies in your test data: that leaks the answer.

    The tokens are pooled (``pool``: flattened, or averaged over the patches), optionally standardised
    per dimension with the training features' mean and std (``standardize_features``), and an image is
    scored by ``d_k``, the distance to its ``n_neighbors``-th nearest training feature (a training image
    leaves itself out). With ``pixel_weight = w_p`` and ``recon_weight = w_r`` the score is the ensemble

    .. math:: s(x) = (1 - w_p - w_r)\, d_k^{feat}(x) / m^{feat} + w_p\, d_k^{pix}(x) / m^{pix}
              + w_r\, r(x) / m^{rec},

    where ``d_k^{pix}`` is the same k-NN distance on the raw pixels, ``r`` the model's masked-patch
    reconstruction error (:meth:`~tasks.anomaly.models.MaskedTokenIMixer.anomaly_score`, each patch's error
    divided by its median training error) and each ``m`` the median of that term over the training images,
    so every term is in units of a typical training image's.

    The defaults (patches for at most 16 tokens, 100 training steps, flattened last-block tokens, ``k`` 3 %
    of the training images, ``pixel_weight=0.5``, no reconstruction term) were chosen leave-one-source-out
    over digits, MNIST and Fashion-MNIST among 15 settings (``configs/anomaly/select_image.py``); the
    previous default had 49 tokens and ``k = 5``. ``docs/anomaly.md`` has the per-source results and where a
    raw-pixel baseline stays ahead.

    Args:
        image_shape: ``(C, H, W)`` of the flattened rows (``None``: square, one channel).
        patch_size: patch side for the self-supervised model (``None``: the smallest dividing the image
            into at most ``max_patches`` patches).
        max_patches: see ``patch_size``.
        token_mixer: ``'implicit'``, ``'mlp'`` or a dict spec, as in :class:`IMixerTabularDetector`.
        embed_dim, num_blocks, mask_ratio, implicit, epochs, min_iters, max_iters, batch_size, lr,
            weight_decay: as in :class:`IMixerTabularDetector`.
        n_neighbors: ``k`` of the k-NN distance: an int, or a float in ``(0, 1)``, a fraction of the training
            images (rounded down, at least 1; ``n_neighbors_`` holds the ``k`` used). A fraction keeps
            ``k`` above the size of a small cluster of contaminating images as the training set grows.
        pool: ``'flatten'`` (all tokens, concatenated) or ``'mean'`` (their average).
        feature_layer: blocks the features have passed (``0``: the patch embeddings before mixing;
            ``None``: the backbone's output, after its final norm); self-supervised model only.
        standardize_features: z-score every feature dimension with the training features' statistics.
        pixel_weight: ``w_p`` in ``[0, 1)``, the raw-pixel share of the score.
        recon_weight: ``w_r`` in ``[0, 1]``, the reconstruction-error share (``w_p + w_r <= 1``; both ``0``:
            features only); self-supervised model only.
        reuse_training: reuse a model this process trained on the same training images with the same
            training options and seed (a selection grid whose candidates differ only in how they score);
            the fit time then leaves out the training. Results are identical either way.
        backbone: a registered image backbone config to use instead of self-supervised training.
        checkpoint: checkpoint of ``backbone`` (a runner checkpoint of an ``ImageClassifier``; the
            ``backbone.`` prefix is stripped).
        device, random_state, verbose, contamination: as in :class:`IMixerTabularDetector`.
    """

    min_samples = 6

    def __init__(self, image_shape: Optional[Sequence[int]] = None, patch_size: Optional[int] = None,
                 max_patches: int = 16, token_mixer: TokenMixerSpec = "implicit", embed_dim: int = 32,
                 num_blocks: int = 2, mask_ratio: float = 0.5, implicit: Optional[dict] = None,
                 epochs: float = 30.0, min_iters: int = 100, max_iters: int = 100, batch_size: int = 128,
                 lr: float = 2e-3, weight_decay: float = 1e-4, n_neighbors: Union[int, float] = 0.03, pool: str = "flatten",
                 feature_layer: Optional[int] = None, standardize_features: bool = False,
                 pixel_weight: float = 0.5, recon_weight: float = 0.0, reuse_training: bool = False, backbone: Optional[dict] = None,
                 checkpoint: Optional[str] = None, device: str = "auto", random_state: Optional[int] = None,
                 verbose: bool = False, contamination: float = 0.1) -> None:
        super().__init__(contamination)
        self.image_shape, self.patch_size, self.max_patches = image_shape, patch_size, max_patches
        self.token_mixer = token_mixer
        self.embed_dim, self.num_blocks, self.mask_ratio, self.implicit = embed_dim, num_blocks, mask_ratio, implicit
        self.epochs, self.min_iters, self.max_iters = epochs, min_iters, max_iters
        self.batch_size, self.lr, self.weight_decay = batch_size, lr, weight_decay
        self.n_neighbors, self.pool, self.feature_layer = n_neighbors, pool, feature_layer
        self.standardize_features, self.pixel_weight, self.recon_weight = standardize_features, pixel_weight, recon_weight
        self.reuse_training, self.backbone, self.checkpoint = reuse_training, backbone, checkpoint
        self.device, self.random_state, self.verbose = device, random_state, verbose

    def _check_params(self) -> None:
        super()._check_params()
        if self.pool not in ("flatten", "mean"):
            raise ValueError(f"pool must be 'flatten' or 'mean', got {self.pool!r}")
        k = self.n_neighbors
        if isinstance(k, bool) or not ((isinstance(k, (int, np.integer)) and k >= 1)
                                       or (isinstance(k, (float, np.floating)) and 0.0 < k < 1.0)):
            raise ValueError(f"n_neighbors must be an int >= 1 (k itself) or a float in (0, 1) (k as a fraction "
                             f"of the training images), got {k!r}")
        if not (isinstance(self.max_patches, (int, np.integer)) and self.max_patches >= 1):
            raise ValueError(f"max_patches must be an int >= 1, got {self.max_patches!r}")
        if isinstance(self.pixel_weight, bool) or not (isinstance(self.pixel_weight, numbers.Real)
                                                       and 0.0 <= self.pixel_weight < 1.0):
            raise ValueError(f"pixel_weight must be a number in [0, 1) (the raw-pixel share of the score; for "
                             f"raw pixels alone use KNNDetector), got {self.pixel_weight!r}")
        if isinstance(self.recon_weight, bool) or not (isinstance(self.recon_weight, numbers.Real)
                                                       and 0.0 <= self.recon_weight <= 1.0 - self.pixel_weight):
            raise ValueError(f"recon_weight must be a number in [0, 1 - pixel_weight] (the reconstruction-error "
                             f"share of the score), got {self.recon_weight!r} with pixel_weight={self.pixel_weight}")
        if self.recon_weight > 0 and self.backbone is not None:
            raise ValueError("recon_weight scores the self-supervised model's reconstruction; with backbone= set "
                             "recon_weight=0")
        if self.feature_layer is not None:
            if self.backbone is not None:
                raise ValueError("feature_layer selects a block of the self-supervised model; with backbone= "
                                 "leave it None (the backbone's forward_features are used)")
            if isinstance(self.feature_layer, bool) or not (isinstance(self.feature_layer, (int, np.integer))
                                                            and 0 <= self.feature_layer <= self.num_blocks):
                raise ValueError(f"feature_layer must be an int in [0, num_blocks={self.num_blocks}] or None "
                                 f"(the last block's normalised output), got {self.feature_layer!r}")
        for name in ("standardize_features", "reuse_training"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _min_samples(self) -> int:
        if isinstance(self.n_neighbors, (float, np.floating)):
            return self.min_samples
        return max(self.min_samples, int(self.n_neighbors) + 1)

    def _k(self, n_train: int) -> int:
        """``k`` for ``n_train`` training images: ``n_neighbors`` itself, or a fraction of them rounded
        down (at least 1, so always below ``n_train``)."""
        if isinstance(self.n_neighbors, (float, np.floating)):
            return max(1, int(self.n_neighbors * n_train))
        return int(self.n_neighbors)

    def _shape(self, n_features: int) -> Tuple[int, int, int]:
        shape = tuple(int(s) for s in self.image_shape) if self.image_shape is not None else _square_shape(n_features)
        if len(shape) != 3 or int(np.prod(shape)) != n_features:
            raise ValueError(f"image_shape={shape} does not match {n_features} features per row "
                             "(expected (C, H, W) with C*H*W = n_features)")
        return shape  # type: ignore[return-value]

    def _patch(self, h: int, w: int) -> int:
        if self.patch_size is not None:
            p = int(self.patch_size)
            if h % p or w % p:
                raise ValueError(f"patch_size={p} must divide the image size {(h, w)}")
            return p
        for p in range(1, min(h, w) + 1):
            if h % p == 0 and w % p == 0 and (h // p) * (w // p) <= int(self.max_patches):
                return p
        return min(h, w)

    def _tokens(self, X: np.ndarray) -> np.ndarray:
        c, h, w = self.shape_
        p = self.patch_
        img = X.reshape(len(X), c, h // p, p, w // p, p)
        return np.ascontiguousarray(img.transpose(0, 2, 4, 1, 3, 5).reshape(len(X), (h // p) * (w // p), c * p * p))

    def _fit(self, X: np.ndarray) -> None:
        seed = check_random_state_int(self.random_state)
        self.shape_ = self._shape(X.shape[1])
        self.mean_, self.scale_ = float(X.mean()), float(X.std() or 1.0)
        if self.backbone is not None:
            self.model_ = self._load_backbone()
        else:
            c, h, w = self.shape_
            self.patch_ = self._patch(h, w)
            self.model_, self.n_iter_ = self._train(self._tokens((X - self.mean_) / self.scale_), seed)
        self.n_neighbors_ = self._k(len(X))
        self.train_scores_ = self._ensemble(X, fit=True)

    def _weights(self) -> Tuple[float, float, float]:
        """``(features, pixels, reconstruction)`` shares of the score."""
        wp, wr = float(self.pixel_weight), float(self.recon_weight)
        return 1.0 - wp - wr, wp, wr

    def _ensemble(self, X: np.ndarray, fit: bool = False) -> np.ndarray:
        """The score of the class docstring for the rows ``X``; with ``fit``, ``X`` are the training
        images: the k-NN indices and each term's unit ``m`` are set from them (a row leaves itself out)."""
        from sklearn.neighbors import NearestNeighbors

        k = self.n_neighbors_
        wf, wp, wr = self._weights()
        terms = []
        if wf > 0:
            feats = self._features(X)
            if fit and self.standardize_features:
                self.feat_mean_ = feats.mean(0)
                std = feats.std(0)
                self.feat_scale_ = np.where(std > 1e-12, std, 1.0)
            if self.standardize_features:
                feats = (feats - self.feat_mean_) / self.feat_scale_
            terms.append(("feat", wf, feats))
        if wp > 0:
            terms.append(("pixel", wp, X))
        score = np.zeros(len(X))
        for name, weight, rows in terms:
            if fit:
                knn = NearestNeighbors(n_neighbors=k + 1).fit(rows)
                setattr(self, f"{name}_knn_", knn)
                dist = knn.kneighbors(rows, n_neighbors=k + 1)[0][:, -1]
                setattr(self, f"{name}_unit_", _median_scale(dist))
            else:
                dist = getattr(self, f"{name}_knn_").kneighbors(rows, n_neighbors=k)[0][:, -1]
            score += weight * dist / getattr(self, f"{name}_unit_")
        if wr > 0:
            tokens = self._tokens((X - self.mean_) / self.scale_)
            if fit:  # the per-patch error scale of the score comes from the training images
                with torch.no_grad():
                    rec = self.model_.calibrate(self._tensor_batches(tokens)).cpu().numpy().astype(np.float64)
                self.recon_unit_ = _median_scale(rec)
            else:
                rec = self._batched(self.model_.anomaly_score, tokens)
            score += wr * rec / self.recon_unit_
        return score

    def _train(self, T: np.ndarray, seed: int) -> Tuple[torch.nn.Module, int]:
        """The masked-patch reconstruction model trained on the patch tokens ``T``; ``(model, steps)``."""
        import hashlib

        from .engine import train_with_runner

        steps = _n_iters(len(T), self.batch_size, self.epochs, self.min_iters, self.max_iters)
        model_cfg = dict(type="MaskedTokenIMixer", num_tokens=T.shape[1], token_dim=T.shape[2],
                         shared_embedding=True, embed_dim=self.embed_dim, num_blocks=self.num_blocks,
                         token_mixer=self._token_mixer(), mask_ratio=self.mask_ratio, score_repeats=1, seed=seed)
        train = dict(steps=steps, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                     seed=seed, device=self._device())
        key = hashlib.sha1(repr((sorted(model_cfg.items()), sorted(train.items()))).encode()
                           + np.ascontiguousarray(T, dtype=np.float32).tobytes()).hexdigest()
        if self.reuse_training and key in _TRAINED:
            _TRAINED.move_to_end(key)
            return _TRAINED[key]
        trained = train_with_runner(
            model_cfg, dict(type="ArrayDataset", X=T.reshape(len(T), -1), token_shape=T.shape[1:]),
            max_iters=steps, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            seed=seed, device=train["device"], progress=self.verbose, desc=f"{type(self).__name__}")
        if self.reuse_training:
            _TRAINED[key] = trained
            while len(_TRAINED) > _TRAINED_MAX:
                _TRAINED.popitem(last=False)
        return trained

    def _load_backbone(self) -> torch.nn.Module:
        from mmengine.runner import load_checkpoint

        from backbones.registry import MODELS

        cfg = dict(self.backbone)
        cfg.setdefault("num_classes", 0)
        model = MODELS.build(cfg)
        if self.checkpoint is not None:
            load_checkpoint(model, self.checkpoint, map_location="cpu", revise_keys=[(r"^backbone\.", "")],
                            strict=False, logger="silent")
        return model.to(self._device()).eval()

    def _features(self, X: np.ndarray) -> np.ndarray:
        """Pooled features of the images ``X`` (before ``standardize_features``)."""
        if self.backbone is not None:
            c, h, w = self.shape_
            fn = lambda t: self.model_.forward_features(t.reshape(len(t), c, h, w))  # noqa: E731
            data = X
        else:
            fn = lambda t: self.model_.features(t, layer=self.feature_layer)  # noqa: E731
            data = self._tokens((X - self.mean_) / self.scale_)
        pool = (lambda t: fn(t).mean(1)) if self.pool == "mean" else (lambda t: fn(t).flatten(1))
        return self._batched(pool, data, batch_size=512)

    def _threshold_scores(self, X: np.ndarray) -> np.ndarray:
        return self.train_scores_

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._ensemble(X)
