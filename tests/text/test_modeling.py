"""The iMixer text model as a transformers model: Auto classes, save/load, padding invariance, errors."""
import json

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

import tasks.text  # noqa: F401  (registers model_type 'imixer')
from tasks.text import IMixerConfig, IMixerForSequenceClassification, IMixerModel

MIXERS = ["implicit", "mlp"]


def tiny_config(token_mixer="implicit", **kw):
    args = dict(vocab_size=50, max_position_embeddings=16, hidden_size=16, num_hidden_layers=2, num_labels=3,
                token_mixer=token_mixer)
    args.update(kw)
    return IMixerConfig(**args)


def randomise_head(model):
    # the head is zero-initialised (timm's Mixer); give it weights so logits depend on the input
    torch.nn.init.normal_(model.classifier.weight, std=1.0)
    return model


@pytest.mark.parametrize("token_mixer", MIXERS)
def test_auto_classes(token_mixer):
    cfg = AutoConfig.for_model("imixer", vocab_size=50, max_position_embeddings=16, hidden_size=16,
                               num_hidden_layers=1, num_labels=4, token_mixer=token_mixer)
    assert isinstance(cfg, IMixerConfig) and cfg.num_labels == 4
    assert type(AutoModel.from_config(cfg)) is IMixerModel
    clf = AutoModelForSequenceClassification.from_config(cfg)
    assert type(clf) is IMixerForSequenceClassification
    assert clf.imixer.encoder.token_mixer == token_mixer
    assert IMixerConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


def test_default_config_has_the_authors_recipe():
    from backbones.implicit import ImplicitLayer

    cfg = IMixerConfig()
    assert cfg.token_mixer == {"type": "implicit"}  # the recipe is not restated in the config
    model = AutoModelForSequenceClassification.from_config(cfg)
    layers = [m for m in model.modules() if isinstance(m, ImplicitLayer)]
    assert len(layers) == cfg.num_hidden_layers
    for layer in layers:
        assert (layer.hidden / layer.dim, layer.n_iter, layer.coeff) == (2.0, 2, 0.9)


def test_token_mixer_spec_and_legacy_keywords(tmp_path):
    spec = dict(type="implicit", n_iter=4, solver="anderson", tol=1e-4)
    assert tiny_config(spec).token_mixer == spec
    assert tiny_config(h_ratio=2, n_iter=4).token_mixer == dict(type="implicit", h_ratio=2, n_iter=4)
    assert tiny_config("mlp").token_mixer == dict(type="mlp")
    model = IMixerForSequenceClassification(tiny_config(spec))
    assert [(m.implicit.n_iter, m.implicit.solver) for m in model.modules() if hasattr(m, "implicit")] == \
        [(4, "anderson")] * 2
    # a config.json saved before the spec, with the implicit options at the top level, still loads
    legacy = {k: v for k, v in tiny_config("mlp").to_dict().items() if k not in ("token_mixer", "auto_map")}
    legacy.update(token_mixer="implicit", h_ratio=2.0, n_iter=3, coeff=None, solver="unroll", tol=1e-3)
    (tmp_path / "config.json").write_text(json.dumps(legacy))
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert loaded.token_mixer == dict(type="implicit", h_ratio=2.0, n_iter=3, coeff=None, solver="unroll", tol=1e-3)
    assert not hasattr(loaded, "n_iter")
    assert IMixerConfig.from_dict(loaded.to_dict()).token_mixer == loaded.token_mixer


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="token_mixer type 'attention'"):
        tiny_config(token_mixer="attention")
    with pytest.raises(ValueError, match="solver"):
        tiny_config(solver="newton")
    with pytest.raises(ValueError, match="coeff"):  # a convergent solver needs Lip(G) < 1, refused at once
        tiny_config(solver="fixed_point", coeff=0.95)
    tiny_config(solver="fixed_point", coeff=0.95, hidden_act="relu")  # relu's slope is 1: 0.95^2 < 1
    with pytest.raises(ValueError, match="token_mixer='mlp'"):
        tiny_config("mlp", n_iter=3)
    with pytest.raises(TypeError, match="unknown arguments \\['iters'\\]"):
        tiny_config(dict(type="implicit", iters=3))
    with pytest.raises(ValueError, match="anderson_m must be >= 2"):
        tiny_config(dict(solver="anderson", anderson_m=1))


