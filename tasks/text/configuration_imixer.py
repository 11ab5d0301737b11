"""iMixer text-model configuration (a Hugging Face transformers ``PreTrainedConfig``).

The text iMixer embeds a padded sequence of ``max_position_embeddings`` word-piece tokens and runs
the shared 1-D backbone :class:`backbones.IMixerSequence` over it. A Mixer's token-mixing weights are
``N x D`` matrices over the token axis, so the token count is part of the weights:
``max_position_embeddings`` is the *fixed* number of tokens the model is built for. Shorter inputs are
padded and masked; longer inputs must be truncated by the tokenizer.

Implicit-layer options (``h_ratio``, ``coeff``, ``n_power``, ``solver``, ``grad``, ``n_iter``, ``tol``,
``max_iter``, ``anderson_m``, ``phantom_steps``, ``phantom_damping``, ``recompute``) are the options of
:class:`backbones.fixed_point.ImplicitLayer`; they apply to ``token_mixer='implicit'`` and are ignored
by the explicit twin ``token_mixer='mlp'``.

Example::

    >>> import tasks.text  # registers model_type 'imixer' with the Auto classes
    >>> from transformers import AutoConfig
    >>> cfg = AutoConfig.for_model('imixer', vocab_size=8000, max_position_embeddings=256, num_labels=5)
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from transformers import PretrainedConfig

from backbones.fixed_point import ACTIVATIONS, GRADS, IMPLICIT_KEYS, RECOMPUTE, SOLVERS, TOKEN_MIXERS


class IMixerConfig(PretrainedConfig):
    r"""Configuration of :class:`~tasks.text.modeling_imixer.IMixerModel` and its heads.

    Args:
        vocab_size: number of token ids (rows of the word-embedding matrix); must be at least the
            tokenizer's ``len(tokenizer)``.
        max_position_embeddings: the fixed token count ``L`` of the token mixers (and of the learned
            position embeddings). Inputs may be shorter (padded and masked), never longer.
        hidden_size: token width ``C``.
        num_hidden_layers: number of Mixer blocks.
        mlp_ratio: ``(tokens, channels)`` hidden widths as multiples of ``hidden_size``; the token
            mixer's internal width is ``D = mlp_ratio[0] * hidden_size``.
        token_mixer: ``'implicit'`` (the iMixer, :math:`(1-G)^{-1}`) or ``'mlp'`` (the MLP-Mixer twin).
        hidden_act: activation of the MLPs and of ``G`` (``'gelu'``, ``'silu'``, ``'relu'``, ``'tanh'``).
        hidden_dropout_prob: dropout inside the MLPs and after the embeddings.
        drop_path_rate: stochastic depth, linearly increasing over the blocks up to this rate.
        classifier_dropout: dropout before the classification head.
        initializer_range: std of the normal initialisation of the token / position embeddings.
        pad_token_id: id of the padding token (its embedding row is zero and receives no gradient).
        h_ratio: ``G``'s hidden width ratio ``h`` (``W_a: D -> hD``).
        coeff: spectral-norm cap ``c``; ``None`` picks the solver mode's default.
        n_power: power-iteration steps per training forward.
        solver: ``'unroll'`` (the authors'), ``'fixed_point'`` or ``'anderson'``.
        grad: ``'unroll'``, ``'implicit'`` or ``'phantom'``; ``None`` picks the solver's default.
        n_iter: steps of the unrolled solver.
        tol: relative-residual tolerance of the convergent solvers.
        max_iter: iteration cap of the convergent solvers.
        anderson_m: Anderson memory.
        phantom_steps: the phantom gradient's ``k``.
        phantom_damping: the phantom gradient's ``lambda``.
        recompute: what the unrolled solver's backward recomputes (``'auto'``, ``'all'``, ``'act'`` or
            ``None``; memory vs. compute, same gradients; ``'auto'``: ``'all'`` on a GPU, ``None`` on
            the CPU).
        **kwargs: :class:`~transformers.PretrainedConfig` options (``num_labels``, ``id2label``,
            ``label2id``, ``problem_type``, ...).
    """

    model_type = "imixer"

    vocab_size: int = 8000
    max_position_embeddings: int = 256
    hidden_size: int = 128
    num_hidden_layers: int = 2
    mlp_ratio: Any = (0.5, 4.0)
    token_mixer: str = "implicit"
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    drop_path_rate: float = 0.0
    classifier_dropout: float = 0.0
    initializer_range: float = 0.02
    pad_token_id: Optional[int] = 0
    # implicit-layer options (backbones.fixed_point.ImplicitLayer)
    h_ratio: float = 2.0
    coeff: Optional[float] = None
    n_power: int = 8
    solver: str = "unroll"
    grad: Optional[str] = None
    n_iter: int = 2
    tol: float = 1e-3
    max_iter: int = 30
    anderson_m: int = 5
    phantom_steps: int = 5
    phantom_damping: float = 0.5
    recompute: Optional[str] = "auto"

    def __post_init__(self, **kwargs) -> None:
        self.mlp_ratio = tuple(float(r) for r in self.mlp_ratio)
        if len(self.mlp_ratio) != 2:
            raise ValueError(f"mlp_ratio must be (tokens, channels), got {self.mlp_ratio}")
        if self.token_mixer not in TOKEN_MIXERS:
            raise ValueError(f"token_mixer must be one of {TOKEN_MIXERS} ('implicit' = iMixer, 'mlp' = "
                             f"MLP-Mixer), got {self.token_mixer!r}")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act must be one of {sorted(ACTIVATIONS)}, got {self.hidden_act!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.recompute not in RECOMPUTE:
            raise ValueError(f"recompute must be one of {RECOMPUTE}, got {self.recompute!r}")
        if self.grad is not None and self.grad not in GRADS:
            raise ValueError(f"grad must be one of {GRADS} or None, got {self.grad!r}")
        for name in ("vocab_size", "max_position_embeddings", "hidden_size", "num_hidden_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id={self.pad_token_id} is outside the vocabulary [0, {self.vocab_size})")
        super().__post_init__(**kwargs)

    def implicit_kwargs(self) -> Dict[str, Any]:
        """The :class:`~backbones.fixed_point.ImplicitLayer` options for the backbone
        (empty for ``token_mixer='mlp'``, whose backbone rejects them)."""
        if self.token_mixer != "implicit":
            return {}
        return {k: getattr(self, k) for k in IMPLICIT_KEYS}


__all__ = ["IMixerConfig"]
