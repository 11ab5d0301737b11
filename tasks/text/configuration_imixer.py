"""iMixer text-model configuration (a Hugging Face transformers ``PreTrainedConfig``).

The text iMixer embeds a padded sequence of ``max_position_embeddings`` word-piece tokens and runs
the shared 1-D backbone ``IMixerSequence`` over it. A Mixer's token-mixing weights are ``N x D``
matrices over the token axis, so the token count is part of the weights: ``max_position_embeddings``
is the *fixed* number of tokens the model is built for. Shorter inputs are padded and masked; longer
inputs must be truncated by the tokenizer.

The token mixer is the project's one token-mixer spec: ``'implicit'`` (the iMixer, with the authors'
recipe ``h_ratio=2, n_iter=2, coeff=0.9``), ``'mlp'`` (the MLP-Mixer twin) or
``dict(type='implicit', n_iter=4, solver='anderson', ...)``. Implicit-layer options given as plain
keywords (``IMixerConfig(h_ratio=2, n_iter=4)``, and configs saved with those keys at the top level)
are folded into ``token_mixer``.

A saved config carries ``auto_map`` and the model's code (:func:`~tasks.text.backbone.write_model_code`),
so the folder loads with ``trust_remote_code=True`` in a process that has never imported this project.

Example::

    >>> import tasks.text  # registers model_type 'imixer' with the Auto classes
    >>> from transformers import AutoConfig
    >>> cfg = AutoConfig.for_model('imixer', vocab_size=8000, max_position_embeddings=256, num_labels=5)
    >>> cfg.token_mixer
    {'type': 'implicit'}
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from transformers import PretrainedConfig

from .backbone import ACTIVATIONS, IMPLICIT_KEYS, check_relative_mixing, resolve_token_mixer, write_model_code

#: the Auto classes a saved folder maps to its own code (``config.json``'s ``auto_map``)
AUTO_MAP = {"AutoConfig": "configuration_imixer.IMixerConfig",
            "AutoModel": "modeling_imixer.IMixerModel",
            "AutoModelForSequenceClassification": "modeling_imixer.IMixerForSequenceClassification",
            "AutoModelForMaskedLM": "modeling_imixer.IMixerForMaskedLM",
            "AutoModelForCausalLM": "modeling_imixer.IMixerForCausalLM"}


class IMixerConfig(PretrainedConfig):
    r"""Configuration of :class:`~tasks.text.modeling_imixer.IMixerModel` and its heads.

    Args:
        vocab_size: number of token ids (rows of the word-embedding matrix); must be at least the
            tokenizer's ``len(tokenizer)``.
        max_position_embeddings: the fixed token count ``L`` of the token mixers (and of the learned
            position embeddings). Inputs may be shorter (padded and masked), never longer.
        hidden_size: token width ``C``.
        embedding_size: width ``E`` of the word embeddings; ``None``: ``hidden_size``. Another width
            adds a linear projection ``E -> C`` after the lookup (ALBERT's factorised embeddings), e.g.
            384 to start from MiniLM's word-piece table (``HFTextClassifier(word_embeddings=...)``).
        num_hidden_layers: number of Mixer blocks.
        mlp_ratio: ``(tokens, channels)`` hidden widths as multiples of ``hidden_size``; the token
            mixer's internal width is ``D = mlp_ratio[0] * hidden_size``.
        token_mixer: ``'implicit'`` (the iMixer, :math:`(1-G)^{-1}`), ``'mlp'`` (the MLP-Mixer twin) or
            ``dict(type='implicit', **options)`` with options of the implicit layer (``h_ratio``,
            ``n_iter``, ``coeff``, ``solver``, ``grad``, ``tol``, ...). Stored normalised,
            ``{'type': ..., **the options given}``; the rest are the authors' recipe.
        relative_mixing: share every token-mixing weight over the offsets between positions (Toeplitz
            matrices: ``True`` every offset, an int ``r`` offsets up to ``r``); ``False`` (default)
            position-indexed matrices, the Mixer's. With a causal token mixer, only the past offsets
            (:class:`~backbones.sequence.IMixerSequence`). Needs ``mlp_ratio[0] * hidden_size`` (and the
            implicit hidden width) to be whole multiples of ``max_position_embeddings``.
        hidden_act: activation of the MLPs (and of ``G`` unless ``token_mixer`` sets ``act``).
        hidden_dropout_prob: dropout inside the MLPs and after the embeddings.
        drop_path_rate: stochastic depth, linearly increasing over the blocks up to this rate.
        classifier_dropout: dropout before the classification head.
        initializer_range: std of the normal initialisation of the token / position embeddings.
        pad_token_id: id of the padding token (its embedding row is zero and receives no gradient).
        tie_word_embeddings: the language-model heads' decoder shares the word-embedding matrix.
        **kwargs: :class:`~transformers.PretrainedConfig` options (``num_labels``, ``id2label``,
            ``label2id``, ``problem_type``, ...), and implicit-layer options as plain keywords (folded
            into ``token_mixer``).

    Raises:
        ValueError / TypeError: an impossible value, an unknown implicit option, or implicit options
            with ``token_mixer='mlp'``, at construction.
    """

    model_type = "imixer"

    vocab_size: int = 8000
    max_position_embeddings: int = 256
    hidden_size: int = 128
    embedding_size: Optional[int] = None
    num_hidden_layers: int = 2
    mlp_ratio: Any = (0.5, 4.0)
    token_mixer: Any = "implicit"
    relative_mixing: Any = False
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    drop_path_rate: float = 0.0
    classifier_dropout: float = 0.0
    initializer_range: float = 0.02
    pad_token_id: Optional[int] = 0
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs) -> None:
        self.mlp_ratio = tuple(float(r) for r in self.mlp_ratio)
        if len(self.mlp_ratio) != 2:
            raise ValueError(f"mlp_ratio must be (tokens, channels), got {self.mlp_ratio}")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act must be one of {sorted(ACTIVATIONS)}, got {self.hidden_act!r}")
        check_relative_mixing(self.relative_mixing)
        legacy = {k: kwargs.pop(k) for k in IMPLICIT_KEYS if k in kwargs}
        self.token_mixer = self._resolve_mixer(self.token_mixer, legacy)
        for name in ("vocab_size", "max_position_embeddings", "hidden_size", "num_hidden_layers", "embedding_size"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id={self.pad_token_id} is outside the vocabulary [0, {self.vocab_size})")
        super().__post_init__(**kwargs)

    def _resolve_mixer(self, token_mixer, legacy: Dict[str, Any]) -> Dict[str, Any]:
        """The normalised spec. An implicit mixer is checked with the activation it will use:
        ``hidden_act``, unless the spec names its own ``act``."""
        given = dict(token_mixer) if isinstance(token_mixer, Mapping) else {}
        kind = given.get("type", "implicit") if given else (token_mixer or "implicit")
        inherit = kind == "implicit" and "act" not in given and "act" not in legacy
        spec = resolve_token_mixer(token_mixer, **legacy, **({"act": self.hidden_act} if inherit else {}))
        if inherit:
            del spec["act"]
        return spec

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs) -> None:
        """``PretrainedConfig.save_pretrained`` plus the model's code and ``auto_map``, so the folder
        loads with ``AutoModelForSequenceClassification.from_pretrained(dir, trust_remote_code=True)``
        anywhere (``PreTrainedModel.save_pretrained`` calls this too)."""
        self.auto_map = dict(AUTO_MAP)
        super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        write_model_code(save_directory)


__all__ = ["IMixerConfig", "AUTO_MAP"]
