r"""Masked-token reconstruction with a 1-D iMixer: the self-supervised model behind the neural detectors.

A sample is a sequence of ``L`` tokens with ``P`` values each: ``P = 1`` for tabular data (one token
per feature) and ``P = p^2 C`` for images (one token per ``p x p`` patch). Token ``j`` is embedded as

.. math::
    t_j = \begin{cases} m + e_j & j \text{ masked} \\ W_j v_j + b_j + e_j & \text{otherwise} \end{cases}

with a learnt mask vector ``m``, a token-identity (position) embedding ``e_j`` and a value embedding
``W_j, b_j`` that is per-token for tabular data (feature ``j`` has its own scale and meaning) and shared
for image patches. :class:`backbones.IMixerSequence` (``token_mixer='implicit'``: the iMixer, ``'mlp'``:
its explicit twin) mixes the tokens and a per-token (or shared) linear head reconstructs
:math:`\hat v_j`. The training loss is the mean squared error on the masked tokens only:

.. math::
    \mathcal{L} = \frac{1}{|M|}\sum_{j \in M} \lVert \hat v_j - v_j \rVert^2 / P,\qquad
    M_j \sim \text{Bernoulli}(r),\ r \sim U(0, 1) \text{ per row (at least one token masked)}.

The training data are contaminated (unlabelled outliers among the rows), so the loss is *trimmed*: per
batch, the ``trim_ratio`` fraction of rows with the largest error is left out. Networks fit the
majority (inlier) pattern before they memorise outliers (the "inlier-memorisation" effect that loss
truncation exploits, e.g. ALTBI, arXiv 2408.09791), and dropping the hardest rows keeps the outliers
from being learnt as normal.

**Anomaly score (``mask_mode='any_order'``, the default).** ``R`` random token orders are drawn once
(a buffer: scores are deterministic) and each is cut into ``G = ceil(1 / mask_ratio)`` chunks
:math:`C_1, \dots, C_G`. Pattern ``g`` hides chunks ``g..G`` and scores the error on chunk ``g``, so
chunk ``g`` is predicted from chunks ``< g`` only (the first from nothing):

.. math::
    r_j(x) = \frac{1}{R}\sum_{\text{orders}} \lVert \hat v_j(x_{C_{<g(j)}}) - v_j \rVert^2,\qquad
    \mathrm{score}(x) = \frac{1}{L}\sum_j r_j(x) / s_j ,

with :math:`s_j` the median of :math:`r_j` over the training rows (set by :meth:`calibrate` / the
:class:`~tasks.anomaly.engine.AnomalyCalibrationHook`). With Gaussian conditionals of variance
:math:`\propto s_j`, :math:`\sum_j r_j / s_j` is, up to constants, the negative log-likelihood of an
*order-agnostic autoregressive* model (Uria et al., "A deep and tractable density estimator", ICML
2014): :math:`-\log p(x) = -\sum_g \log p(x_{C_g} \mid x_{C_{<g}})`, averaged over orders. Training
with a uniformly drawn mask rate trains exactly the conditionals with every context size that this
factorisation queries.

**Heavy-tailed errors (``error_df``).** The Gaussian term lets one badly predicted token dominate a row's
score: a sparse or heavy-tailed feature (a word count, a categorical code) whose typical error is tiny
charges any unusual value enormously. With ``error_df = nu`` the conditionals are Student-t instead, and
token ``j`` adds :math:`\nu \log(1 + r_j / (\nu s_j))` (its negative log-likelihood up to constants and
the factor :math:`(\nu + 1) / (2\nu)`): linear in :math:`r_j / s_j` for small errors, logarithmic for
large ones, the Gaussian term again as :math:`\nu \to \infty`. A row then scores high when *many*
tokens are poorly predicted rather than one. :class:`~tasks.anomaly.detectors.IMixerTabularDetector`
uses ``nu = 4`` (chosen with its other defaults by the leave-one-dataset-out selection); this model keeps
the Gaussian as its own default, as it keeps ``'any_order'``, for the ``configs/anomaly/maskrecon_*``
runner configs.

Why this objective: inliers' features are predictable from each other (the correlations the model
learns from the mostly-normal training data) and outliers break them, while the early chunks (little
or no context) also charge points that are extreme in every feature but self-consistent, which a
pure leave-group-out score (``mask_mode='partition'``: each group predicted from all other tokens)
misses. Predicting hidden tokens cannot be solved by copying the input, so no bottleneck has to be
tuned as for an auto-encoder, and the per-token scale :math:`s_j` keeps inherently unpredictable
(noise) features from dominating. Development runs on four ODDS sets favoured the any-order score;
the leave-one-dataset-out selection over 15 sets chose the partition score for
:class:`~tasks.anomaly.detectors.IMixerTabularDetector` (``docs/anomaly.md``). This model keeps
``'any_order'`` as its own default for the ``configs/anomaly/maskrecon_*`` runner configs.
"""
from __future__ import annotations

