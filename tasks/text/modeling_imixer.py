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
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import (BaseModelOutputWithPooling, CausalLMOutput, MaskedLMOutput,
                                           SequenceClassifierOutput)

from .backbone import ACTIVATIONS, IMixerSequence, SpectralNormLinear
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
            drop_path_rate=config.drop_path_rate, relative_mixing=config.relative_mixing)
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
                return_dict: Optional[bool] = None, token_type_ids: Optional[torch.Tensor] = None,
                ) -> Union[BaseModelOutputWithPooling, Tuple[torch.Tensor, ...]]:
        """Encode a batch.

        Args:
            input_ids: token ids ``(B, L)``, ``L <= max_position_embeddings``.
            attention_mask: ``(B, L)``, 1 for tokens, 0 for padding; ``None``: no padding.
            inputs_embeds: ``(B, L, C)`` instead of ``input_ids``.
            token_type_ids: accepted for BERT-style tokenizers, which return them; the iMixer has no
                segment embeddings, so they must be all zero (one segment) or ``None``.
            output_hidden_states: also return the embeddings and every block's output ``(B, L, C)``.
            return_dict: return a ``ModelOutput`` (default ``config.return_dict``) or a tuple.

        Returns:
            ``BaseModelOutputWithPooling(last_hidden_state, pooler_output, hidden_states)``.
        """
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        b, length = self._check_inputs(input_ids, inputs_embeds, attention_mask)
        if token_type_ids is not None and bool((token_type_ids != 0).any()):
            raise ValueError("token_type_ids mark a second segment, but the iMixer has no segment embeddings: encode "
                             "one text per sequence (token_type_ids all zero or left out)")
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
                output_hidden_states: Optional[bool] = None, return_dict: Optional[bool] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> Union[SequenceClassifierOutput, Tuple[torch.Tensor, ...]]:
        """Classify a batch; see :meth:`IMixerModel.forward` for the inputs.

        Args:
            labels: class indices ``(B,)`` in ``[0, num_labels)``; when given the loss is returned.

        Returns:
            ``SequenceClassifierOutput(loss, logits, hidden_states)``.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        out = self.imixer(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                          output_hidden_states=output_hidden_states, return_dict=True, token_type_ids=token_type_ids)
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




class IMixerLMHead(nn.Module):
    r"""BERT's prediction head: :math:`\mathrm{logits} = E\,\mathrm{LN}(\sigma(W h + b)) + b_{out}`, with the
    decoder :math:`E` (``vocab x embedding_size``) tied to the word embeddings (``config.tie_word_embeddings``).

    Shapes:
        ``(B, L, C)`` -> ``(B, L, vocab_size)``.
    """

    def __init__(self, config: IMixerConfig) -> None:
        super().__init__()
        width = config.embedding_size or config.hidden_size
        self.dense = nn.Linear(config.hidden_size, width)
        self.act = ACTIVATIONS[config.hidden_act][0]()
        self.norm = nn.LayerNorm(width)
        self.decoder = nn.Linear(width, config.vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(self.act(self.dense(hidden))))


def _token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not -100 (transformers' ignore index)."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device),
                           ignore_index=-100)


class IMixerLMPreTrainedModel(IMixerPreTrainedModel):
    """The iMixer encoder (prefix ``imixer``) and :class:`IMixerLMHead` tied to its word embeddings:
    what the masked and the causal language models share."""

    _tied_weights_keys = {"lm_head.decoder.weight": "imixer.embeddings.word_embeddings.weight"}

    def __init__(self, config: IMixerConfig) -> None:
        super().__init__(config)
        self.imixer = IMixerModel(config)
        self.lm_head = IMixerLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value

    def _logits(self, input_ids, attention_mask, inputs_embeds, output_hidden_states, token_type_ids, at=None):
        """``(logits (B, L, vocab), the encoder's output)``; with the boolean mask ``at`` (B, L) the logits
        of those positions only, ``(n, vocab)`` in row-major order."""
        out = self.imixer(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                          output_hidden_states=output_hidden_states, return_dict=True, token_type_ids=token_type_ids)
        hidden = out.last_hidden_state
        return self.lm_head(hidden if at is None else hidden[at.to(hidden.device)]), out

    def _output(self, output_class, loss, logits, out, return_dict: Optional[bool]):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if not return_dict:
            rest = (logits,) + ((out.hidden_states,) if out.hidden_states is not None else ())
            return ((loss,) + rest) if loss is not None else rest
        return output_class(loss=loss, logits=logits, hidden_states=out.hidden_states)


class IMixerForMaskedLM(IMixerLMPreTrainedModel):
    r"""The iMixer encoder with BERT's masked-language-model head (Devlin et al., NAACL 2019).

    :math:`p(t_i \mid \tilde t) = \mathrm{softmax}(\mathrm{head}(X_i))` for the corrupted input
    :math:`\tilde t` (transformers' ``DataCollatorForLanguageModeling``: 15 % of the tokens chosen, 80 %
    of those replaced by ``[MASK]``, 10 % by a random token, 10 % kept); ``labels`` hold the original
    ids at the chosen positions and -100 elsewhere, and the loss is the mean cross-entropy there.
    The encoder sits under the prefix ``imixer`` as in :class:`IMixerForSequenceClassification`, so
    ``IMixerForSequenceClassification.from_pretrained(mlm_dir, num_labels=...)`` starts from the
    pretrained encoder (a new classification head).

    Shapes:
        ``input_ids``: ``(B, L)``, ``labels``: ``(B, L)`` -> ``logits`` ``(B, L, vocab_size)``.
    """

    def forward(self, input_ids: Optional[torch.Tensor] = None, attention_mask: Optional[torch.Tensor] = None,
                inputs_embeds: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None,
                output_hidden_states: Optional[bool] = None, return_dict: Optional[bool] = None,
                token_type_ids: Optional[torch.Tensor] = None, logits_at_labels: bool = False,
                **kwargs) -> Union[MaskedLMOutput, Tuple]:
        """Predict every position's token; see :meth:`IMixerModel.forward` for the inputs.

        Args:
            labels: ``(B, L)`` original ids where the loss is taken, -100 elsewhere.
            logits_at_labels: compute the head at the labelled positions only: ``logits`` is then
                ``(n, vocab)``, their row-major order (``labels[labels != -100]`` are the targets). The same
                loss for 15 % of the head's cost, which dominates with a large vocabulary (BERT's 30,522
                pieces: 30,522 x 384 multiply-adds a position).

        Returns:
            ``MaskedLMOutput(loss, logits, hidden_states)``.
        """
        if logits_at_labels and labels is None:
            raise ValueError("logits_at_labels=True needs labels (the positions to predict)")
        at = labels != -100 if logits_at_labels else None
        logits, out = self._logits(input_ids, attention_mask, inputs_embeds, output_hidden_states, token_type_ids, at)
        loss = None
        if labels is not None:
            loss = _token_loss(logits, labels[at] if logits_at_labels else labels)
        return self._output(MaskedLMOutput, loss, logits, out, return_dict)


def _left_align(mask: torch.Tensor) -> torch.Tensor:
    """For each row, the index order that moves its leading padding to the end: ``(B, L)`` gather indices."""
    length = mask.shape[1]
    first = (mask != 0).int().argmax(1, keepdim=True)  # the first real token of every row
    return (torch.arange(length, device=mask.device).unsqueeze(0) + first) % length


class IMixerForCausalLM(IMixerLMPreTrainedModel, GenerationMixin):
    r"""A causal (next-token) language model on the iMixer with a *causal* token mixer.

    Every token-mixing matrix (``W_in``, ``W_a``, ``W_b``, ``W_out`` of the implicit mixer, both layers
    of the MLP twin) is masked lower-triangular (:func:`backbones.token_mixers.causal_masks`), with the
    spectral norm taken of the masked weights, so :math:`\mathrm{Lip}(G) < 1` still holds; the fixed
    point of a causal map is causal, so position ``t`` sees tokens ``<= t`` only. The config must say so:
    ``token_mixer=dict(type='implicit', causal=True)`` (or ``dict(type='mlp', causal=True)``).
    :math:`p(t_{i+1} \mid t_{\le i}) = \mathrm{softmax}(\mathrm{head}(X_i))`; ``labels`` are the inputs
    (shifted inside, as transformers' causal LMs do; -100 is ignored).

    **Fixed token count.** The mixer is built for ``L = max_position_embeddings`` positions.

    * Shorter inputs are padded on the right inside the backbone. Right padding never changes a real
      token's output (the padded positions come after it).
    * Left padding (what ``generate()`` uses for a batch of prompts of different lengths) is removed:
      every row is shifted so that its first real token sits at position 0, and the outputs are
      shifted back. A prompt's logits therefore do not depend on the padding.
    * Longer contexts: ``generate()`` conditions on the last ``L`` tokens (a sliding window over the
      text generated so far; every step re-runs the window, there is no cache). ``forward`` itself
      refuses inputs longer than ``L``.

    Shapes:
        ``input_ids``: ``(B, L')``, ``L' <= L`` -> ``logits`` ``(B, L', vocab_size)``.
    """

    def __init__(self, config: IMixerConfig) -> None:
        if not (isinstance(config.token_mixer, dict) and config.token_mixer.get("causal")):
            raise ValueError(f"IMixerForCausalLM needs a causal token mixer, got token_mixer={config.token_mixer!r}: "
                             "use token_mixer=dict(type='implicit', causal=True) (or dict(type='mlp', causal=True) "
                             "for the MLP-Mixer twin)")
        super().__init__(config)

    def forward(self, input_ids: Optional[torch.Tensor] = None, attention_mask: Optional[torch.Tensor] = None,
                inputs_embeds: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None,
                output_hidden_states: Optional[bool] = None, return_dict: Optional[bool] = None,
                token_type_ids: Optional[torch.Tensor] = None, **kwargs) -> Union[CausalLMOutput, Tuple]:
        """Next-token logits at every position; see :meth:`IMixerModel.forward` for the inputs.

        Args:
            labels: ``(B, L')`` token ids (usually ``input_ids``, -100 where no loss is taken); the
                loss is the mean cross-entropy of ``logits[:, :-1]`` against ``labels[:, 1:]``.
            **kwargs: what ``generate()`` may pass besides (``use_cache``, ...), ignored.

        Returns:
            ``CausalLMOutput(loss, logits, hidden_states)``.
        """
        order = None
        if attention_mask is not None and bool((attention_mask[:, 0] == 0).any()):  # left padding: align left
            order = _left_align(attention_mask)
            attention_mask = attention_mask.gather(1, order)
            if input_ids is not None:
                input_ids = input_ids.gather(1, order)
            if inputs_embeds is not None:
                inputs_embeds = inputs_embeds.gather(1, order.unsqueeze(-1).expand_as(inputs_embeds))
            if token_type_ids is not None:
                token_type_ids = token_type_ids.gather(1, order)
        logits, out = self._logits(input_ids, attention_mask, inputs_embeds, output_hidden_states, token_type_ids)
        if order is not None:  # back to the caller's positions
            logits = logits.scatter(1, order.unsqueeze(-1).expand_as(logits), logits)
        loss = _token_loss(logits[:, :-1], labels[:, 1:]) if labels is not None else None
        return self._output(CausalLMOutput, loss, logits, out, return_dict)

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                                      **kwargs) -> dict:
        """The model's inputs at each generation step: the last ``max_position_embeddings`` tokens
        (the sliding window) and their mask; no cache."""
        window = self.config.max_position_embeddings
        inputs = {"input_ids": input_ids[:, -window:]}
        if attention_mask is not None:
            inputs["attention_mask"] = attention_mask[:, -window:]
        return inputs


__all__ = ["IMixerPreTrainedModel", "IMixerModel", "IMixerForSequenceClassification", "IMixerForMaskedLM",
           "IMixerForCausalLM"]
