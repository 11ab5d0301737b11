"""Language-model corpora: two that ship in Debian packages, and the user's own text.

Built-in corpora (``python tools/prepare_data.py gcide fortunes``), each split once by document with
a fixed seed (90 / 5 / 5 %, seed 0) into ``data/<name>/{train,val,test}.txt``, one document a line,
with the counts in ``data/<name>/meta.json``:

* ``'gcide'``: the GNU Collaborative International Dictionary of English (Debian ``dict-gcide``,
  GPL-2+; Webster's 1913 dictionary revised, with WordNet 1.5 glosses): 126,225 entries, 4.94 million
  words (4.43 million in training) after the source tags (``[1913 Webster]``, ``[PJC]``, ...) are dropped. A document is one entry.
* ``'fortunes'``: the BSD ``fortune`` cookies (Debian ``fortunes``, BSD licence; quotations, jokes,
  poems): 14,396 cookies, 0.43 million words. A document is one cookie.

The user's text (``source=`` a path) is one of

* a directory with ``train.txt``, ``val.txt``, ``test.txt``: used as they are, one document a line;
* a directory of ``*.txt`` files (searched recursively), one document a file;
* one ``.txt`` file, one document a paragraph (blank-line separated);
* a CSV file, one document a row of its ``text_column``;
* the name of a text-classification set (``'bbc_news'``, ...): its *training* texts only, one document
  a text (self-pretraining, Amos et al., "Never Train from Scratch", ICLR 2024);

and the documents are split by the same fixed seeded rule. Errors name what to change: an empty file
(its path), undecodable bytes (the file and the ``encoding=`` option), too few documents to split, and
a split too short for one token window (its size in tokens and ``max_length``).

:class:`LMDataset` tokenises a split into one stream of word pieces (a document's pieces, then
``[SEP]``) and cuts it into non-overlapping windows of the model's fixed token count: masked-LM
windows are ``[CLS]`` + ``max_length - 2`` pieces + ``[SEP]``, causal-LM windows ``max_length``
pieces. Both objectives and every model of a comparison read the same pieces. :func:`lm_collate` is
transformers' ``DataCollatorForLanguageModeling`` as a runner collate function; ``fixed_masks=True``
(validation, test) draws the masked positions from a seed of the batch's tokens, so every evaluation
scores the same positions.
"""
from __future__ import annotations

import functools
import gzip
import json
import re
import zlib
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from torch.utils.data import Dataset

from backbones.registry import DATASETS
from tasks.common.runner import FUNCTIONS
from tasks.common.fetch import MissingDatasetError, apt_fetch, data_root, register_preparer, write_atomic

from .datasets import BUILTIN_SOURCES, SPLITS, _decode_error, resolve_source
from .tokenization import load_tokenizer, resolve_tokenizer, tokenizer_dir_beside, trained_tokenizer

OBJECTIVES = ("mlm", "clm")
#: the fixed document split of every corpus: validation and test fractions, seed
VAL_RATIO, TEST_RATIO, SPLIT_SEED = 0.05, 0.05, 0
GCIDE_FILE = "usr/share/dictd/gcide.dict.dz"
FORTUNES_DIR = "usr/share/games/fortunes"
#: GCIDE's source tags ([1913 Webster], [WordNet 1.5], [PJC], [Webster 1913 Suppl.], ...): not text
GCIDE_TAGS = re.compile(r"\[[^\]\n]*(?:Webster|WordNet|PJC)[^\]\n]*\]")
GCIDE_ENTRY = re.compile(r"\n\n(?=\S)")
GCIDE_HEADWORD = re.compile(r"^\S[^\n]*\\")  # an entry opens with 'Word \Pro*nun"ci*a`tion\, n. ...'
#: the corpora's known sizes (documents, words of all splits): a changed package is reported
CORPORA = {"gcide": ("dict-gcide", "GPL-2+", (100_000, 130_000), (4_000_000, 6_000_000)),
           "fortunes": ("fortunes", "BSD", (10_000, 25_000), (300_000, 600_000))}


