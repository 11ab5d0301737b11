"""Text classification benchmark: iMixer vs its explicit twin vs TF-IDF + logistic regression.

    python tools/benchmark_text.py                              # BBC News, seeds 0 1 2
    python tools/benchmark_text.py --data my.csv                # your data: a CSV (text, label columns)
    python tools/benchmark_text.py --data my_corpus/ --encoding latin-1 --label-column topic
    python tools/benchmark_text.py --seeds 0 1 2 --epochs 6 --out results/text_bench.json
    python tools/benchmark_text.py --data movie_snippets                 # a built-in short-text set
    python tools/benchmark_text.py --embeddings scratch --methods iMixer  # the *_wordpiece.py configs

``--data`` takes what the text datasets take (docs/text.md): a CSV file (split 70 / 10 / 20,
stratified, seed 0), a folder with ``train.csv`` / ``val.csv`` / ``test.csv``, or a folder with one
sub-folder of ``*.txt`` files per class. The class count comes from the training split.

The Mixers train through mmengine's Runner from ``configs/text/imixer_bbc-news.py`` and
``configs/text/mlpmixer_bbc-news.py`` (the same configs and the same config resolution as
``tools/train.py``), select the best validation epoch, and are scored on the test split: by default
with BERT's vocabulary and MiniLM's pretrained word-piece embeddings (``python tools/prepare_data.py
bert_uncased``); with ``--embeddings scratch`` (``configs/text/*_wordpiece.py``) with a WordPiece
vocabulary trained on the training split (into ``<work-dir>/tokenizer-wordpiece-N`` for ``--data`` paths)
and embeddings learnt from scratch.
The baseline is scikit-learn's TfidfVectorizer (unigrams + bigrams, sublinear tf) +
LogisticRegression with C chosen on the validation split, on the full texts, and again on the texts
the Mixers see (truncated to the same ``max_length`` word pieces). Every method uses the same split.
Accuracy and macro-F1 are reported in percent as mean +- std over the seeds, with the training time.
"""
import sys

import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.text.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
