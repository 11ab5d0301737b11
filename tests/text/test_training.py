"""Training the text iMixer: tools/train.py (mmengine Runner) on a user's CSV, the self-contained
export loaded where the project is not, the config's one-setting-per-quantity resolution, the twins,
and 2 steps through transformers' Trainer."""
import json
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

import tasks.text  # noqa: F401
from tasks.text import IMixerConfig, IMixerForSequenceClassification, TextClsDataset, resolve_text_config

CFG = "configs/text/imixer_bbc-news.py"
SCRATCH = "configs/text/imixer_bbc-news_wordpiece.py"
TWINS = [(CFG, "configs/text/mlpmixer_bbc-news.py"), (SCRATCH, "configs/text/mlpmixer_bbc-news_wordpiece.py")]


def tiny_bert_options(tiny_bert) -> dict:
    """The settings that fit the default configs' model to the ``tiny_bert`` fixture's vocabulary and table."""
    tok, table = tiny_bert
    return {"vocab_size": len(tok), "model.hf_config.embedding_size": table.shape[1]}


def tiny_options(source, tokenizer=None, max_length=16, batch_size=6, vocab=None):
    """--cfg-options of a seconds-long run: each data / length setting once, a tiny model, one epoch;
    ``tokenizer``: a trained WordPiece one (the *_wordpiece.py configs), ``vocab``: the default configs'
    settings for :func:`~tests.text.conftest.tiny_bert`."""
    options = [f"source={source}", f"max_length={max_length}", "model.hf_config.hidden_size=16",
               "model.hf_config.num_hidden_layers=1", f"train_dataloader.batch_size={batch_size}",
               "train_cfg.max_epochs=1", "default_hooks.logger.interval=1"]
    if tokenizer is not None:
        options += [f"tokenizer={tokenizer}", "vocab_size=150"]
    return options + [f"{k}={v}" for k, v in (vocab or {}).items()]


def resolved(path, **options):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    return resolve_text_config(cfg)


def run_train(monkeypatch, *args):
    """``tools/train.py ARGS`` in this process (no interpreter start-up)."""
    from tasks.common.cli import train_main

    monkeypatch.setattr("sys.argv", ["train.py", *map(str, args)])
    monkeypatch.setenv("LOCAL_RANK", "0")  # train.py sets it; undone after the test (transformers' Trainer reads it)
    train_main()


def test_two_class_csv_trains_without_num_labels_and_exports_a_self_contained_model(monkeypatch, capfd,
                                                                                    fresh_python, tmp_path, corpus,
                                                                                    tiny_bert):
    rows = [r for r in corpus.make_texts(10) if r[1] != "music"]  # 2 classes, 20 texts: 13 / 2 / 5 split
    data = corpus.write_csv(tmp_path / "reviews.csv", rows)
    work = tmp_path / "work"
    tasks.text.prepare_bert_uncased()
    run_train(monkeypatch, CFG, "--work-dir", work, "--cfg-options",
              *tiny_options(data, batch_size=7, vocab=tiny_bert_options(tiny_bert)))
    log = "".join(capfd.readouterr())
    assert "Epoch(train) [1][2/2]" in log and "cls/accuracy" in log and "solver_iters" in log
    export = work / "hf_export"
    config = json.loads((export / "config.json").read_text())
    assert config["id2label"] == {"0": "sport", "1": "tech"}  # num_labels taken from the training split
    assert config["max_position_embeddings"] == 16 and config["token_mixer"] == {"type": "implicit"}
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForSequenceClassification",
                                       "AutoModelForMaskedLM", "AutoModelForCausalLM"}
    # BERT's tokenizer returns token_type_ids; the export keeps only what the model's forward takes
    assert json.loads((export / "tokenizer_config.json").read_text())["model_input_names"] == ["input_ids",
                                                                                            "attention_mask"]
    for name in ("configuration_imixer.py", "modeling_imixer.py", "tokenizer.json", "model.safetensors"):
        assert (export / name).exists(), name

    texts = ["the striker scored a late goal in the cup match " * 4, "the new phone chip runs the app"]
    model = AutoModelForSequenceClassification.from_pretrained(export).eval()  # this process: the project's code
    tok = tasks.text.load_tokenizer(export)
    with torch.no_grad():
        ref = model(**tok(texts, truncation=True, padding=True, return_tensors="pt")).logits.tolist()
    code = f'''
import json
import sys
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
export, texts = {str(export)!r}, {texts!r}
try:
    AutoModelForSequenceClassification.from_pretrained(export)
except ValueError as exc:
    no_trust = str(exc)
model = AutoModelForSequenceClassification.from_pretrained(export, trust_remote_code=True).eval()
tok = AutoTokenizer.from_pretrained(export)
enc = tok(texts, truncation=True, padding=True, return_tensors="pt")
with torch.no_grad():
    logits = model(**enc).logits.tolist()
clf = pipeline("text-classification", model=export, trust_remote_code=True, truncation=True)
print("RESULT", json.dumps(dict(logits=logits, pipe=clf(texts), no_trust=no_trust, width=enc["input_ids"].shape[1],
                      project=[m for m in sys.modules if m.split(".")[0] in ("tasks", "backbones", "mmengine")])))
'''
    out = fresh_python(code)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.rpartition("RESULT ")[2])
    assert got["project"] == [] and got["width"] == 16  # the saved tokenizer truncates to the model's length
    torch.testing.assert_close(torch.tensor(got["logits"]), torch.tensor(ref))
    assert [p["label"] for p in got["pipe"]] == [model.config.id2label[int(i)] for i in torch.tensor(ref).argmax(-1)]
    assert "trust_remote_code=True" in got["no_trust"] and "upgrade" not in got["no_trust"].lower()


