"""Training the text iMixer: 2 steps through tools/train.py (mmengine Runner) and 2 through transformers' Trainer."""
import pytest
import torch
from mmengine.config import Config
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

import tasks.text  # noqa: F401
from tasks.text import IMixerConfig, IMixerForSequenceClassification, TextClsDataset

CFG = "configs/text/imixer_bbc-news.py"


def tiny_options(text_dir, max_length=16):
    opts = [f"{k}.dataset.{name}={value}"
            for k in ("train_dataloader", "val_dataloader", "test_dataloader")
            for name, value in (("source", text_dir), ("tokenizer", text_dir / "tok"), ("vocab_size", 150),
                                ("max_length", max_length))]
    opts += [f"model.hf_config.{k}={v}" for k, v in (("vocab_size", 150), ("max_position_embeddings", max_length),
                                                    ("hidden_size", 16), ("num_hidden_layers", 1), ("num_labels", 3))]
    opts += ["train_dataloader.batch_size=6", "train_cfg.max_epochs=1", "default_hooks.logger.interval=1"]
    return opts


def test_runner_two_steps_and_export(run_tool, text_dir, tmp_path):
    work = tmp_path / "work"
    proc = run_tool(["tools/train.py", CFG, "--work-dir", work, "--cfg-options", *tiny_options(text_dir)])
    log = proc.stdout + proc.stderr
    assert "Epoch(train) [1][2/2]" in log  # 12 training texts / batch 6 = 2 steps
    assert "cls/accuracy" in log and "cls/macro_f1" in log and "solver_iters" in log
    assert (work / "epoch_1.pth").exists()
    export = work / "hf_export"
    model = AutoModelForSequenceClassification.from_pretrained(export).eval()
    tok = AutoTokenizer.from_pretrained(export)
    assert type(model) is IMixerForSequenceClassification and model.config.token_mixer == "implicit"
    assert model.config.id2label == {0: "music", 1: "sport", 2: "tech"}
    enc = tok(["the band played a new song on tour", "the striker scored a goal"], truncation=True,
              padding=True, return_tensors="pt")
    assert enc["input_ids"].shape[1] <= 16  # the exported tokenizer truncates to the model's length
    assert model(**enc).logits.shape == (2, 3)


def test_explicit_twin_config_builds():
    from backbones.registry import MODELS

    cfg = Config.fromfile("configs/text/mlpmixer_bbc-news.py")
    twin, ref = cfg.model.hf_config, Config.fromfile(CFG).model.hf_config
    assert twin.token_mixer == "mlp" and ref.token_mixer == "implicit"
    assert {k: v for k, v in twin.items() if k != "token_mixer"} == \
        {k: v for k, v in ref.items() if k not in ("token_mixer", "h_ratio", "n_iter")}
    model = MODELS.build(dict(cfg.model, hf_config=dict(cfg.model.hf_config, vocab_size=100, hidden_size=8)))
    assert model.hf_model.imixer.encoder.token_mixer == "mlp"


def test_bert_vocabulary_configs_differ_only_in_the_vocabulary():
    base = Config.fromfile(CFG)
    bert = Config.fromfile("configs/text/imixer_bbc-news_bert-vocab.py")
    twin = Config.fromfile("configs/text/mlpmixer_bbc-news_bert-vocab.py")
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert bert[loader].dataset.tokenizer == "bert_uncased" and twin[loader] == bert[loader]
        assert {**bert[loader].dataset, "tokenizer": None} == {**base[loader].dataset}
    assert bert.model.hf_config.vocab_size == 30522  # len(BERT's uncased vocabulary)
    assert {**bert.model.hf_config, "vocab_size": 8000} == {**base.model.hf_config}
    assert {**twin.model.hf_config, "token_mixer": "implicit"} == {**bert.model.hf_config}
    assert twin.model.hf_config.token_mixer == "mlp"


def test_hf_trainer_two_steps(text_dir, tmp_path):
    data = TextClsDataset(source=str(text_dir), split="train", tokenizer=str(text_dir / "tok"), vocab_size=150,
                          max_length=16, output="hf")
    model = IMixerForSequenceClassification(IMixerConfig(
        vocab_size=len(data.tokenizer), max_position_embeddings=16, hidden_size=16, num_hidden_layers=1,
        num_labels=len(data.classes)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    args = TrainingArguments(output_dir=str(tmp_path / "trainer"), max_steps=2, per_device_train_batch_size=4,
                             learning_rate=1e-2, report_to="none", use_cpu=True, save_strategy="no",
                             logging_steps=1, disable_tqdm=True, dataloader_pin_memory=False)
    trainer = Trainer(model=model, args=args, train_dataset=data)
    result = trainer.train()
    assert result.global_step == 2 and torch.isfinite(torch.tensor(result.training_loss))
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert "classifier.weight" in changed and "imixer.embeddings.word_embeddings.weight" in changed
