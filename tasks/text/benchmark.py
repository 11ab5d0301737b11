"""The text-classification benchmark behind ``tools/benchmark_text.py``: the Mixers (each run the exact
``tools/train.py`` command it prints and stores) beside TF-IDF + logistic regression on the same splits.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time

import numpy as np
from mmengine.config import Config, DictAction

from tasks.common.fetch import REPO_ROOT
from tasks.common.grid import cli_value

from .datasets import BUILTIN_SOURCES

USAGE = """Text classification benchmark: iMixer vs its explicit twin vs TF-IDF + logistic regression.

    python tools/benchmark_text.py                              # BBC News, seeds 0 1 2
    python tools/benchmark_text.py --data my.csv                # your data: a CSV (text, label columns)
    python tools/benchmark_text.py --data my_corpus/ --encoding latin-1 --label-column topic
    python tools/benchmark_text.py --seeds 0 1 2 --epochs 6 --out results/text_bench.json
    python tools/benchmark_text.py --data movie_snippets                 # a built-in short-text set
    python tools/benchmark_text.py --embeddings scratch --methods iMixer  # the *_wordpiece.py configs

``--data`` takes what the text datasets take (docs/text.md): a CSV file (split 70 / 10 / 20,
stratified, seed 0), a folder with ``train.csv`` / ``val.csv`` / ``test.csv``, or a folder with one
sub-folder of ``*.txt`` files per class. The class count comes from the training split.