def test_a_test_label_unseen_in_training_fails_before_the_first_iteration(monkeypatch, text_dir, corpus):
    rows = corpus.make_texts(2, seed=2) + [("Heavy rain and wind are forecast for the weekend.", "weather")]
    corpus.write_csv(text_dir / "test.csv", rows)
    with pytest.raises(SystemExit) as err:  # a user's mistake: one line with the fix, no traceback
        run_train(monkeypatch, SCRATCH, "--work-dir", text_dir / "work", "--cfg-options",
                  *tiny_options(text_dir, text_dir / "tok"))
    assert str(err.value).startswith("error: ")
    assert f"{text_dir / 'test.csv'} has label(s) ['weather'] that never occur in the training split" in str(err.value)
    assert "the classes seen in training are ['music', 'sport', 'tech']" in str(err.value)
    assert not (text_dir / "work").exists()  # before the Runner was built: no iteration ran


def test_one_setting_reaches_every_place_and_num_labels_comes_from_the_data(text_dir):
    cfg = resolved(CFG, source=str(text_dir), max_length=32, vocab_size=150, encoding="utf-8")
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        ds = cfg[loader].dataset
        assert (ds.source, ds.max_length, ds.vocab_size, ds.encoding) == (str(text_dir), 32, 150, "utf-8")
    hf = cfg.model.hf_config
    assert (hf.max_position_embeddings, hf.vocab_size, hf.num_labels) == (32, 150, 3)
    assert dict(hf.id2label) == {0: "music", 1: "sport", 2: "tech"}
    assert resolve_text_config(cfg) is cfg  # resolving twice (a dumped config) changes nothing

    with pytest.raises(ValueError, match=re.escape("val_dataloader.dataset.max_length=64 differs from the config's "
                                                   "max_length=32")):
        resolved(CFG, source=str(text_dir), max_length=32, **{"val_dataloader.dataset.max_length": 64})
    with pytest.raises(ValueError, match=re.escape("model.hf_config.num_labels=5 but the training split (")
                       + ".*train.csv" + re.escape(") has 3 labels ['music', 'sport', 'tech']; drop num_labels")):
        resolved(CFG, source=str(text_dir), **{"model.hf_config.num_labels": 5})
    assert resolved(CFG, source=str(text_dir), **{"model.hf_config.num_labels": 3}).model.hf_config.num_labels == 3
    # pretrained word embeddings are rows of one vocabulary: another tokenizer is refused, naming both options
    message = ("model.word_embeddings.source='bert_uncased' holds one row per token of that vocabulary, but "
               "train_dataloader.dataset.tokenizer='mine'; set tokenizer='bert_uncased'")
    with pytest.raises(ValueError, match=re.escape(message)):
        resolved(CFG, source=str(text_dir), tokenizer="mine", **{"model.word_embeddings": dict(source="bert_uncased")})


def test_a_model_built_without_num_labels_says_how_to_get_it():
    from backbones.registry import MODELS

    cfg = Config.fromfile(CFG)  # not resolved
    with pytest.raises(ValueError, match=r"no num_labels.*resolve_text_config\(cfg\)"):
        MODELS.build(cfg.model)


@pytest.mark.parametrize("imixer, twin", TWINS)
def test_mlp_twin_configs_change_only_the_token_mixer(imixer, twin, text_dir, tiny_bert):
    from backbones.registry import MODELS

    code = [line for line in Path(twin).read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 8 and "_delete_" not in Path(twin).read_text()
    tasks.text.prepare_bert_uncased()
    tiny = dict(source=str(text_dir), max_length=16)
    tiny.update(tiny_bert_options(tiny_bert) if imixer == CFG else dict(vocab_size=150, tokenizer=None))
    ref, alt = resolved(imixer, **tiny), resolved(twin, **tiny)
    assert alt.model.hf_config.pop("token_mixer") == "mlp" and ref.model.hf_config.pop("token_mixer") == "implicit"
    assert alt.to_dict() == ref.to_dict()
    ref.model.hf_config.token_mixer, alt.model.hf_config.token_mixer = "implicit", "mlp"
    built = [MODELS.build(c.model).hf_model for c in (ref, alt)]
    shapes = [{k: v.shape for k, v in m.state_dict().items() if ".mlp_tokens." not in k} for m in built]
    assert shapes[0] == shapes[1]
    assert {k: v for k, v in built[0].config.to_dict().items() if k != "token_mixer"} == \
        {k: v for k, v in built[1].config.to_dict().items() if k != "token_mixer"}
    assert [b.imixer.encoder.token_mixer for b in built] == ["implicit", "mlp"]


def test_scratch_configs_differ_only_in_the_vocabulary_and_the_embeddings():
    base, scratch = Config.fromfile(CFG).to_dict(), Config.fromfile(SCRATCH).to_dict()
    assert (base.pop("tokenizer"), base.pop("vocab_size")) == ("bert_uncased", 30522)  # len(BERT's vocabulary)
    assert (scratch.pop("tokenizer"), scratch.pop("vocab_size")) == (None, 8000)
    assert base["model"].pop("word_embeddings") == dict(source="bert_uncased", freeze=True)
    assert scratch["model"].pop("word_embeddings") is None
    assert (base["model"]["hf_config"].pop("embedding_size"), scratch["model"]["hf_config"].pop("embedding_size")) == \
        (384, None)  # MiniLM's width, projected to hidden_size; from scratch: hidden_size itself
    assert scratch == base


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
