r"""The iMixer for text as a Hugging Face transformers model.

Ota & Taki, "Hierarchical Hopfield network implies an invertible, implicit and iterative MLP-Mixer"
(arXiv 2304.13061), applied to word-piece token sequences. For token ids :math:`t_1..t_L` (padded to
the batch length, mask :math:`m_i \in \{0, 1\}`):

.. math::
    x^{(0)}_i = E_{tok}[t_i] + E_{pos}[i], \qquad
    X = \mathrm{IMixerSequence}(X^{(0)}, m), \qquad
    h = \frac{\sum_i m_i X_i}{\sum_i m_i}, \qquad
    \mathrm{logits} = W_{cls}\,\mathrm{Dropout}(h) + b_{cls}.

``IMixerSequence`` (``backbones.sequence``) is the shared 1-D iMixer: each block mixes the tokens
with the implicit module :math:`y = W_{out}\sigma((1 - G)^{-1} W_{in} x)` (or a plain MLP for the
explicit twin ``token_mixer='mlp'``) and the channels with an MLP. Padded tokens are zeroed before
every token-mixing step and excluded from the mean, so padding (its amount and its token ids) never
changes a prediction. The backbone is built for exactly ``config.max_position_embeddings`` tokens;
shorter inputs are padded internally.

Classes: :class:`IMixerPreTrainedModel`, :class:`IMixerModel` (returns
``BaseModelOutputWithPooling``, the pooled output is the masked mean) and
:class:`IMixerForSequenceClassification` (``SequenceClassifierOutput``, with the loss when ``labels``
are given). Importing :mod:`tasks.text` registers them with ``AutoModel`` and
``AutoModelForSequenceClassification``; a saved model carries this code and loads with
``trust_remote_code=True`` without the project (:mod:`tasks.text.backbone`).
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling, SequenceClassifierOutput

from .backbone import IMixerSequence, SpectralNormLinear
from .configuration_imixer import IMixerConfig


class IMixerEmbeddings(nn.Module):
    """Token + learned absolute position embeddings, then dropout. Word embeddings of another width
    ``E = config.embedding_size`` are projected to ``C = hidden_size`` first.

    Shapes:
        ``input_ids``: ``(B, L)`` or ``inputs_embeds``: ``(B, L, E)`` with ``L <= max_position_embeddings``
        -> ``(B, L, C)``.
    """

    def __init__(self, config: IMixerConfig) -> None:
        super().__init__()
        width = config.embedding_size or config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, width, padding_idx=config.pad_token_id)
        self.projection = nn.Linear(width, config.hidden_size) if width != config.hidden_size else None
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Optional[torch.Tensor] = None,
                inputs_embeds: Optional[torch.Tensor] = None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if self.projection is not None:
            inputs_embeds = self.projection(inputs_embeds)
        length = inputs_embeds.shape[1]
        positions = torch.arange(length, device=inputs_embeds.device)
        return self.dropout(inputs_embeds + self.position_embeddings(positions).unsqueeze(0))


class IMixerPreTrainedModel(PreTrainedModel):
    """Weight initialisation and the ``from_pretrained`` / ``save_pretrained`` plumbing.

    Initialisation follows timm's Mixer: xavier-uniform linears with zero bias (spectral-norm power
    iteration re-converged afterwards), unit LayerNorms, zero classification head; embeddings
    ``N(0, initializer_range)`` with a zero padding row.
    """

    config_class = IMixerConfig
    config: IMixerConfig
    base_model_prefix = "imixer"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _no_split_modules = ["MixerBlock"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, SpectralNormLinear):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
            module.refresh(100)  # re-converge the power-iteration vectors u, v for the new weight
        elif isinstance(module, nn.Linear):
            if module is getattr(self, "classifier", None):
                init.zeros_(module.weight)
            else:
                init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)


class IMixerModel(IMixerPreTrainedModel):
    """The bare iMixer text encoder: embeddings, ``IMixerSequence``, masked mean pooling.

    Args:
        config: the model configuration.

    Shapes:
        ``input_ids``: ``(B, L)``, ``attention_mask``: ``(B, L)`` (1 = token, 0 = padding)
        -> ``last_hidden_state`` ``(B, L, C)``, ``pooler_output`` ``(B, C)``.
    """

    def __init__(self, config: IMixerConfig) -> None:
        super().__init__(config)
        self.embeddings = IMixerEmbeddings(config)
        self.encoder = IMixerSequence(
            seq_len=config.max_position_embeddings, embed_dim=config.hidden_size,
            num_blocks=config.num_hidden_layers, mlp_ratio=tuple(config.mlp_ratio),
            token_mixer=config.token_mixer, act=config.hidden_act, drop_rate=config.hidden_dropout_prob,
            drop_path_rate=config.drop_path_rate)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def _check_inputs(self, input_ids: Optional[torch.Tensor], inputs_embeds: Optional[torch.Tensor],
                      attention_mask: Optional[torch.Tensor]) -> Tuple[int, int]:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        ref = input_ids if input_ids is not None else inputs_embeds
        if input_ids is not None and input_ids.ndim != 2:
            raise ValueError(f"input_ids must have shape (batch, length), got {tuple(input_ids.shape)}")
        width = self.embeddings.word_embeddings.embedding_dim
        if inputs_embeds is not None and (inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != width):
            raise ValueError(f"inputs_embeds must have shape (batch, length, {width}) (the word embeddings' width), "
                             f"got {tuple(inputs_embeds.shape)}")
        b, length = ref.shape[:2]
        if length > self.config.max_position_embeddings:
            raise ValueError(
                f"sequence length {length} exceeds max_position_embeddings={self.config.max_position_embeddings}, "
                "the fixed token count of this model's token mixers. Truncate with the tokenizer "
                f"(tokenizer(..., truncation=True), or pipeline(..., truncation=True)).")
        if input_ids is not None and input_ids.numel():
            lo, hi = int(input_ids.min()), int(input_ids.max())
            if lo < 0 or hi >= self.config.vocab_size:
                raise ValueError(f"token ids must lie in [0, {self.config.vocab_size}) (config.vocab_size), got "
                                 f"[{lo}, {hi}]: the tokenizer's vocabulary is larger than the model's; build the "
                                 "model with vocab_size >= len(tokenizer)")
        if attention_mask is not None:
            if tuple(attention_mask.shape) != (b, length):
                raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} does not match the inputs "
                                 f"{(b, length)}")
            empty = (attention_mask.sum(-1) == 0).nonzero().flatten().tolist()
            if empty:
                raise ValueError(f"samples {empty[:10]} have no tokens (attention_mask all zero): empty texts "
                                 "cannot be classified")
        return b, length

    def forward(self, input_ids: Optional[torch.Tensor] = None, attention_mask: Optional[torch.Tensor] = None,
                inputs_embeds: Optional[torch.Tensor] = None, output_hidden_states: Optional[bool] = None,
                return_dict: Optional[bool] = None) -> Union[BaseModelOutputWithPooling, Tuple[torch.Tensor, ...]]:
        """Encode a batch.

        Args:
            input_ids: token ids ``(B, L)``, ``L <= max_position_embeddings``.
            attention_mask: ``(B, L)``, 1 for tokens, 0 for padding; ``None``: no padding.
            inputs_embeds: ``(B, L, C)`` instead of ``input_ids``.
            output_hidden_states: also return the embeddings and every block's output ``(B, L, C)``.
            return_dict: return a ``ModelOutput`` (default ``config.return_dict``) or a tuple.

        Returns:
            ``BaseModelOutputWithPooling(last_hidden_state, pooler_output, hidden_states)``.
        """
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        b, length = self._check_inputs(input_ids, inputs_embeds, attention_mask)
        x = self.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds)
        mask = attention_mask.to(x.dtype) if attention_mask is not None else x.new_ones(b, length)
        hidden: List[torch.Tensor] = []
        handles = []
        if output_hidden_states:
            hidden.append(x)
            handles = [blk.register_forward_hook(lambda _m, _i, out: hidden.append(out[:, :length]))
                       for blk in self.encoder.blocks]
        try:
            sequence = self.encoder(x, mask)
        finally:
            for h in handles:
                h.remove()
        pooled = IMixerSequence.pool(sequence, mask)
        hidden_states = tuple(hidden) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (sequence, pooled, hidden_states) if v is not None)
        return BaseModelOutputWithPooling(last_hidden_state=sequence, pooler_output=pooled,
                                          hidden_states=hidden_states)


class IMixerForSequenceClassification(IMixerPreTrainedModel):
    """iMixer encoder + dropout + linear head on the masked-mean pooled tokens.

    ``labels`` give the loss by ``config.problem_type`` as every transformers classifier:
    cross-entropy for integer labels and ``num_labels > 1`` (``'single_label_classification'``), MSE for
    ``num_labels == 1`` (``'regression'``), BCE-with-logits for float multi-hot labels
    (``'multi_label_classification'``).

    Shapes:
        ``input_ids``: ``(B, L)``; ``labels``: ``(B,)`` (or ``(B, num_labels)`` multi-label)
        -> ``logits`` ``(B, num_labels)``.
    """

    def __init__(self, config: IMixerConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.imixer = IMixerModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: Optional[torch.Tensor] = None, attention_mask: Optional[torch.Tensor] = None,
                inputs_embeds: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None,
                output_hidden_states: Optional[bool] = None,
                return_dict: Optional[bool] = None) -> Union[SequenceClassifierOutput, Tuple[torch.Tensor, ...]]:
        """Classify a batch; see :meth:`IMixerModel.forward` for the inputs.

        Args:
            labels: class indices ``(B,)`` in ``[0, num_labels)``; when given the loss is returned.

        Returns:
            ``SequenceClassifierOutput(loss, logits, hidden_states)``.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        out = self.imixer(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                          output_hidden_states=output_hidden_states, return_dict=True)
        logits = self.classifier(self.dropout(out.pooler_output))
        loss = self._loss(logits, labels) if labels is not None else None
        if not return_dict:
            rest = (logits,) + ((out.hidden_states,) if out.hidden_states is not None else ())
            return ((loss,) + rest) if loss is not None else rest
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = labels.to(logits.device)
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        if self.config.problem_type == "regression":
            return F.mse_loss(logits.squeeze(-1).float(), labels.float().reshape(-1))
        if self.config.problem_type == "single_label_classification":
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_labels):
                raise ValueError(f"labels must lie in [0, {self.num_labels}) (config.num_labels), got "
                                 f"[{int(labels.min())}, {int(labels.max())}]")
            return F.cross_entropy(logits.float().view(-1, self.num_labels), labels.view(-1))
        return F.binary_cross_entropy_with_logits(logits.float(), labels.float())


__all__ = ["IMixerPreTrainedModel", "IMixerModel", "IMixerForSequenceClassification"]
