"""Language models on the iMixer: the masked and causal heads (Auto classes, tied embeddings, the
classifier started from a masked LM), causality of every solver, the fixed token count under
generation (padding, sliding window), the corpora and the user's text with their errors, the collate
function, and tools/train.py -> perplexity -> exports that run in pipelines where the project is not."""
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

import tasks.text  # noqa: F401
from backbones.registry import MODELS
from tasks.text import IMixerConfig, IMixerForCausalLM, IMixerForMaskedLM, IMixerForSequenceClassification, LMDataset
from tasks.text.lm_data import fortunes_documents, gcide_documents, lm_collate, load_corpus_split, split_documents

WORDS = ("the cat sat on a mat and the dog ran to the park while birds sang songs of spring rain falls on "
         "green hills near old towns where people walk slowly home").split()
CAUSAL = dict(type="implicit", causal=True)


def tiny_config(**kw) -> IMixerConfig:
    """A seconds-fast model: vocabulary 300, 16 tokens, 2 blocks x 32."""
    return IMixerConfig(**{**dict(vocab_size=300, max_position_embeddings=16, hidden_size=32, num_hidden_layers=2,
                                  mlp_ratio=(1.0, 4.0)), **kw})


def write_corpus(folder: Path, n_files: int = 8, words: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        (folder / f"doc{i}.txt").write_text(" ".join(rng.choice(WORDS, words)) + ".\n", encoding="utf-8")
    return folder


# -- heads -----------------------------------------------------------------------------------------------
def test_masked_lm_is_an_auto_class_with_tied_embeddings_and_starts_a_classifier(tmp_path):
    torch.manual_seed(0)
    mlm = AutoModelForMaskedLM.from_config(tiny_config())
    assert isinstance(mlm, IMixerForMaskedLM)
    assert mlm.get_output_embeddings().weight is mlm.get_input_embeddings().weight
    ids = torch.randint(5, 300, (2, 16))
    labels = torch.full_like(ids, -100)
    labels[:, [3, 7]] = ids[:, [3, 7]]
    out = mlm(ids, labels=labels)
    ref = torch.nn.functional.cross_entropy(out.logits[:, [3, 7]].reshape(-1, 300), ids[:, [3, 7]].reshape(-1))
    torch.testing.assert_close(out.loss, ref)  # the loss is taken at the labelled positions only
    mlm.save_pretrained(tmp_path / "mlm")
    assert set(json.loads((tmp_path / "mlm" / "config.json").read_text())["auto_map"]) >= {
        "AutoModelForMaskedLM", "AutoModelForCausalLM", "AutoModelForSequenceClassification"}
    clf = IMixerForSequenceClassification.from_pretrained(tmp_path / "mlm", num_labels=3)
    for key, value in mlm.imixer.state_dict().items():
        torch.testing.assert_close(clf.imixer.state_dict()[key], value, msg=key)
    assert clf.classifier.out_features == 3


def test_a_classifier_config_starts_from_a_masked_lm_checkpoint_by_init_cfg(tmp_path):
    torch.manual_seed(0)
    hf = dict(vocab_size=300, max_position_embeddings=16, hidden_size=32, num_hidden_layers=2, mlp_ratio=(1.0, 4.0))
    lm = MODELS.build(dict(type="HFLanguageModel", objective="mlm", hf_config=dict(model_type="imixer", **hf)))
    ckpt = tmp_path / "mlm.pth"
    torch.save({"state_dict": lm.state_dict()}, ckpt)
    clf = MODELS.build(dict(type="HFTextClassifier", hf_config=dict(num_labels=2, **hf),
                            init_cfg=dict(type="Pretrained", checkpoint=str(ckpt))))
    clf.init_weights()
    for key, value in lm.hf_model.imixer.state_dict().items():
        torch.testing.assert_close(clf.hf_model.imixer.state_dict()[key], value, msg=key)


def test_the_masked_lm_head_can_score_the_labelled_positions_only():
    torch.manual_seed(0)
    hf = dict(vocab_size=300, max_position_embeddings=16, hidden_size=32, num_hidden_layers=2, mlp_ratio=(1.0, 4.0))
    lm = MODELS.build(dict(type="HFLanguageModel", objective="mlm", hf_config=dict(model_type="imixer", **hf))).eval()
    mlm = lm.hf_model
    ids = torch.randint(5, 300, (2, 16))
    labels = torch.full_like(ids, -100)
    labels[0, [1, 5]], labels[1, 2] = ids[0, [1, 5]], ids[1, 2]
    chosen = labels != -100
    full, sparse = mlm(ids, labels=labels), mlm(ids, labels=labels, logits_at_labels=True)
    assert sparse.logits.shape == (3, 300)
    torch.testing.assert_close(sparse.logits, full.logits[chosen])
    torch.testing.assert_close(sparse.loss, full.loss)
    with pytest.raises(ValueError, match="logits_at_labels=True needs labels"):
        mlm(ids, logits_at_labels=True)
    # the runner's model takes that path and scores the same tokens
    with torch.no_grad():
        [pred] = lm(ids, labels=labels, mode="predict")
    ref = torch.nn.functional.cross_entropy(full.logits[chosen], ids[chosen], reduction="sum")
    assert pred["tokens"] == 3 and pred["nll"] == pytest.approx(float(ref.detach()), rel=1e-5)
    assert lm(ids, labels=labels, mode="tensor").shape == (2, 16, 300)


def test_the_default_recipe_starts_from_its_masked_lm_on_minilms_table(tiny_bert, tmp_path, monkeypatch):
    tok, table = tiny_bert
    work, size = tmp_path / "lm", dict(vocab_size=len(tok), embedding_size=table.shape[1], hidden_size=16)
    run_train(monkeypatch, "configs/text/mlm_imixer_gcide_minilm.py", "--work-dir", work, "--cfg-options",
              f"source={write_corpus(tmp_path / 'texts')}", "max_length=16", f"vocab_size={len(tok)}",
              f"model.hf_config.embedding_size={table.shape[1]}", "model.hf_config.hidden_size=16",
              "train_dataloader.batch_size=8", "train_cfg.max_iters=2", "train_cfg.val_interval=2",
              "default_hooks.checkpoint.interval=2", "val_dataloader.dataset.max_windows=8",
              "test_dataloader.dataset.max_windows=8")
    state = torch.load(work / "iter_2.pth", map_location="cpu", weights_only=False)["state_dict"]
    emb = state["hf_model.imixer.embeddings.word_embeddings.weight"]
    assert torch.equal(emb, torch.from_numpy(np.asarray(table)))  # MiniLM's table, kept fixed by training
    assert torch.equal(state["hf_model.lm_head.decoder.weight"], emb)  # the decoder tied to it
    before = MODELS.build(dict(type="HFLanguageModel", objective="mlm", hf_config=dict(
        model_type="imixer", max_position_embeddings=16, num_hidden_layers=2, mlp_ratio=(0.5, 4.0), **size)))
    moved = [k for k, v in before.state_dict().items() if k.startswith("hf_model.imixer.encoder")
             and not torch.equal(v, state[k])]
    assert moved  # the mixer did learn

    # the default classifier recipe takes the LM's encoder by init_cfg (the user's fine-tuning config)
    cfg = Config.fromfile("configs/text/imixer_sentences_minilm-init.py")
    cfg.model.hf_config.update(num_labels=3, max_position_embeddings=16, **size)
    cfg.model.init_cfg.checkpoint = str(work / "iter_2.pth")
    clf = MODELS.build(cfg.model)
    clf.init_weights()
    for key, value in clf.hf_model.imixer.state_dict().items():
        torch.testing.assert_close(value, state[f"hf_model.imixer.{key}"], msg=key)
    assert not clf.hf_model.get_input_embeddings().weight.requires_grad


def test_causal_lm_needs_a_causal_mixer_and_the_spec_is_checked():
    with pytest.raises(ValueError, match="causal=True"):
        IMixerForCausalLM(tiny_config())
    with pytest.raises(TypeError, match="causal= must be True or False"):
        tiny_config(token_mixer=dict(type="implicit", causal="yes"))
    assert tiny_config(token_mixer=dict(type="mlp", causal=True)).token_mixer == {"type": "mlp", "causal": True}
    assert isinstance(AutoModelForCausalLM.from_config(tiny_config(token_mixer=CAUSAL)), IMixerForCausalLM)


@pytest.mark.parametrize("mixer", [
    CAUSAL,
    dict(CAUSAL, solver="fixed_point", tol=1e-6, max_iter=60),                 # implicit gradient
    dict(CAUSAL, solver="fixed_point", grad="unroll", tol=1e-6, max_iter=60),  # autograd through the solve
    dict(CAUSAL, solver="anderson", tol=1e-6, max_iter=60),
    dict(type="mlp", causal=True),
], ids=["unroll", "fixed_point", "fixed_point-unroll-grad", "anderson", "mlp"])
def test_output_t_has_exactly_zero_gradient_from_later_inputs(mixer):
    torch.manual_seed(0)
    model = IMixerForCausalLM(tiny_config(token_mixer=mixer)).double().train()
    emb = torch.randn(2, 16, 32, dtype=torch.double, requires_grad=True)
    logits = model(inputs_embeds=emb).logits
    probe = torch.randn(300, dtype=torch.double)
    for t in (0, 5, 14):
        grad, = torch.autograd.grad((logits[:, t] @ probe).sum(), emb, retain_graph=True)
        assert grad[:, t + 1:].abs().max().item() == 0.0, f"position {t} sees the future"
        assert grad[:, :t + 1].abs().sum(-1).min().item() > 0, f"position {t} ignores part of its past"


def test_masked_spectral_norm_bounds_the_masked_weights():
    model = IMixerForCausalLM(tiny_config(token_mixer=CAUSAL))
    layer = model.imixer.encoder.blocks[0].mlp_tokens.implicit
    for fc in (layer.fc_a, layer.fc_b):
        w = fc.normalized_weight(update=False)
        assert bool((w[fc.mask == 0] == 0).all())
        assert torch.linalg.matrix_norm(w.detach(), ord=2).item() <= fc.coeff * (1 + 1e-4)


def test_padding_never_changes_a_prompt_and_generation_slides_a_window():
    torch.manual_seed(0)
    model = IMixerForCausalLM(tiny_config(token_mixer=CAUSAL)).eval()
    ids = torch.randint(5, 300, (1, 6))
    with torch.no_grad():
        ref = model(ids).logits
        left = model(torch.cat([torch.zeros(1, 4, dtype=torch.long), ids], 1),
                     attention_mask=torch.cat([torch.zeros(1, 4), torch.ones(1, 6)], 1).long()).logits[:, 4:]
        right = model(torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1),
                      attention_mask=torch.cat([torch.ones(1, 6), torch.zeros(1, 3)], 1).long()).logits[:, :6]
    torch.testing.assert_close(left, ref)
    torch.testing.assert_close(right, ref)
    long = torch.randint(5, 300, (1, 21))  # longer than the 16-token window
    with pytest.raises(ValueError, match="max_position_embeddings=16"):
        model(long)
    out = model.generate(long, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape == (1, 24)
    with torch.no_grad():
        first = model(long[:, -16:]).logits[0, -1].argmax()
    assert out[0, 21] == first  # the first new token conditions on the last 16 tokens


def test_token_type_ids_of_bert_tokenizers_are_accepted_when_zero():
    model = IMixerForSequenceClassification(tiny_config(num_labels=2)).eval()
    ids = torch.randint(5, 300, (1, 8))
    ref = model(ids).logits
    torch.testing.assert_close(model(ids, token_type_ids=torch.zeros_like(ids)).logits, ref)
    with pytest.raises(ValueError, match="segment"):
        model(ids, token_type_ids=torch.ones_like(ids))


# -- corpora and the user's text -----------------------------------------------------------------------------
def test_gcide_and_fortunes_are_read_into_documents(tmp_path):
    dz = tmp_path / "gcide.dict.dz"
    dz.write_bytes(gzip.compress(
        b"\n00-database-url\n   ftp://x\n\nThe original data was distributed with the notice.\n\n"
        b"Abuse \\A*buse\"\\, v. t.\n   To misuse. [1913 Webster]\n\n   More. [PJC]\n\n"
        b"Cat \\Cat\\, n.\n   A small animal; the stock market\x92s pet. [WordNet 1.5]\n"))
    docs = gcide_documents(dz)
    assert len(docs) == 2 and "Webster" not in docs[0] and "More." in docs[0] and "market\u2019s" in docs[1]
    folder = tmp_path / "fortunes"
    folder.mkdir()
    (folder / "wisdom").write_text("First cookie.\n%\nSecond\ncookie.\n%\n")
    (folder / "wisdom.dat").write_bytes(b"\x00\x01")
    (folder / "wisdom.u8").symlink_to(folder / "wisdom")
    assert [d.split() for d in fortunes_documents(folder) if d.strip()] == [["First", "cookie."],
                                                                             ["Second", "cookie."]]


def test_document_splits_are_fixed_and_disjoint():
    a, b = split_documents(100), split_documents(100)
    assert all((a[k] == b[k]).all() for k in a)
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(100))
    assert (len(a["val"]), len(a["test"])) == (5, 5)
    with pytest.raises(ValueError, match="at least 3 documents"):
        split_documents(2)