@pytest.mark.parametrize("token_mixer", MIXERS)
def test_save_load_round_trip(tmp_path, token_mixer):
    spec = dict(type="implicit", n_iter=3) if token_mixer == "implicit" else "mlp"
    model = randomise_head(IMixerForSequenceClassification(tiny_config(spec))).eval()
    ids = torch.randint(1, 50, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    ref = model(ids, attention_mask=mask).logits
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is IMixerForSequenceClassification
    assert loaded.config.token_mixer == model.config.token_mixer
    assert loaded.imixer.encoder.token_mixer == token_mixer
    assert torch.equal(loaded(ids, attention_mask=mask).logits, ref)
    # the bare encoder loads from the classifier's directory too
    enc = AutoModel.from_pretrained(tmp_path).eval()
    pooled = model.imixer(ids, attention_mask=mask).pooler_output
    assert torch.equal(enc(ids, attention_mask=mask).pooler_output, pooled)


@pytest.mark.parametrize("token_mixer, extra", [("implicit", {}), ("mlp", {}), ("implicit", dict(embedding_size=8))])
def test_padding_never_changes_a_prediction(token_mixer, extra):
    model = randomise_head(IMixerForSequenceClassification(tiny_config(token_mixer, **extra))).eval()
    text = torch.randint(1, 50, (7,))
    other = torch.randint(1, 50, (16,))
    # 1) alone, no padding
    alone = model(text[None]).logits[0]
    # 2) padded with [PAD] to 10 in a batch with a full-length text
    ids = torch.stack([torch.cat([text, torch.zeros(9, dtype=torch.long)]), other])
    mask = torch.stack([torch.cat([torch.ones(7), torch.zeros(9)]), torch.ones(16)]).long()
    batched = model(ids, attention_mask=mask).logits[0]
    # 3) padded to 12 with random (non-pad) ids under the zero mask
    ids3 = torch.cat([text, torch.randint(1, 50, (5,))])[None]
    mask3 = torch.cat([torch.ones(7), torch.zeros(5)]).long()[None]
    garbage = model(ids3, attention_mask=mask3).logits[0]
    torch.testing.assert_close(batched, alone, rtol=0, atol=1e-5)
    torch.testing.assert_close(garbage, alone, rtol=0, atol=1e-5)
    # the real tokens do matter
    changed = text.clone()
    changed[3] = (changed[3] % 49) + 1 if changed[3] != 1 else 2
    assert not torch.allclose(model(changed[None]).logits[0], alone, atol=1e-5)


def test_loss_and_outputs():
    model = randomise_head(IMixerForSequenceClassification(tiny_config())).eval()
    ids = torch.randint(1, 50, (4, 10))
    labels = torch.tensor([0, 2, 1, 2])
    out = model(ids, labels=labels, output_hidden_states=True)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, labels))
    assert out.logits.shape == (4, 3)
    assert len(out.hidden_states) == 1 + model.config.num_hidden_layers
    assert all(h.shape == (4, 10, 16) for h in out.hidden_states)
    assert model(ids).loss is None
    loss, logits = model(ids, labels=labels, return_dict=False)[:2]
    torch.testing.assert_close(logits, out.logits)
    loss.backward()
    assert model.imixer.embeddings.word_embeddings.weight.grad is not None


def test_bad_inputs_give_clear_errors():
    model = IMixerForSequenceClassification(tiny_config()).eval()
    with pytest.raises(ValueError, match="max_position_embeddings=16"):
        model(torch.randint(1, 50, (1, 17)))
    with pytest.raises(ValueError, match="vocab_size"):
        model(torch.tensor([[1, 2, 50]]))
    with pytest.raises(ValueError, match="no tokens"):
        model(torch.tensor([[1, 2, 3]]), attention_mask=torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must lie"):
        model(torch.tensor([[1, 2, 3]]), labels=torch.tensor([3]))


def test_factorised_embeddings():
    model = randomise_head(IMixerForSequenceClassification(tiny_config(embedding_size=8))).eval()
    emb = model.imixer.embeddings
    assert emb.word_embeddings.weight.shape == (50, 8)
    assert (emb.projection.in_features, emb.projection.out_features) == (8, 16)
    assert IMixerForSequenceClassification(tiny_config()).imixer.embeddings.projection is None
    words = torch.randn(2, 4, 8)
    ids = torch.randint(1, 50, (2, 4))
    torch.testing.assert_close(model(inputs_embeds=emb.word_embeddings(ids)).logits, model(ids).logits)
    assert model(inputs_embeds=words).logits.shape == (2, 3)
    with pytest.raises(ValueError, match=r"\(batch, length, 8\)"):
        model(inputs_embeds=torch.zeros(1, 4, 16))
    with pytest.raises(ValueError, match="embedding_size must be >= 1"):
        tiny_config(embedding_size=0)


def test_runner_model_averages_the_logits_of_a_texts_windows():
    from tasks.text import HFTextClassifier

    model = HFTextClassifier(hf_config=dict(vocab_size=50, max_position_embeddings=16, hidden_size=16,
                                            num_hidden_layers=2, num_labels=3)).eval()
    randomise_head(model.hf_model)
    ids = torch.randint(5, 50, (2, 3, 16))
    mask = torch.ones(2, 3, 16, dtype=torch.long)
    mask[0, 2] = 0  # text 0 has two windows, text 1 three
    ids[0, 2] = 0
    with torch.no_grad():
        out = model(ids, mode="tensor", attention_mask=mask)
        single = [model(ids[b, :k], mode="tensor", attention_mask=mask[b, :k]).mean(0) for b, k in ((0, 2), (1, 3))]
    assert out.shape == (2, 3)
    torch.testing.assert_close(out, torch.stack(single), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        model(ids, mode="tensor", attention_mask=mask[:, 0])
    mask[1] = 0
    with pytest.raises(ValueError, match="no window with a token"):
        model(ids, mode="tensor", attention_mask=mask)

