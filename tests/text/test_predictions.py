"""tools/test.py --out on a text config: one row per test text (its id, predicted label, probabilities)."""
import csv
import uuid

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from tasks.common.predictions import configure_prediction_output
from tasks.text import resolve_text_config

CFG = "configs/text/imixer_bbc-news_wordpiece.py"  # a tokenizer trained on the tiny corpus


def _tiny(text_dir, max_length=16):
    return {"source": str(text_dir), "tokenizer": str(text_dir / "tok"), "vocab_size": 150, "max_length": max_length,
            "model.hf_config.hidden_size": 16, "model.hf_config.num_hidden_layers": 1}


def test_out_writes_one_row_per_test_text(text_dir, corpus, tmp_path):
    rows = corpus.make_texts(2, seed=2)
    corpus.write_csv(text_dir / "test.csv", [(f"t{i}", *r) for i, r in enumerate(rows)], ("id", "text", "label"))
    cfg = Config.fromfile(CFG)
    cfg.merge_from_dict(_tiny(text_dir))
    resolve_text_config(cfg)  # what tools/test.py does for text configs (config_resolvers)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "ExportHFHook"]
    cfg.work_dir, cfg.experiment_name = str(tmp_path / "work"), f"text_out_{uuid.uuid4().hex[:8]}"
    out = tmp_path / "preds.csv"
    configure_prediction_output(cfg, str(out))
    Runner.from_cfg(cfg).test()  # the initial weights: the file's shape is what is tested
    got = list(csv.DictReader(out.open()))
    assert [r["id"] for r in got] == [f"t{i}" for i in range(len(rows))]  # the CSV's own id column
    assert [r["label"] for r in got] == [label for _, label in rows]
    assert list(got[0])[3:] == ["prob_music", "prob_sport", "prob_tech"]
    for r in got:
        probs = {c: float(r[f"prob_{c}"]) for c in ("music", "sport", "tech")}
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert r["pred_label"] == max(probs, key=probs.get)