def test_a_folder_csv_and_text_file_become_windows(tmp_path):
    folder = write_corpus(tmp_path / "texts")
    mlm = LMDataset(source=folder, split="train", objective="mlm", vocab_size=300, max_length=16)
    tok = mlm.tokenizer
    assert (tmp_path / "texts" / "tokenizer-wordpiece-300" / "tokenizer.json").exists()  # trained on train only
    assert mlm.windows.shape[1] == 16 and bool((mlm.windows[:, 0] == tok.cls_token_id).all())
    assert bool((mlm.windows[:, -1] == tok.sep_token_id).all())
    clm = LMDataset(source=folder, split="train", objective="clm", vocab_size=300, max_length=16)
    assert torch.equal(clm.windows.flatten()[:14], mlm.windows[0, 1:15])  # the same pieces, other framing
    assert len(LMDataset(source=folder, split="test", objective="clm", vocab_size=300, max_length=16)) >= 1
    csv = tmp_path / "rows.csv"
    csv.write_text("id,body\n" + "".join(f"{i},{' '.join(WORDS[i:i + 20])}\n" for i in range(30)))
    assert len(load_corpus_split(csv, "train", text_column="body")) == 26  # 30 rows: 2 val, 2 test
    with pytest.raises(ValueError, match="no column 'text'"):
        load_corpus_split(csv, "train")
    one = tmp_path / "book.txt"
    one.write_text("\n\n".join(" ".join(WORDS[i:i + 10]) for i in range(20)))
    assert len(load_corpus_split(one, "val")) == 1  # paragraphs are the documents