import math
import numbers
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModel

from backbones.registry import MODELS
from backbones.sequence import IMixerSequence
from backbones.token_mixers import TokenMixerSpec


def fixed_mask_patterns(num_tokens: int, mask_ratio: float, repeats: int, seed: int = 0,
                        mode: str = "any_order") -> Tuple[torch.Tensor, torch.Tensor]:
    """The fixed scoring masks.

    ``'partition'``: ``repeats`` random partitions of the tokens into ``G = ceil(1 / mask_ratio)``
    groups; pattern ``g`` hides group ``g`` and predicts it from all other tokens.
    ``'any_order'``: ``repeats`` random token orders cut into ``G`` consecutive chunks; pattern ``g``
    hides chunks ``g, g+1, ...`` and predicts chunk ``g`` from chunks ``< g`` (the first chunk from
    nothing), an order-agnostic autoregressive factorisation of the joint.

    Returns:
        ``hidden`` bool ``(K, L)`` (what the model does not see) and ``target`` bool ``(K, L)`` (whose
        errors are scored), ``K = repeats * G``; every token is a target exactly ``repeats`` times.
    """
    if mode not in ("partition", "any_order", "mixed"):
        raise ValueError(f"mask mode must be 'partition', 'any_order' or 'mixed', got {mode!r}")
    if mode == "mixed":
        h1, t1 = fixed_mask_patterns(num_tokens, mask_ratio, repeats, seed, "any_order")
        h2, t2 = fixed_mask_patterns(num_tokens, mask_ratio, repeats, seed + 1, "partition")
        return torch.cat([h1, h2]), torch.cat([t1, t2])
    groups = max(1, min(num_tokens, math.ceil(1.0 / mask_ratio)))
    rng = np.random.RandomState(seed)
    hidden, target = [], []
    for _ in range(repeats):
        perm = rng.permutation(num_tokens)
        chunks = np.array_split(perm, groups) if mode == "any_order" else [perm[g::groups] for g in range(groups)]
        for g in range(groups):
            t = np.zeros(num_tokens, dtype=bool)
            t[chunks[g]] = True
            h = t.copy()
            if mode == "any_order":
                for later in chunks[g + 1:]:
                    h[later] = True
            hidden.append(h)
            target.append(t)
    return torch.as_tensor(np.stack(hidden)), torch.as_tensor(np.stack(target))


