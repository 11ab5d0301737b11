"""One setting per quantity in a text run's config, and the data's labels checked before training.

A text config uses one value in several places: the sequence length is each dataset's ``max_length``
(the tokenizer's truncation and padding) and the model's ``max_position_embeddings``; the vocabulary
size, the data source, the tokenizer, the encoding and the CSV columns are shared by the three
datasets (and the vocabulary by the model). The shipped configs state each once, at the top level
(``max_length = 256``), and :func:`resolve_text_config` writes it into every place after
``--cfg-options`` are merged, so ``--cfg-options max_length=128 source=my.csv`` changes the whole run.
A place set to another value than its top-level setting is an error naming both.

It also reads the training split's labels: the model's ``num_labels`` (and ``id2label``) come from
them when not given and are checked against them when given, and a validation / test label that
never occurs in training is an error naming the split's file, the label and the training classes,
all before the Runner is built.

:class:`tasks.common.runner.IMixerRunner` calls it (registered in ``FUNCTIONS``) for configs that name it
in ``config_resolvers = ['resolve_text_config']``, so ``tools/train.py``, ``tools/test.py`` and the grid
runner all resolve the same way; call it yourself before building a plain mmengine ``Runner``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from tasks.common.runner import FUNCTIONS

from .datasets import check_labels, load_split, split_file

LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
#: top-level setting -> (the datasets' option, the model's ``hf_config`` option or None)
SHARED: Dict[str, Tuple[str, Optional[str]]] = {
    "max_length": ("max_length", "max_position_embeddings"),
    "vocab_size": ("vocab_size", "vocab_size"),
    "source": ("source", None),
    "tokenizer": ("tokenizer", None),
    "encoding": ("encoding", None),
    "text_column": ("text_column", None),
    "label_column": ("label_column", None),
}
SPLIT_KEYS = ("source", "text_column", "label_column", "val_ratio", "test_ratio", "split_seed", "encoding")


def _text_datasets(cfg) -> List[Tuple[str, dict]]:
    """``(loader name, dataset config)`` of the loaders holding a ``TextClsDataset``."""
    found = []
    for loader in LOADERS:
        dataset = (cfg.get(loader) or {}).get("dataset") or {}
        if str(dataset.get("type", "")).split(".")[-1] == "TextClsDataset":
            found.append((loader, dataset))
    return found


def _spread(cfg, datasets: List[Tuple[str, dict]], hf_config: Optional[dict]) -> None:
    for name, (data_key, model_key) in SHARED.items():
        if name not in cfg:
            continue
        value = cfg[name]
        places = [(f"{loader}.dataset.{data_key}", ds, data_key) for loader, ds in datasets]
        if hf_config is not None and model_key is not None:
            places.append((f"model.hf_config.{model_key}", hf_config, model_key))
        for option, holder, key in places:
            if key in holder and holder[key] != value:
                raise ValueError(f"{option}={holder[key]!r} differs from the config's {name}={value!r}, which sets "
                                 f"{', '.join(p[0] for p in places)}; set the one option {name}= instead "
                                 f"(e.g. --cfg-options {name}={holder[key]!r})")
            holder[key] = value


def _split_args(dataset: dict) -> dict:
    """The :func:`~tasks.text.datasets.load_split` arguments of a dataset config (its defaults included)."""
    return {"source": "bbc_news", **{k: dataset[k] for k in SPLIT_KEYS if k in dataset}}


def _where(args: dict, split: str) -> str:
    return split_file(args["source"], split, **{k: args[k] for k in ("val_ratio", "test_ratio") if k in args})


def _check_labels(datasets: List[Tuple[str, dict]], hf_config: Optional[dict]) -> None:
    train = dict(datasets).get("train_dataloader")
    if train is None:
        return
    train_args = _split_args(train)
    classes = sorted(set(load_split(split="train", **train_args)[1]))
    for loader, ds in datasets:
        if loader == "train_dataloader":
            continue
        args, split = _split_args(ds), ds.get("split", "val" if loader == "val_dataloader" else "test")
        _, labels, ids = load_split(split=split, **args)
        check_labels(labels, ids, classes, _where(args, split))
    if hf_config is None:
        return
    given = hf_config.get("num_labels")
    if given is not None and given != len(classes):
        raise ValueError(f"model.hf_config.num_labels={given} but the training split "
                         f"({_where(train_args, 'train')}) has {len(classes)} labels "
                         f"{classes}; drop num_labels (it is taken from the training split) or set it to {len(classes)}")
    hf_config["num_labels"] = len(classes)
    hf_config.setdefault("id2label", {i: c for i, c in enumerate(classes)})
    hf_config.setdefault("label2id", {c: i for i, c in enumerate(classes)})


@FUNCTIONS.register_module()
def resolve_text_config(cfg):
    """Write the top-level settings of :data:`SHARED` into every place that uses them, take
    ``num_labels`` from the training split (checking a given one), and refuse validation / test labels
    unseen in training. Changes ``cfg`` in place and returns it.

    Raises:
        ValueError: a place set apart from its top-level setting, a ``num_labels`` that disagrees with
            the training split, a validation / test label unseen in training.
    """
    datasets = _text_datasets(cfg)
    model = cfg.get("model") or {}
    hf_config = model.get("hf_config") if model.get("pretrained") is None else None
    _spread(cfg, datasets, hf_config)
    _check_embeddings(model, datasets)
    _check_labels(datasets, hf_config)
    return cfg


def _check_embeddings(model: dict, datasets: List[Tuple[str, dict]]) -> None:
    """Pretrained word embeddings are rows of one vocabulary: the data must be tokenised with it."""
    source = (model.get("word_embeddings") or {}).get("source")
    if source is None:
        return
    for loader, ds in datasets:
        tokenizer = ds.get("tokenizer")
        if str(tokenizer) != str(source):
            raise ValueError(f"model.word_embeddings.source={source!r} holds one row per token of that vocabulary, but "
                             f"{loader}.dataset.tokenizer={tokenizer!r}; set tokenizer={source!r} (and vocab_size to "
                             "its size), or model.word_embeddings=None to learn the embeddings from scratch")


__all__ = ["resolve_text_config", "SHARED"]