def test_the_users_text_errors_name_the_file_and_the_fix(tmp_path):
    folder = write_corpus(tmp_path / "texts")
    (folder / "empty.txt").write_text("  \n")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        load_corpus_split(folder, "train")
    (folder / "empty.txt").write_bytes("caf\u00e9 cr\u00e8me".encode("latin-1"))
    with pytest.raises(ValueError, match=r"empty.txt is not utf-8 text.*encoding="):
        load_corpus_split(folder, "train")
    assert len(load_corpus_split(folder, "train", encoding="latin-1")) == 7
    short = write_corpus(tmp_path / "short", n_files=3, words=3)
    with pytest.raises(ValueError, match=r"fewer than one window of 62 word pieces \(max_length=64\)"):
        LMDataset(source=short, split="val", vocab_size=300, max_length=64)
    with pytest.raises(ValueError, match="objective must be one of"):
        LMDataset(source=folder, objective="seq2seq")


def test_collate_masks_like_bert_and_fixed_masks_repeat(tmp_path):
    data = LMDataset(source=write_corpus(tmp_path / "texts"), split="train", vocab_size=300, max_length=16)
    batch = [data[i] for i in range(4)]
    tok = str(data.tokenizer_dir)
    a = lm_collate(batch, tokenizer=tok, fixed_masks=True)
    b = lm_collate(batch, tokenizer=tok, fixed_masks=True)
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["labels"], b["labels"])
    scored = a["labels"] != -100
    assert scored.any() and not scored[:, 0].any() and not scored[:, -1].any()  # [CLS] / [SEP] never scored
    original = torch.stack([x["input_ids"] for x in batch])
    assert torch.equal(a["labels"][scored], original[scored])
    clm = lm_collate(batch, tokenizer=tok, objective="clm")
    assert torch.equal(clm["labels"], original)


