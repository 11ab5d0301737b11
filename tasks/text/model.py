"""The runner side of the text task: an mmengine model around the transformers classifier and a
hook that exports the trained model and its tokenizer with ``save_pretrained`` (a self-contained
folder: ``auto_map`` and the model's code beside the weights, see :mod:`tasks.text.backbone`)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import torch
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.logging import print_log

from backbones.registry import HOOKS, MODELS
from tasks.common.models import LogitsClassifier, unwrap_model

from .configuration_imixer import IMixerConfig
from .modeling_imixer import IMixerForSequenceClassification, IMixerPreTrainedModel
from .tokenization import set_word_embeddings

#: the transformers Auto class that loads an exported model, by its class
AUTO_CLASS = {"IMixerForSequenceClassification": "AutoModelForSequenceClassification",
              "IMixerForMaskedLM": "AutoModelForMaskedLM", "BertForMaskedLM": "AutoModelForMaskedLM",
              "IMixerForCausalLM": "AutoModelForCausalLM", "GPT2LMHeadModel": "AutoModelForCausalLM"}


@MODELS.register_module()
class HFTextClassifier(LogitsClassifier):
    """mmengine model wrapping :class:`IMixerForSequenceClassification` (``self.hf_model``).

    Args:
        hf_config: :class:`IMixerConfig` arguments, e.g. ``dict(vocab_size=8000,
            max_position_embeddings=256, hidden_size=128, num_hidden_layers=2, num_labels=5,
            token_mixer='implicit')``; ignored when ``pretrained`` is given. ``num_labels`` must be
            there: :func:`~tasks.text.run_config.resolve_text_config` takes it from the training split.
        pretrained: a ``save_pretrained`` directory to start from instead (fine-tuning).
        word_embeddings: start a new model's word embeddings from a pretrained table:
            ``dict(source='bert_uncased', freeze=True)`` takes MiniLM's 30,522 x 384 word-piece
            embeddings (``python tools/prepare_data.py bert_uncased``; the run's ``tokenizer`` must be
            ``'bert_uncased'`` and ``hf_config`` needs ``vocab_size=30522, embedding_size=384``);
            ``freeze`` keeps the table fixed (only the projection to ``hidden_size`` learns). ``source``
            may also be a folder holding ``word_embeddings.npy``. ``None``: learnt from scratch.
        label_smoothing: cross-entropy label smoothing.
        data_preprocessor: mmengine data preprocessor config.

    Shapes:
        ``inputs`` (token ids): ``(B, L)``; ``attention_mask``: ``(B, L)``; ``labels``: ``(B,)``. Windows of
        long texts (``TextClsDataset(crop='windows')``): ``inputs`` and ``attention_mask`` ``(B, W, L)``;
        a text's logits are the mean over its windows that hold a token (all-padding windows are skipped).
    """

    def __init__(self, hf_config: Optional[dict] = None, pretrained: Optional[str] = None,
                 word_embeddings: Optional[dict] = None, label_smoothing: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(label_smoothing, data_preprocessor, init_cfg)
        if pretrained is not None and word_embeddings is not None:
            raise ValueError("HFTextClassifier: word_embeddings starts a new model's embeddings; a pretrained model "
                             "brings its own. Drop one of pretrained= and word_embeddings=")
        if pretrained is not None:
            self.hf_model = IMixerForSequenceClassification.from_pretrained(pretrained)
        elif hf_config is not None:
            if hf_config.get("num_labels") is None and not hf_config.get("id2label"):
                raise ValueError("HFTextClassifier: hf_config has no num_labels. tools/train.py and tools/test.py take "
                                 "it from the training split (config_resolvers = ['resolve_text_config']); "
                                 "when you build the Runner yourself, call tasks.text.resolve_text_config(cfg) first, "
                                 "or set model.hf_config.num_labels")
            self.hf_model = IMixerForSequenceClassification(IMixerConfig(**hf_config))
        else:
            raise ValueError("HFTextClassifier needs hf_config (a new model) or pretrained (a saved one)")
        if word_embeddings is not None:
            set_word_embeddings(self.hf_model, who="HFTextClassifier", **word_embeddings)

    def logits(self, inputs: torch.Tensor, attention_mask: Optional[torch.Tensor] = None, **extra) -> torch.Tensor:
        if extra:
            raise TypeError(f"unexpected batch keys {sorted(extra)}; text batches hold inputs, attention_mask, labels")
        if inputs.dim() == 3:
            if attention_mask is None or attention_mask.shape != inputs.shape:
                raise ValueError(f"windowed inputs {tuple(inputs.shape)} need an attention_mask of the same shape, "
                                 f"got {None if attention_mask is None else tuple(attention_mask.shape)}")
            used = attention_mask.sum(-1) > 0  # (B, W)
            if not bool(used.any(1).all()):
                raise ValueError("a text in the batch has no window with a token (attention_mask all zero)")
            window_logits = self.hf_model(input_ids=inputs[used], attention_mask=attention_mask[used]).logits
            total = window_logits.new_zeros(*used.shape, window_logits.shape[-1])
            total[used] = window_logits
            return total.sum(1) / used.sum(1, keepdim=True)
        return self.hf_model(input_ids=inputs, attention_mask=attention_mask).logits


@HOOKS.register_module()
class ExportHFHook(Hook):
    """After training, write the model and the training dataset's tokenizer with ``save_pretrained``.

    The export directory is self-contained: it loads with
    ``AutoModelForSequenceClassification.from_pretrained(dir, trust_remote_code=True)`` (a language
    model: ``AutoModelForMaskedLM`` / ``AutoModelForCausalLM``), ``AutoTokenizer.from_pretrained(dir)``
    and ``pipeline('text-classification' | 'fill-mask' | 'text-generation', model=dir,
    trust_remote_code=True)`` in a process that never imports this project; a classifier's
    ``config.id2label`` holds the class names of the training data. The saved tokenizer's
    ``model_input_names`` are what an iMixer's ``forward`` takes (``input_ids``, ``attention_mask``).

    Args:
        out_dir: export directory, relative to the work dir unless absolute.
        checkpoint: ``'best'`` exports the best validation checkpoint (the checkpoint hook's
            ``save_best``), falling back to the final weights when there is none; ``'last'`` the final weights.
    """

    priority = "VERY_LOW"

    def __init__(self, out_dir: str = "hf_export", checkpoint: str = "best") -> None:
        if checkpoint not in ("best", "last"):
            raise ValueError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
        self.out_dir, self.checkpoint = out_dir, checkpoint

    @master_only
    def after_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        if not hasattr(model, "hf_model"):
            raise TypeError(f"ExportHFHook needs a model with an hf_model attribute (HFTextClassifier), got "
                            f"{type(model).__name__}")
        hf_model = model.hf_model
        source = "final weights"
        best = runner.message_hub.get_info("best_ckpt") if self.checkpoint == "best" else None
        if best is not None and Path(best).exists():
            state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
            prefix = "hf_model."
            hf_model = copy.deepcopy(hf_model).cpu()
            hf_model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
            source = f"best checkpoint {Path(best).name}"
        dataset = runner.train_dataloader.dataset
        classes = getattr(dataset, "metainfo", {}).get("classes")
        if classes:
            hf_model.config.id2label = {i: str(c) for i, c in enumerate(classes)}
            hf_model.config.label2id = {str(c): i for i, c in enumerate(classes)}
        out = Path(self.out_dir)
        out = out if out.is_absolute() else Path(runner.work_dir) / out
        hf_model.save_pretrained(str(out))
        tokenizer = getattr(dataset, "tokenizer", None)
        if tokenizer is not None:
            tokenizer = copy.deepcopy(tokenizer)
            if isinstance(hf_model, IMixerPreTrainedModel):  # what its forward takes (no token_type_ids)
                tokenizer.model_input_names = ["input_ids", "attention_mask"]
            tokenizer.save_pretrained(str(out))
        print_log(f"[ExportHFHook] exported the {source} {'and the tokenizer ' if tokenizer is not None else ''}"
                  f"to {out} (load with {AUTO_CLASS.get(type(hf_model).__name__, 'AutoModel')}.from_pretrained(dir, "
                  "trust_remote_code=True), or pipeline(task, model=dir, trust_remote_code=True))", logger="current")
