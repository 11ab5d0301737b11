"""Text classification benchmark: iMixer vs its explicit twin vs TF-IDF + logistic regression.

    python tools/benchmark_text.py                              # BBC News, seeds 0 1 2
    python tools/benchmark_text.py --seeds 0 1 2 --epochs 6 --out results/text_bench.json
    python tools/benchmark_text.py --vocab bert_uncased --methods iMixer   # the *_bert-vocab.py configs

The Mixers train through mmengine's Runner from ``configs/text/imixer_bbc-news.py`` and
``configs/text/mlpmixer_bbc-news.py`` (the same configs ``tools/train.py`` takes), select the best
validation epoch, and are scored on the test split. The baseline is scikit-learn's TfidfVectorizer
(unigrams + bigrams, sublinear tf) + LogisticRegression with C chosen on the validation split, on the
full texts, and again on the texts the Mixers see (truncated to the same ``max_length`` word pieces).
Every method uses the same fixed split (``python tools/prepare_data.py bbc_news``). Accuracy and
macro-F1 are reported in percent as mean +- std over the seeds, with the training time.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import _bootstrap  # noqa: F401
import numpy as np
from mmengine.config import DictAction

CONFIGS = {"iMixer": "configs/text/imixer_bbc-news.py", "MLP-Mixer (twin)": "configs/text/mlpmixer_bbc-news.py"}


def run_mixer(config: str, seed: int, epochs, work_dir: str, threads: int, cfg_options=None) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    torch.set_num_threads(threads)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    if epochs is not None:
        cfg.train_cfg.max_epochs = epochs
        cfg.param_scheduler[-1].end = epochs
    cfg.default_hooks.logger.interval = 50
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "ExportHFHook"]
    runner = Runner.from_cfg(cfg)
    t0 = time.time()
    runner.train()
    train_s = time.time() - t0
    best = runner.message_hub.get_info("best_ckpt")
    runner.load_checkpoint(best)
    metrics = runner.test()
    n_params = sum(p.numel() for p in runner.model.parameters())
    return dict(accuracy=metrics["cls/accuracy"], macro_f1=metrics["cls/macro_f1"], train_s=train_s,
                params=n_params, best_ckpt=osp.basename(best))


def run_tfidf(seed: int, truncate_to=None) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from tasks.text import load_split

    data = {s: load_split("bbc_news", s) for s in ("train", "val", "test")}
    if truncate_to is not None:
        from tasks.text import load_tokenizer
        from tasks.text.datasets import default_tokenizer_dir

        tok = load_tokenizer(default_tokenizer_dir("bbc_news", 8000))
        for s, (texts, labels, ids) in data.items():
            enc = tok(texts, truncation=True, max_length=truncate_to)["input_ids"]
            data[s] = (tok.batch_decode(enc, skip_special_tokens=True), labels, ids)
    t0 = time.time()
    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    xtr = vec.fit_transform(data["train"][0])
    xva, xte = vec.transform(data["val"][0]), vec.transform(data["test"][0])
    best = None
    for c in (1.0, 10.0, 100.0):
        clf = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(xtr, data["train"][1])
        acc = accuracy_score(data["val"][1], clf.predict(xva))
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    pred = best[2].predict(xte)
    gt = data["test"][1]
    return dict(accuracy=100 * accuracy_score(gt, pred), macro_f1=100 * f1_score(gt, pred, average="macro"),
                train_s=time.time() - t0, C=best[1])


def summarise(rows: list) -> str:
    lines = ["| method | accuracy (%) | macro-F1 (%) | train time (s) | runs |", "|---|---|---|---|---|"]
    for name in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == name]
        acc, f1, ts = (np.array([r[k] for r in rs]) for k in ("accuracy", "macro_f1", "train_s"))
        lines.append(f"| {name} | {acc.mean():.2f} +- {acc.std():.2f} | {f1.mean():.2f} +- {f1.std():.2f} | "
                     f"{ts.mean():.1f} | {len(rs)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override the configs' max_epochs")
    parser.add_argument("--methods", nargs="+", default=["tfidf", "iMixer", "MLP-Mixer (twin)"],
                        help="subset of: tfidf iMixer 'MLP-Mixer (twin)'")
    parser.add_argument("--work-dir", default="work_dirs/benchmark_text")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--out", default=None, help="write every run as JSON here")
    parser.add_argument("--vocab", choices=["trained", "bert_uncased"], default="trained",
                        help="the Mixers' vocabulary: WordPiece trained on the training split (configs/text/*_bbc-news.py) "
                             "or BERT's (*_bbc-news_bert-vocab.py; python tools/prepare_data.py bert_uncased)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default=None,
                        help="override settings of both Mixer configs, as tools/train.py's --cfg-options")
    args = parser.parse_args()

    from tasks.text import prepare_bbc_news

    prepare_bbc_news()
    from mmengine.config import Config

    max_length = Config.fromfile(CONFIGS["iMixer"]).max_length
    rows = []
    for seed in args.seeds:
        if "tfidf" in args.methods:
            rows.append(dict(method="TF-IDF + LR (full text)", seed=seed, **run_tfidf(seed)))
            rows.append(dict(method=f"TF-IDF + LR (first {max_length} word pieces)", seed=seed,
                             **run_tfidf(seed, max_length)))
            print(json.dumps(rows[-2:]), flush=True)
        for name, config in CONFIGS.items():
            if name not in args.methods:
                continue
            if args.vocab == "bert_uncased":
                config = config.replace(".py", "_bert-vocab.py")
            wd = osp.join(args.work_dir, f"{osp.splitext(osp.basename(config))[0]}_seed{seed}")
            label = name if args.vocab == "trained" else f"{name}, BERT vocabulary"
            rows.append(dict(method=label, seed=seed, **run_mixer(config, seed, args.epochs, wd, args.threads,
                                                             args.cfg_options)))
            print(json.dumps(rows[-1]), flush=True)
            if args.out:
                os.makedirs(osp.dirname(args.out) or ".", exist_ok=True)
                with open(args.out, "w") as f:
                    json.dump(rows, f, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