# -- the runner, perplexity, exports ---------------------------------------------------------------------
def tiny_lm_options(source, work) -> list:
    return [f"source={source}", "max_length=16", "vocab_size=300", "model.hf_config.hidden_size=32",
            "train_dataloader.batch_size=8", "train_cfg.max_iters=4", "train_cfg.val_interval=2",
            "default_hooks.checkpoint.interval=2", "default_hooks.logger.interval=1",
            "val_dataloader.dataset.max_windows=8", "test_dataloader.dataset.max_windows=8"]


def run_train(monkeypatch, *args):
    from tasks.common.cli import train_main

    monkeypatch.setattr("sys.argv", ["train.py", *map(str, args)])
    monkeypatch.setenv("LOCAL_RANK", "0")
    train_main()


PIPELINE_CODE = '''
import json, sys
from transformers import pipeline
export, task, text = {export!r}, {task!r}, {text!r}
kw = dict(max_new_tokens=3, do_sample=False) if task == "text-generation" else {{}}
out = pipeline(task, model=export, trust_remote_code=True)(text, **kw)
print("RESULT", json.dumps(dict(out=out, project=[m for m in sys.modules if m.split(".")[0] in
                                                  ("tasks", "backbones", "mmengine")])))
'''


@pytest.mark.parametrize("config,task,prompt", [
    ("configs/text/mlm_imixer_gcide.py", "fill-mask", "the cat sat on a [MASK] and the dog"),
    ("configs/text/clm_imixer_gcide.py", "text-generation", "the cat sat on"),
])
def test_train_reports_perplexity_and_the_export_runs_in_a_pipeline_without_the_project(
        config, task, prompt, monkeypatch, tmp_path, fresh_python):
    work = tmp_path / "work"
    run_train(monkeypatch, config, "--work-dir", work, "--cfg-options",
              *tiny_lm_options(write_corpus(tmp_path / "texts"), work))
    metrics = json.loads((work / "test_metrics.json").read_text())
    assert 1.0 < metrics["lm/perplexity"] < 1e4 and metrics["lm/tokens"] > 0
    export = work / "hf_export"
    names = json.loads((export / "tokenizer_config.json").read_text()).get("model_input_names")
    assert names == ["input_ids", "attention_mask"]
    out = fresh_python(PIPELINE_CODE.format(export=str(export), task=task, text=prompt))
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.rpartition("RESULT ")[2])
    assert got["project"] == []
    if task == "fill-mask":
        assert len(got["out"]) == 5 and all("token_str" in c for c in got["out"])
    else:
        assert got["out"][0]["generated_text"].startswith(prompt) and len(got["out"][0]["generated_text"]) > len(prompt)


