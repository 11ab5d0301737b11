r"""The runner side of language modelling: one mmengine model around any transformers LM, the
perplexity metric, and the config resolver that states each setting once.

:class:`HFLanguageModel` builds ``AutoModelForMaskedLM`` / ``AutoModelForCausalLM`` from
``hf_config=dict(model_type=..., ...)``: ``'imixer'`` (:class:`~tasks.text.IMixerForMaskedLM`,
:class:`~tasks.text.IMixerForCausalLM`), or transformers' own ``'bert'`` (``BertForMaskedLM``) and
``'gpt2'`` (``GPT2LMHeadModel``) as same-size baselines: the same data, tokenizer, collate function,
schedule and metric, so only the network differs.

Perplexity (:class:`PerplexityMetric`) is :math:`\exp(\frac{1}{N}\sum_i -\log p(t_i \mid \cdot))` over
the scored tokens of the split: the masked positions for a masked LM (fixed by
``lm_collate(fixed_masks=True)``), every next token of a window (``max_length - 1`` a window) for a
causal LM.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel

from backbones.registry import METRICS, MODELS
from tasks.common.runner import FUNCTIONS

from .lm_data import OBJECTIVES, default_lm_tokenizer_dir
from .modeling_imixer import IMixerForMaskedLM
from .tokenization import set_word_embeddings

#: the model_type's name for the fixed token count (the config's max_length) and the vocabulary size
LENGTH_KEYS = {"imixer": "max_position_embeddings", "bert": "max_position_embeddings", "gpt2": "n_positions"}


@MODELS.register_module()
class HFLanguageModel(BaseModel):
    """mmengine model around a transformers masked or causal language model (``self.hf_model``).

    Args:
        objective: ``'mlm'`` or ``'clm'``.
        hf_config: ``dict(model_type='imixer' | 'bert' | 'gpt2' | any AutoConfig type, **config)``;
            ignored when ``pretrained`` is given.
        pretrained: a ``save_pretrained`` directory to start from.
        word_embeddings: start a new model's word embeddings (and so its tied LM decoder) from a
            pretrained table, as in :class:`~tasks.text.HFTextClassifier`: ``dict(source='bert_uncased',
            freeze=True)`` is MiniLM's 30,522 x 384 table (``vocab_size=30522``, ``tokenizer='bert_uncased'``,
            ``hf_config.embedding_size=384``).
        data_preprocessor: mmengine data preprocessor config.

    Batches are ``dict(input_ids, attention_mask, labels)`` (:func:`~tasks.text.lm_data.lm_collate`).
    Modes: ``'loss'`` -> ``dict(loss=)``, the model's own token cross-entropy; ``'predict'`` -> one
    ``dict(nll, tokens)`` per batch (summed negative log-likelihood, scored tokens) for
    :class:`PerplexityMetric`; ``'tensor'`` -> the logits.
    """

    def __init__(self, objective: str = "mlm", hf_config: Optional[dict] = None, pretrained: Optional[str] = None,
                 word_embeddings: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES} (masked / causal LM), got {objective!r}")
        self.objective = objective
        auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
        if pretrained is not None:
            self.hf_model = auto.from_pretrained(pretrained)
        elif hf_config is not None:
            kw = dict(hf_config)
            model_type = kw.pop("model_type", "imixer")
            self.hf_model = auto.from_config(AutoConfig.for_model(model_type, **kw))
        else:
            raise ValueError("HFLanguageModel needs hf_config (a new model) or pretrained (a saved one)")
        if word_embeddings is not None:
            if pretrained is not None:
                raise ValueError("HFLanguageModel: word_embeddings starts a new model's embeddings; a pretrained "
                                 "model brings its own. Drop one of pretrained= and word_embeddings=")
            set_word_embeddings(self.hf_model, who="HFLanguageModel", **word_embeddings)
        # the iMixer masked LM scores the masked positions only (the same loss, 15 % of the head's cost)
        self._at_labels = isinstance(self.hf_model, IMixerForMaskedLM)

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                labels: Optional[torch.Tensor] = None, mode: str = "tensor", **extra):
        if extra:
            raise TypeError(f"unexpected batch keys {sorted(extra)}; LM batches hold input_ids, attention_mask, labels")
        if mode != "tensor" and labels is None:
            raise ValueError(f"mode={mode!r} needs labels in the batch (lm_collate makes them)")
        sparse = self._at_labels and mode != "tensor"
        out = self.hf_model(input_ids=input_ids, attention_mask=attention_mask,
                            labels=labels if mode == "loss" or sparse else None,
                            **(dict(logits_at_labels=True) if sparse else {}))
        if mode == "tensor":
            return out.logits
        if mode == "loss":
            return {"loss": out.loss}
        if mode == "predict":
            logits, target = out.logits, labels[labels != -100] if sparse else labels
            if self.objective == "clm":
                logits, target = logits[:, :-1], target[:, 1:]
            nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1),
                                  ignore_index=-100, reduction="sum")
            return [dict(nll=float(nll), tokens=int((target != -100).sum()))]
        raise ValueError(f"unknown mode {mode!r}; use 'loss', 'predict' or 'tensor'")


@METRICS.register_module()
class PerplexityMetric(BaseMetric):
    """``lm/perplexity`` (exp of the mean token negative log-likelihood), ``lm/nll`` and ``lm/tokens``."""

    default_prefix = "lm"

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        tokens = sum(r["tokens"] for r in results)
        if tokens == 0:
            raise ValueError("no scored tokens in the split (every label was -100)")
        nll = sum(r["nll"] for r in results) / tokens
        if not math.isfinite(nll):
            raise FloatingPointError(f"the mean negative log-likelihood is {nll}: the model's outputs are not finite")
        return {"perplexity": math.exp(nll), "nll": nll, "tokens": float(tokens)}


# -- config ------------------------------------------------------------------------------------------------
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
#: top-level setting -> the LMDataset's option (all of them reach every split)
SHARED = ("source", "objective", "tokenizer", "vocab_size", "max_length", "encoding", "text_column")


@FUNCTIONS.register_module()
def resolve_lm_config(cfg):
    """Write a language-model config's top-level settings into every place that uses them.

    ``source``, ``objective``, ``tokenizer``, ``vocab_size``, ``max_length``, ``encoding``,
    ``text_column`` reach the three :class:`~tasks.text.lm_data.LMDataset` configs; ``objective`` and
    the tokenizer's directory (the default one beside the data when ``tokenizer=None``) reach their
    ``lm_collate``; ``objective``, ``vocab_size`` and ``max_length`` reach the model (``max_length`` as
    the model type's length key, :data:`LENGTH_KEYS`). A place set apart from its setting is an error
    naming both. Changes ``cfg`` in place and returns it.
    """
    places = []
    for loader in LOADERS:
        loader_cfg = cfg.get(loader) or {}
        dataset = loader_cfg.get("dataset") or {}
        if str(dataset.get("type", "")).split(".")[-1] == "LMDataset":
            places.append((loader, loader_cfg, dataset))

    def put(holder: dict, key: str, value, option: str, name: str) -> None:
        if key in holder and holder[key] != value:
            raise ValueError(f"{option}={holder[key]!r} differs from the config's {name}={value!r}; set the one "
                             f"top-level option {name}= instead (e.g. --cfg-options {name}={holder[key]!r})")
        holder[key] = value

    for name in SHARED:
        if name in cfg:
            for loader, _, dataset in places:
                put(dataset, name, cfg[name], f"{loader}.dataset.{name}", name)
    model = cfg.get("model") or {}
    hf_config = model.get("hf_config") if model.get("pretrained") is None else None
    if "objective" in cfg:
        put(model, "objective", cfg["objective"], "model.objective", "objective")
    if hf_config is not None:
        length_key = LENGTH_KEYS.get(hf_config.get("model_type", "imixer"), "max_position_embeddings")
        for name, key in (("vocab_size", "vocab_size"), ("max_length", length_key)):
            if name in cfg:
                put(hf_config, key, cfg[name], f"model.hf_config.{key}", name)
    if places and "source" in cfg:
        tokenizer = cfg.get("tokenizer") or str(default_lm_tokenizer_dir(cfg["source"], cfg.get("vocab_size", 8000)))
        for loader, loader_cfg, _ in places:
            collate = loader_cfg.get("collate_fn")
            if isinstance(collate, dict) and str(collate.get("type", "")).split(".")[-1] == "lm_collate":
                collate["tokenizer"] = str(tokenizer)
                if "objective" in cfg:
                    put(collate, "objective", cfg["objective"], f"{loader}.collate_fn.objective", "objective")
    return cfg


__all__ = ["HFLanguageModel", "PerplexityMetric", "resolve_lm_config"]