def split_documents(n: int, val_ratio: float = VAL_RATIO, test_ratio: float = TEST_RATIO,
                    seed: int = SPLIT_SEED) -> dict:
    """Fixed train / val / test indices of ``n`` documents (a seeded permutation; each split sorted).

    Raises:
        ValueError: too few documents to give every split at least one.
    """
    if not (0 < val_ratio < 1 and 0 < test_ratio < 1 and val_ratio + test_ratio < 1):
        raise ValueError(f"val_ratio={val_ratio} and test_ratio={test_ratio} must lie in (0, 1) with sum < 1")
    n_val, n_test = max(1, round(n * val_ratio)), max(1, round(n * test_ratio))
    if n - n_val - n_test < 1:
        raise ValueError(f"{n} document(s) cannot be split into train / val / test; give at least 3 documents "
                         "(files, paragraphs or rows), or a directory with train.txt, val.txt and test.txt")
    order = np.random.default_rng(seed).permutation(n)
    return dict(val=np.sort(order[:n_val]), test=np.sort(order[n_val:n_val + n_test]),
                train=np.sort(order[n_val + n_test:]))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _write_corpus(name: str, docs: List[str]) -> Path:
    """Split ``docs`` by :func:`split_documents`, write ``{train,val,test}.txt`` and ``meta.json``, check
    the sizes against :data:`CORPORA`. Returns the directory."""
    package, licence, (lo_docs, hi_docs), (lo_words, hi_words) = CORPORA[name]
    docs = [d for d in (_one_line(d) for d in docs) if d]
    words = sum(len(d.split()) for d in docs)
    if not (lo_docs <= len(docs) <= hi_docs and lo_words <= words <= hi_words):
        raise RuntimeError(f"[{name}] expected {lo_docs:,}-{hi_docs:,} documents and {lo_words:,}-{hi_words:,} words "
                           f"in the Debian package {package}, found {len(docs):,} and {words:,}; the package may "
                           "have changed")
    out = data_root() / name
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(package=package, licence=licence, split=dict(val_ratio=VAL_RATIO, test_ratio=TEST_RATIO,
                                                             seed=SPLIT_SEED, unit="document"))
    for split, idx in split_documents(len(docs)).items():
        part = [docs[i] for i in idx]
        write_atomic(out / f"{split}.txt", ("\n".join(part) + "\n").encode("utf-8"))
        meta[split] = dict(documents=len(part), words=sum(len(d.split()) for d in part),
                           characters=sum(len(d) for d in part))
    write_atomic(out / "meta.json", json.dumps(meta, indent=1).encode("utf-8"))
    print(f"[{name}] {len(docs):,} documents, {words:,} words -> " +
          " / ".join(f"{meta[s]['words']:,} {s}" for s in SPLITS) + f" words in {out}", flush=True)
    return out


def _decode_lines(raw: bytes) -> str:
    """UTF-8, with the rare line in Windows-1252 (GCIDE has three such bytes) decoded as that."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        lines = []
        for line in raw.split(b"\n"):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(line.decode("cp1252", errors="replace"))
        return "\n".join(lines)


def gcide_documents(dict_dz: Path) -> List[str]:
    """The entries of GCIDE's dictd file (a gzip-compatible ``.dict.dz``), source tags removed."""
    text = _decode_lines(gzip.decompress(dict_dz.read_bytes()))
    return [GCIDE_TAGS.sub(" ", e) for e in GCIDE_ENTRY.split(text) if GCIDE_HEADWORD.match(e)]


def fortunes_documents(folder: Path) -> List[str]:
    """The cookies of every fortune file (``%`` lines separate them; the ``.dat`` indexes and the
    ``.u8`` links are skipped)."""
    docs = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".dat", ".u8") or path.is_symlink() or not path.is_file():
            continue
        docs += re.split(r"^%$", _decode_lines(path.read_bytes()), flags=re.M)
    return docs


def _prepared(name: str) -> bool:
    out = data_root() / name
    return all((out / f"{s}.txt").exists() for s in SPLITS) and (out / "meta.json").exists()


@register_preparer("gcide", "GCIDE dictionary text (Debian dict-gcide, 15 MB, GPL-2+), 4.9 million words, "
                   "for language models")
def prepare_gcide(force: bool = False) -> Path:
    """``data/gcide/{train,val,test}.txt``: one dictionary entry a line (see the module docstring)."""
    if _prepared("gcide") and not force:
        return data_root() / "gcide"
    return _write_corpus("gcide", gcide_documents(apt_fetch("dict-gcide") / GCIDE_FILE))


@register_preparer("fortunes", "fortune cookies (Debian fortunes, 0.8 MB, BSD), 0.43 million words, for language "
                   "models")
def prepare_fortunes(force: bool = False) -> Path:
    """``data/fortunes/{train,val,test}.txt``: one cookie a line (see the module docstring)."""
    if _prepared("fortunes") and not force:
        return data_root() / "fortunes"
    return _write_corpus("fortunes", fortunes_documents(apt_fetch("fortunes") / FORTUNES_DIR))


# -- any source --------------------------------------------------------------------------------------------
def _read_text(path: Path, encoding: str) -> str:
    try:
        text = path.read_bytes().decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise _decode_error(path, encoding, exc) from exc
    if not text.strip():
        raise ValueError(f"{path} is empty (no text); remove it or put text in it")
    return text