Every Mixer run is the ``tools/train.py`` command it prints (and stores with ``--out``), on
``configs/text/imixer_bbc-news.py`` and ``configs/text/mlpmixer_bbc-news.py``: the Runner keeps the best
validation epoch and scores it on the test split; by default
with BERT's vocabulary and MiniLM's pretrained word-piece embeddings (``python tools/prepare_data.py
bert_uncased``); with ``--embeddings scratch`` (``configs/text/*_wordpiece.py``) with a WordPiece
vocabulary trained on the training split (into ``<work-dir>/tokenizer-wordpiece-N`` for ``--data`` paths)
and embeddings learnt from scratch.
The baseline is scikit-learn's TfidfVectorizer (unigrams + bigrams, sublinear tf) +
LogisticRegression with C chosen on the validation split, on the full texts, and again on the texts
the Mixers see (truncated to the same ``max_length`` word pieces). Every method uses the same split.
Accuracy and macro-F1 are reported in percent as mean +- std over the seeds, with the training time."""

CONFIGS = {"iMixer": "configs/text/imixer_bbc-news.py", "MLP-Mixer (twin)": "configs/text/mlpmixer_bbc-news.py"}
SPLITS = ("train", "val", "test")


def mixer_command(config: str, seed: int, epochs, work_dir: str, data_options: dict, cfg_options=None) -> list:
    """The exact ``tools/train.py`` command of one Mixer cell: every override on its command line."""
    options = {"randomness.seed": seed, **data_options, **(cfg_options or {})}
    if epochs is not None:
        options["train_cfg.max_epochs"] = epochs
    return ["python", "tools/train.py", config, "--work-dir", work_dir, "--cfg-options",
            *[f"{k}={cli_value(v)}" for k, v in options.items()]]


def run_mixer(config: str, seed: int, epochs, work_dir: str, threads: int, data_options: dict,
              cfg_options=None) -> dict:
    """One Mixer cell: its :func:`mixer_command` run from the repository root (the Runner tests the best
    checkpoint after training, as for any user); the metrics and time come from its work dir."""
    cmd = mixer_command(config, seed, epochs, work_dir, data_options, cfg_options)
    print("[text] " + shlex.join(cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    subprocess.run([sys.executable, *cmd[1:]], cwd=REPO_ROOT, env=env, check=True)
    metrics = json.load(open(osp.join(REPO_ROOT, work_dir, "test_metrics.json")))
    probe = json.load(open(osp.join(REPO_ROOT, work_dir, "probe.json")))
    return dict(accuracy=metrics["cls/accuracy"], macro_f1=metrics["cls/macro_f1"], train_s=probe["train_s"],
                params=probe["params"], best_ckpt=osp.basename(metrics["checkpoint"]), command=shlex.join(cmd))


def run_tfidf(seed: int, dataset: dict, tokenizer=None, max_length=None) -> dict:
    """TF-IDF + logistic regression on ``dataset``'s splits (a resolved ``TextClsDataset`` config); with
    ``tokenizer``, on each text's first ``max_length`` word pieces, decoded."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from tasks.text import load_split
    from tasks.text.run_config import SPLIT_KEYS

    args = {k: dataset[k] for k in SPLIT_KEYS if k in dataset}
    data = {s: load_split(split=s, **args) for s in SPLITS}
    if tokenizer is not None:
        for s, (texts, labels, ids) in data.items():
            enc = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
            data[s] = (tokenizer.batch_decode(enc, skip_special_tokens=True), labels, ids)
    t0 = time.time()
    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2 if len(data["train"][0]) >= 100 else 1)
    xtr = vec.fit_transform(data["train"][0])
    xva, xte = vec.transform(data["val"][0]), vec.transform(data["test"][0])
    best = None
    for c in (1.0, 10.0, 100.0):
        clf = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(xtr, data["train"][1])
        acc = accuracy_score(data["val"][1], clf.predict(xva)) if data["val"][1] else 0.0
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    pred = best[2].predict(xte)
    gt = data["test"][1]
    return dict(accuracy=100 * accuracy_score(gt, pred), macro_f1=100 * f1_score(gt, pred, average="macro"),
                train_s=time.time() - t0, C=best[1])


def mixer_tokenizer(cfg):
    """The tokenizer the Mixers use (trained on the training split when it does not exist yet)."""
    from tasks.text import TextClsDataset

    dataset = {k: v for k, v in cfg.train_dataloader.dataset.items() if k != "type"}
    return TextClsDataset(**dict(dataset, crop="head", token_dropout=0.0)).tokenizer


def summarise(rows: list) -> str:
    lines = ["| method | accuracy (%) | macro-F1 (%) | train time (s) | runs |", "|---|---|---|---|---|"]
    for name in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == name]
        acc, f1, ts = (np.array([r[k] for r in rs]) for k in ("accuracy", "macro_f1", "train_s"))
        lines.append(f"| {name} | {acc.mean():.2f} +- {acc.std():.2f} | {f1.mean():.2f} +- {f1.std():.2f} | "
                     f"{ts.mean():.1f} | {len(rs)} |")
    return "\n".join(lines)


def data_settings(args, config: str) -> dict:
    """The top-level config settings (``tasks.text.resolve_text_config``) the data options give."""
    options = {}
    if args.data in BUILTIN_SOURCES:
        options["source"] = args.data
    elif args.data is not None:
        if not osp.exists(args.data):
            raise SystemExit(f"--data {args.data} does not exist; give a CSV file (text, label columns), a folder with "
                             "train/val/test.csv, or a folder of <class>/*.txt")
        options["source"] = osp.abspath(args.data)
        if args.embeddings == "scratch":  # the WordPiece tokenizer goes to the work dir, not beside the user's data
            cfg = Config.fromfile(config)
            cfg.merge_from_dict(args.cfg_options or {})
            options["tokenizer"] = osp.abspath(osp.join(args.work_dir, f"tokenizer-wordpiece-{cfg.vocab_size}"))
    for key in ("encoding", "text_column", "label_column"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return options


def write_rows(path, rows) -> None:
    os.makedirs(osp.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", metavar="PATH", default=None,
                        help="your data: a CSV file, a folder with train/val/test.csv, or a folder of <class>/*.txt; "
                             f"or a built-in set ({', '.join(BUILTIN_SOURCES)}; default: bbc_news)")
    parser.add_argument("--encoding", default=None, help="the data files' encoding (default utf-8)")
    parser.add_argument("--text-column", dest="text_column", default=None, help="CSV text column (default 'text')")
    parser.add_argument("--label-column", dest="label_column", default=None, help="CSV label column (default 'label')")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override the configs' max_epochs")
    parser.add_argument("--methods", nargs="+", default=["tfidf", "iMixer", "MLP-Mixer (twin)"],
                        help="subset of: tfidf iMixer 'MLP-Mixer (twin)'")
    parser.add_argument("--work-dir", default="work_dirs/benchmark_text")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--out", default=None, help="write every run as JSON here")
    parser.add_argument("--embeddings", choices=["minilm", "scratch"], default="minilm",
                        help="the Mixers' start: BERT's vocabulary and MiniLM's word-piece embeddings "
                             "(configs/text/*_bbc-news.py; python tools/prepare_data.py bert_uncased), or a WordPiece "
                             "vocabulary trained on the training split and embeddings learnt from scratch "
                             "(*_wordpiece.py)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default=None,
                        help="override settings of both Mixer configs, as tools/train.py's --cfg-options "
                             "(e.g. max_length=128 model.hf_config.hidden_size=128)")
    args = parser.parse_args(argv)
    unknown = set(args.methods) - {"tfidf", *CONFIGS}
    if unknown:
        raise SystemExit(f"unknown --methods {sorted(unknown)}; choose from tfidf {' '.join(map(repr, CONFIGS))}")

    from tasks.common.fetch import prepare

    if args.data is None or args.data in BUILTIN_SOURCES:
        prepare(args.data or "bbc_news")
    if args.embeddings == "minilm" and set(args.methods) & set(CONFIGS):
        prepare("bert_uncased")
    configs = {name: path.replace(".py", "_wordpiece.py") if args.embeddings == "scratch" else path
               for name, path in CONFIGS.items()}
    data_options = data_settings(args, configs["iMixer"])
    from tasks.text import resolve_text_config

    reference = Config.fromfile(configs["iMixer"])  # resolved (and the data checked) before any run
    reference.merge_from_dict(dict(data_options, **(args.cfg_options or {})))
    resolve_text_config(reference)
    max_length, dataset = reference.max_length, reference.train_dataloader.dataset
    tokenizer = mixer_tokenizer(reference) if "tfidf" in args.methods else None
    rows = []
    for seed in args.seeds:
        if "tfidf" in args.methods:
            rows.append(dict(method="TF-IDF + LR (full text)", seed=seed, **run_tfidf(seed, dataset)))
            rows.append(dict(method=f"TF-IDF + LR (first {max_length} word pieces)", seed=seed,
                             **run_tfidf(seed, dataset, tokenizer, max_length)))
            print(json.dumps(rows[-2:]), flush=True)
        for name, config in configs.items():
            if name not in args.methods:
                continue
            wd = osp.join(args.work_dir, f"{osp.splitext(osp.basename(config))[0]}_seed{seed}")
            label = name if args.embeddings == "minilm" else f"{name}, from scratch"
            rows.append(dict(method=label, seed=seed, **run_mixer(config, seed, args.epochs, wd, args.threads,
                                                             data_options, args.cfg_options)))
            print(json.dumps(rows[-1]), flush=True)
            if args.out:
                write_rows(args.out, rows)
    if args.out:
        write_rows(args.out, rows)
    print(summarise(rows))
    return 0