@MODELS.register_module()
class MaskedTokenIMixer(BaseModel):
    """Masked-token reconstruction model (see the module docstring) for the mmengine Runner.

    Args:
        num_tokens: ``L``: features (tabular) or patches (images).
        token_dim: ``P``: values per token (1 for tabular).
        embed_dim: token width ``C``.
        num_blocks: Mixer blocks.
        token_mixer: ``'implicit'`` (iMixer), ``'mlp'`` (explicit twin) or a dict spec
            (:mod:`backbones.token_mixers`).
        shared_embedding: one value embedding / head for all tokens (image patches) instead of one per
            token (tabular features).
        mask_ratio: ``rho``, the masking probability in training and ``1 / groups`` in scoring.
        score_repeats: ``R``, partitions / orders used for the fixed scoring masks.
        mask_mode: ``'any_order'`` (default), ``'partition'`` or ``'mixed'`` (both pattern sets; see the
            module docstring).
        trim_ratio: fraction of each batch's rows with the largest loss left out of the loss (robust
            training on contaminated data; 0 = plain mean).
        error_df: the per-token error model of the score: ``None`` = Gaussian (a token adds
            ``r_j / s_j``), a number ``nu > 0`` = Student-t with ``nu`` degrees of freedom (a token adds
            ``nu * log(1 + r_j / (nu * s_j))``, its negative log-likelihood up to constants; it tends to
            the Gaussian term as ``nu`` grows and bounds how much one badly predicted token can add).
        mlp_ratio: ``(tokens, channels)`` widths of the Mixer MLPs.
        drop_rate: dropout in the Mixer MLPs.
        implicit: implicit options merged into ``token_mixer`` (kept for existing configs).
        seed: seed of the fixed scoring masks.
        data_preprocessor: mmengine data preprocessor config.

    Shapes:
        ``inputs``: ``(B, L, P)`` (or ``(B, L)`` when ``P = 1``); ``labels``: ``(B,)`` (1 = outlier,
        evaluation only).
    """

    def __init__(self, num_tokens: int, token_dim: int = 1, embed_dim: int = 32, num_blocks: int = 2,
                 token_mixer: TokenMixerSpec = "implicit", shared_embedding: bool = False, mask_ratio: float = 0.25,
                 score_repeats: int = 4, mask_mode: str = "any_order", trim_ratio: float = 0.1,
                 error_df: Optional[float] = None, mlp_ratio: Tuple[float, float] = (0.5, 4.0), drop_rate: float = 0.0,
                 implicit: Optional[dict] = None, seed: int = 0, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if num_tokens < 2:
            raise ValueError(f"num_tokens must be >= 2 (a token is predicted from the others), got {num_tokens}")
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        if not 0.0 <= trim_ratio < 1.0:
            raise ValueError(f"trim_ratio must be in [0, 1), got {trim_ratio}")
        self.trim_ratio = float(trim_ratio)
        if error_df is not None and (isinstance(error_df, bool) or not isinstance(error_df, numbers.Real)
                                     or not math.isfinite(error_df) or error_df <= 0):
            raise ValueError(f"error_df must be a number > 0 (Student-t degrees of freedom) or None (Gaussian), "
                             f"got {error_df!r}")
        self.error_df = None if error_df is None else float(error_df)
        if score_repeats < 1:
            raise ValueError(f"score_repeats must be >= 1, got {score_repeats}")
        self.num_tokens, self.token_dim, self.embed_dim = num_tokens, token_dim, embed_dim
        self.shared_embedding, self.mask_ratio = shared_embedding, float(mask_ratio)
        n_emb = 1 if shared_embedding else num_tokens
        self.value_weight = nn.Parameter(torch.empty(n_emb, token_dim, embed_dim))
        self.value_bias = nn.Parameter(torch.zeros(n_emb, embed_dim))
        self.token_embed = nn.Parameter(torch.empty(num_tokens, embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(embed_dim))
        self.backbone = IMixerSequence(num_tokens, embed_dim, num_blocks, mlp_ratio=tuple(mlp_ratio),
                                       token_mixer=token_mixer, drop_rate=drop_rate, **(implicit or {}))
        self.head_weight = nn.Parameter(torch.empty(n_emb, embed_dim, token_dim))
        self.head_bias = nn.Parameter(torch.zeros(n_emb, token_dim))
        if mask_mode not in ("partition", "any_order", "mixed"):
            raise ValueError(f"mask_mode must be 'partition', 'any_order' or 'mixed', got {mask_mode!r}")
        self.mask_mode = mask_mode
        hidden, target = fixed_mask_patterns(num_tokens, mask_ratio, score_repeats, seed, mask_mode)
        self.register_buffer("score_hidden", hidden)
        self.register_buffer("score_target", target)
        self.register_buffer("error_scale", torch.ones(num_tokens))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.value_weight, std=1.0 / math.sqrt(self.token_dim))
        nn.init.normal_(self.token_embed, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.head_weight, std=1.0 / math.sqrt(self.embed_dim))
        nn.init.zeros_(self.value_bias)
        nn.init.zeros_(self.head_bias)

    # -- the network ----------------------------------------------------------------------------------
    def _values(self, inputs: torch.Tensor) -> torch.Tensor:
        v = inputs.unsqueeze(-1) if inputs.ndim == 2 else inputs
        if v.ndim != 3 or v.shape[1] != self.num_tokens or v.shape[2] != self.token_dim:
            raise ValueError(f"expected inputs of shape (B, {self.num_tokens}, {self.token_dim})"
                             f"{' or (B, %d)' % self.num_tokens if self.token_dim == 1 else ''}, got {tuple(inputs.shape)}")
        return v.float()

    def reconstruct(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predict every token from the unmasked ones.

        Args:
            values: ``(B, L, P)``.
            mask: bool ``(B, L)`` or ``(L,)``, True = hidden from the model.

        Returns:
            ``(B, L, P)`` reconstructions.
        """
        tok = torch.einsum("blp,lpc->blc", values, self.value_weight.expand(self.num_tokens, -1, -1)) \
            + self.value_bias
        mask = mask.expand(values.shape[0], -1).unsqueeze(-1)
        tok = torch.where(mask, self.mask_token.to(tok.dtype), tok) + self.token_embed
        h = self.backbone(tok)
        return torch.einsum("blc,lcp->blp", h, self.head_weight.expand(self.num_tokens, -1, -1)) + self.head_bias

    def random_mask(self, batch: int, device: torch.device) -> torch.Tensor:
        """Training masks, bool ``(B, L)``, at least one token masked per row: Bernoulli(``mask_ratio``)
        per token (``'partition'``), or Bernoulli(``r``) with ``r ~ U(0, 1)`` drawn per row
        (``'any_order'``: every context size the scoring factorisation uses is trained)."""
        rate = (torch.rand(batch, 1, device=device) if self.mask_mode != "partition"
                else torch.full((batch, 1), self.mask_ratio, device=device))
        mask = torch.rand(batch, self.num_tokens, device=device) < rate
        empty = ~mask.any(1)
        if empty.any():
            pick = torch.randint(0, self.num_tokens, (int(empty.sum()),), device=device)
            mask[empty.nonzero().squeeze(1), pick] = True
        return mask

    def token_errors(self, inputs: torch.Tensor) -> torch.Tensor:
        """Unscaled per-token errors ``r_j`` over the fixed masks: ``(B, L)``."""
        values = self._values(inputs)
        total = values.new_zeros(values.shape[:2])
        for hidden, target in zip(self.score_hidden, self.score_target):
            err = (self.reconstruct(values, hidden) - values).pow(2).mean(-1)
            total = total + err * target.to(err.dtype)
        return total / self.score_target.sum(0).to(total.dtype)

    def _aggregate(self, errors: torch.Tensor) -> torch.Tensor:
        """Per-token errors ``(B, L)`` -> ``(B,)`` scores under the error model (``error_df``)."""
        z = errors / self.error_scale
        if self.error_df is not None:
            z = self.error_df * torch.log1p(z / self.error_df)
        return z.mean(1)

    def anomaly_score(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B,)`` anomaly scores (higher = more anomalous)."""
        return self._aggregate(self.token_errors(inputs))

    @torch.no_grad()
    def calibrate(self, batches) -> torch.Tensor:
        """Set ``error_scale`` to the per-token median error over ``batches`` of training inputs.

        Returns:
            the anomaly scores of those inputs under the new scale, ``(N,)`` (a detector's threshold
            comes from them without a second pass).
        """
        errs = [self.token_errors(b.to(self.error_scale.device)) for b in batches]
        if not errs:
            raise ValueError("calibrate() got no batches")
        errs = torch.cat(errs)
        med = errs.median(0).values
        self.error_scale.copy_(med.clamp_min(1e-6 * float(med.mean()) + 1e-12))
        return self._aggregate(errs)

    # -- mmengine modes -------------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, labels: Optional[torch.Tensor] = None, mode: str = "tensor",
                **extra) -> Union[Dict[str, torch.Tensor], List[dict], torch.Tensor]:
        if not torch.isfinite(inputs).all():
            raise ValueError("inputs contain NaN or inf values; clean or impute the data first")
        if mode == "loss":
            values = self._values(inputs)
            mask = self.random_mask(values.shape[0], values.device)
            err = (self.reconstruct(values, mask) - values).pow(2).mean(-1)
            m = mask.to(err.dtype)
            row = (err * m).sum(1) / m.sum(1)  # every row has >= 1 masked token
            keep = max(1, int(round(len(row) * (1.0 - self.trim_ratio))))
            if keep < len(row):  # trimmed loss: drop the worst-reconstructed rows of the batch
                row = row.topk(keep, largest=False).values
            return {"loss": row.mean()}
        if mode == "predict":
            scores = self.anomaly_score(inputs)
            gts = labels if labels is not None else [None] * len(scores)
            return [dict(pred_score=s, gt_label=g) for s, g in zip(scores, gts)]
        if mode == "tensor":
            return self.anomaly_score(inputs)
        raise ValueError(f"unknown mode {mode!r}; use 'loss', 'predict' or 'tensor'")

    def features(self, inputs: torch.Tensor, layer: Optional[int] = None) -> torch.Tensor:
        """Tokens of the unmasked input, ``(B, L, C)`` (the image detector's k-NN features).

        Args:
            inputs: ``(B, L, P)`` token values.
            layer: ``None`` (or the number of blocks): the backbone's output (after its final norm);
                ``0``: the embedded tokens before any mixing; ``i``: the output of the first ``i`` blocks.
        """
        values = self._values(inputs)
        tok = torch.einsum("blp,lpc->blc", values, self.value_weight.expand(self.num_tokens, -1, -1)) \
            + self.value_bias + self.token_embed
        blocks = self.backbone.blocks
        if layer is None or layer == len(blocks):
            return self.backbone(tok)
        if not 0 <= layer < len(blocks):
            raise ValueError(f"layer must be in [0, {len(blocks)}] (the model has {len(blocks)} blocks), got {layer}")
        mask = tok.new_ones(tok.shape[:2])
        for block in blocks[:layer]:
            tok = block(tok, mask)
        return tok