def _user_documents(path: Path, text_column: str, encoding: str) -> Tuple[List[str], str]:
    """The documents of a user's source and what a document is (for messages)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file() and not any(  # not a tokenizer saved there
            part.startswith("tokenizer-wordpiece-") for part in p.relative_to(path).parts))
        if not files:
            raise ValueError(f"{path} holds no .txt files; a text folder needs .txt files (one document each), or "
                             "train.txt, val.txt and test.txt")
        return [_read_text(f, encoding) for f in files], "file"
    if path.suffix.lower() in (".csv", ".tsv"):
        import pandas as pd

        try:
            frame = pd.read_csv(path, keep_default_na=False, dtype=str, encoding=encoding,
                                sep="\t" if path.suffix.lower() == ".tsv" else ",")
        except (UnicodeDecodeError, LookupError) as exc:
            raise _decode_error(path, encoding, exc) from exc
        if text_column not in frame.columns:
            raise ValueError(f"{path} has no column {text_column!r} (columns: {list(frame.columns)}); set text_column=")
        docs = [t for t in frame[text_column].tolist() if t.strip()]
        if not docs:
            raise ValueError(f"{path}: the column {text_column!r} holds no text")
        return docs, "row"
    return [p for p in re.split(r"\n\s*\n", _read_text(path, encoding)) if p.strip()], "paragraph"


def resolve_corpus(source: Union[str, Path]) -> Path:
    """A built-in corpus name -> ``data/<name>`` (:class:`MissingDatasetError` when unprepared); a
    text-classification set (``'bbc_news'``, ``'tweets'``, ...) -> its *training* CSV, whose texts are
    then split into the LM's train / val / test (self-pretraining on the task's own training texts:
    its validation and test texts are never seen); else a path."""
    if str(source) in BUILTIN_SOURCES:
        return resolve_source(source) / "train.csv"
    if str(source) in CORPORA:
        if not _prepared(str(source)):
            raise MissingDatasetError(str(source), data_root() / str(source))
        return data_root() / str(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"language-model source {path} does not exist; give a built-in corpus "
                                f"({', '.join(CORPORA)}), a folder of .txt files, a .txt file or a CSV file")
    return path


def load_corpus_split(source: Union[str, Path], split: str, text_column: str = "text",
                      encoding: str = "utf-8") -> List[str]:
    """The documents of one split of ``source`` (see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    path = resolve_corpus(source)
    if path.is_dir() and (path / "train.txt").exists():
        file = path / f"{split}.txt"
        if not file.exists():
            raise FileNotFoundError(f"{path} has train.txt but no {split}.txt; add it, or give a folder of .txt files "
                                    "to be split automatically")
        return [line for line in _read_text(file, encoding).splitlines() if line.strip()]
    docs, unit = _user_documents(path, text_column, encoding)
    try:
        idx = split_documents(len(docs))[split]
    except ValueError as exc:
        raise ValueError(f"{path}: {len(docs)} {unit}(s): {exc}") from exc
    return [docs[i] for i in idx]


def default_lm_tokenizer_dir(source: Union[str, Path], vocab_size: int) -> Path:
    """Where the tokenizer trained on ``source``'s training split is kept: ``<dir>/tokenizer-wordpiece-<n>``
    (a file's: ``<stem>-tokenizer-wordpiece-<n>`` beside it)."""
    return tokenizer_dir_beside(resolve_corpus(source), vocab_size)


@DATASETS.register_module()
class LMDataset(Dataset):
    """Fixed-length token windows of a corpus split, for masked and causal language models.

    Args:
        source: ``'gcide'``, ``'fortunes'`` or a path (see the module docstring).
        split: ``'train'``, ``'val'`` or ``'test'``.
        objective: ``'mlm'`` (``[CLS]`` + ``max_length - 2`` pieces + ``[SEP]``) or ``'clm'``
            (``max_length`` pieces).
        tokenizer: a saved tokenizer's directory, or ``'bert_uncased'`` (BERT's vocabulary, which MiniLM's
            table of ``HFLanguageModel(word_embeddings=...)`` is indexed by); when a directory holds none a
            WordPiece tokenizer of ``vocab_size`` pieces is trained on the *training* split and saved
            there. ``None``: :func:`default_lm_tokenizer_dir`.
        vocab_size: the vocabulary size of a trained tokenizer.
        max_length: the model's fixed token count (the window length).
        max_windows: keep the first ``max_windows`` windows (a token budget for quick runs; ``None``: all).
        text_column: a CSV source's text column.
        encoding: the user's files' text encoding.

    Raises:
        ValueError: an unknown objective, an empty or undecodable file, or a split shorter than one window.
    """

    def __init__(self, source: Union[str, Path] = "gcide", split: str = "train", objective: str = "mlm",
                 tokenizer: Optional[str] = None, vocab_size: int = 8000, max_length: int = 64,
                 max_windows: Optional[int] = None, text_column: str = "text", encoding: str = "utf-8") -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES} (masked / causal LM), got {objective!r}")
        if max_length < 3:
            raise ValueError(f"max_length must be >= 3, got {max_length}")
        if max_windows is not None and max_windows < 1:
            raise ValueError(f"max_windows must be >= 1 or None, got {max_windows}")
        self.source, self.split, self.objective, self.max_length = source, split, objective, int(max_length)
        kw = dict(text_column=text_column, encoding=encoding)
        self.tokenizer_dir = (resolve_tokenizer(tokenizer) if tokenizer
                              else default_lm_tokenizer_dir(source, vocab_size))
        self.tokenizer = trained_tokenizer(self.tokenizer_dir, lambda: load_corpus_split(source, "train", **kw),
                                           vocab_size, self.max_length, "LMDataset")
        stream = self._stream(lambda: load_corpus_split(source, split, **kw))
        body = self.max_length - 2 if objective == "mlm" else self.max_length
        count = len(stream) // body
        if count == 0:
            raise ValueError(f"the {split} split of {source} has {len(stream)} tokens, fewer than one window of "
                             f"{body} word pieces (max_length={max_length}); give more text or a smaller max_length")
        if max_windows is not None:
            count = min(count, int(max_windows))
        windows = torch.from_numpy(stream[:count * body].astype(np.int64)).view(count, body)
        if objective == "mlm":
            tok = self.tokenizer
            windows = torch.cat([windows.new_full((count, 1), tok.cls_token_id), windows,
                                 windows.new_full((count, 1), tok.sep_token_id)], 1)
        self.windows = windows
        self.num_tokens = int(len(stream))
        self.metainfo = dict(objective=objective, tokens=self.num_tokens)
        print_log(f"[LMDataset] {source} {split} ({objective}): {self.num_tokens:,} word pieces -> {count:,} windows "
                  f"of {self.max_length} tokens", logger="current")

    def _stream(self, docs) -> np.ndarray:
        """The split's word pieces, each document followed by ``[SEP]``; a built-in corpus's stream is
        cached beside its tokenizer (keyed by the split file's checksum)."""
        cache = None
        if str(self.source) in CORPORA:
            split_file = resolve_corpus(self.source) / f"{self.split}.txt"
            key = zlib.crc32(split_file.read_bytes()) ^ zlib.crc32((self.tokenizer_dir / "tokenizer.json").read_bytes())
            cache = self.tokenizer_dir / f"{self.split}-{key:08x}.npy"
            if cache.exists():
                return np.load(cache)
        sep = self.tokenizer.sep_token_id
        ids = self.tokenizer(list(docs()), add_special_tokens=False, verbose=False)["input_ids"]
        stream = np.fromiter((t for doc in ids for t in (*doc, sep)), dtype=np.int32)
        if cache is not None and is_main_process():
            np.save(cache.with_suffix(".tmp.npy"), stream)
            cache.with_suffix(".tmp.npy").replace(cache)
        return stream

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, idx: int) -> dict:
        ids = self.windows[idx]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


