"""tools/benchmark_text.py --data (tasks.text.benchmark): the Mixers (tools/train.py commands) and TF-IDF + LR
on a user's CSV."""
import json

import pytest


def test_benchmark_runs_every_method_on_a_user_csv(monkeypatch, tmp_path, corpus):
    data = corpus.write_csv(tmp_path / "mine.csv", corpus.make_texts(10))  # 3 classes, split 21 / 3 / 6
    work = tmp_path / "bench"
    from tasks.text.benchmark import main

    argv = ["--data", str(data), "--embeddings", "scratch", "--seeds", "0", "--epochs", "1",
        "--work-dir", str(work),
        "--out", str(work / "rows.json"), "--cfg-options", "max_length=16", "vocab_size=150",
        "model.hf_config.hidden_size=16", "model.hf_config.num_hidden_layers=1", "train_dataloader.batch_size=7"]
    assert main(argv) == 0
    rows = {r["method"]: r for r in json.loads((work / "rows.json").read_text())}
    assert set(rows) == {"TF-IDF + LR (full text)", "TF-IDF + LR (first 16 word pieces)", "iMixer, from scratch",
                         "MLP-Mixer (twin), from scratch"}
    for row in rows.values():
        assert 0 <= row["accuracy"] <= 100 and 0 <= row["macro_f1"] <= 100
    # each Mixer row stores the tools/train.py command that reproduces it
    assert rows["iMixer, from scratch"]["command"].startswith(
        "python tools/train.py configs/text/imixer_bbc-news_wordpiece.py --work-dir ")
    # trained by the Runner, best epoch kept
    for name in ("imixer_bbc-news_wordpiece_seed0", "mlpmixer_bbc-news_wordpiece_seed0"):
        assert (work / name / "best_cls_accuracy_epoch_1.pth").exists()
    # the Mixers' tokenizer is trained into the work dir, never beside the user's data
    assert (work / "tokenizer-wordpiece-150" / "tokenizer.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench", "mine.csv"]


def test_benchmark_names_a_missing_data_path(tmp_path):
    from tasks.text.benchmark import main

    with pytest.raises(SystemExit, match="--data .*nowhere.csv does not exist"):
        main(["--data", str(tmp_path / "nowhere.csv")])