def test_baselines_and_twins_differ_from_their_imixer_config_in_the_network_only():
    base = {"mlm": Config.fromfile("configs/text/mlm_imixer_gcide.py"),
            "clm": Config.fromfile("configs/text/clm_imixer_gcide.py")}
    for name, objective, model_type in (("mlm_bert_gcide", "mlm", "bert"), ("clm_gpt2_gcide", "clm", "gpt2"),
                                        ("mlm_mlpmixer_gcide", "mlm", "imixer"),
                                        ("clm_mlpmixer_gcide", "clm", "imixer")):
        cfg = Config.fromfile(f"configs/text/{name}.py")
        assert cfg.objective == objective and cfg.model.hf_config.model_type == model_type
        for key in ("train_dataloader", "val_dataloader", "test_dataloader", "optim_wrapper", "param_scheduler",
                    "train_cfg", "source", "max_length", "vocab_size", "tokenizer"):
            assert cfg[key] == base[objective][key], (name, key)


def test_the_corpora_are_registered_for_prepare_data():
    from tasks.common.fetch import PREPARERS

    assert "4.9 million words" in PREPARERS["gcide"].help and "BSD" in PREPARERS["fortunes"].help


def test_a_classification_set_pretrains_on_its_training_texts_only(tmp_path, monkeypatch, corpus):
    monkeypatch.setenv("IMIXER_DATA", str(tmp_path / "data"))
    root = tmp_path / "data" / "bbc_news"
    root.mkdir(parents=True)
    train = corpus.make_texts(10, seed=0)
    corpus.write_csv(root / "train.csv", train)
    corpus.write_csv(root / "val.csv", [("held out validation text", "sport")])
    corpus.write_csv(root / "test.csv", [("held out test text", "sport")])
    docs = [d for s in ("train", "val", "test") for d in load_corpus_split("bbc_news", s)]
    assert sorted(docs) == sorted(t for t, _ in train)  # every LM split comes from the training texts