@functools.lru_cache(maxsize=8)
def _collator(tokenizer: str, mlm: bool, mlm_probability: float):
    from transformers import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(load_tokenizer(tokenizer), mlm=mlm, mlm_probability=mlm_probability,
                                           return_tensors="pt")


@FUNCTIONS.register_module()
def lm_collate(batch: Sequence[dict], tokenizer: str, objective: str = "mlm", mlm_probability: float = 0.15,
               fixed_masks: bool = False) -> dict:
    """transformers' ``DataCollatorForLanguageModeling`` as an mmengine collate function.

    Args:
        batch: :class:`LMDataset` items.
        tokenizer: the tokenizer's directory (the dataset's; the config's resolver sets it).
        objective: ``'mlm'`` (BERT's masking: ``mlm_probability`` of the tokens, 80 / 10 / 10 %
            ``[MASK]`` / random / kept; labels -100 elsewhere) or ``'clm'`` (labels = the inputs).
        mlm_probability: the fraction of tokens masked.
        fixed_masks: draw the masks from a seed made of the batch's token ids (the global random state
            is left as it was), so an evaluation always scores the same positions.

    Returns:
        ``dict(input_ids, attention_mask, labels)``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    collator = _collator(str(tokenizer), objective == "mlm", float(mlm_probability))
    items = [{"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]} for b in batch]
    if not fixed_masks or objective == "clm":
        return dict(collator(items))
    seed = zlib.crc32(torch.stack([b["input_ids"] for b in batch]).numpy().tobytes())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return dict(collator(items))


__all__ = ["LMDataset", "lm_collate", "load_corpus_split", "split_documents", "prepare_gcide", "prepare_fortunes",
           "default_lm_tokenizer_dir", "CORPORA", "OBJECTIVES"]
