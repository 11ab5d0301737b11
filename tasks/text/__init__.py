"""Text sequence classification with the iMixer as a Hugging Face transformers model.

Importing this package registers

* ``model_type='imixer'`` with ``AutoConfig``, and :class:`IMixerModel` /
  :class:`IMixerForSequenceClassification` with ``AutoModel`` / ``AutoModelForSequenceClassification``;
* the runner pieces in the imixer registries: the model ``HFTextClassifier``, the dataset
  ``TextClsDataset``, the hook ``ExportHFHook``;
* the ``bbc_news`` and ``bert_uncased`` preparers (``python tools/prepare_data.py bbc_news``).

:func:`resolve_text_config` makes each top-level setting of a text config (``max_length``,
``source``, ...) reach every place that uses it and takes ``num_labels`` from the training split.

An exported model needs none of this project (its code is saved beside the weights)::

    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained('work_dirs/imixer_bbc-news/hf_export',
                                                               trust_remote_code=True)
    tok = AutoTokenizer.from_pretrained('work_dirs/imixer_bbc-news/hf_export')
"""
from transformers import (AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM,
                          AutoModelForSequenceClassification)

from .configuration_imixer import IMixerConfig
from .datasets import TextClsDataset, load_split, prepare_bbc_news
from .lm_data import LMDataset, lm_collate, load_corpus_split, prepare_fortunes, prepare_gcide
from .lm import HFLanguageModel, PerplexityMetric, resolve_lm_config
from .model import ExportHFHook, HFTextClassifier
from .modeling_imixer import (IMixerForCausalLM, IMixerForMaskedLM, IMixerForSequenceClassification, IMixerModel,
                              IMixerPreTrainedModel)
from .run_config import resolve_text_config
from .tokenization import load_tokenizer, prepare_bert_uncased, train_wordpiece_tokenizer

AutoConfig.register(IMixerConfig.model_type, IMixerConfig, exist_ok=True)
AutoModel.register(IMixerConfig, IMixerModel, exist_ok=True)
AutoModelForSequenceClassification.register(IMixerConfig, IMixerForSequenceClassification, exist_ok=True)
AutoModelForMaskedLM.register(IMixerConfig, IMixerForMaskedLM, exist_ok=True)
AutoModelForCausalLM.register(IMixerConfig, IMixerForCausalLM, exist_ok=True)

__all__ = ["IMixerConfig", "IMixerPreTrainedModel", "IMixerModel", "IMixerForSequenceClassification",
           "IMixerForMaskedLM", "IMixerForCausalLM",
           "TextClsDataset", "load_split", "prepare_bbc_news", "LMDataset", "lm_collate", "load_corpus_split",
           "prepare_gcide", "prepare_fortunes", "HFLanguageModel", "PerplexityMetric", "resolve_lm_config", "HFTextClassifier", "ExportHFHook",
           "train_wordpiece_tokenizer", "load_tokenizer", "prepare_bert_uncased", "resolve_text_config"]

# the device check's tiny run of this task (tools/gpu_check.py)
from tasks.common.smoke import Task, register_smoke_task, subset_options  # noqa: E402

register_smoke_task(Task("text", "configs/text/imixer_bbc-news_wordpiece.py", "configs/text/mlpmixer_bbc-news_wordpiece.py",
                         subset_options, "cls/accuracy", ("bbc_news", "bbc_news/train.csv")))
