# The masked LM of the default text recipe (imixer_bbc-news.py): MiniLM's fixed word-piece table indexed by
# BERT's uncased vocabulary (the LM head's decoder is tied to it, so it stays fixed too), the classifier's
# width, depth and token mixer, trained on GCIDE (python tools/prepare_data.py gcide bert_uncased). Its
# checkpoint starts the default recipe: imixer_bbc-news_minilm-init.py (64 tokens, the sentence sets);
# BBC News' 256 tokens need the LM at 256:
#     python tools/train.py configs/text/mlm_imixer_gcide_minilm.py --work-dir work_dirs/mlm_imixer_gcide_minilm
#     python tools/train.py configs/text/mlm_imixer_gcide_minilm.py --work-dir work_dirs/mlm_imixer_gcide_minilm_256 \
#         --cfg-options max_length=256 train_dataloader.batch_size=8
# (the same 2,048 tokens a batch). The head is scored at the masked positions only (logits_at_labels).
_base_ = ['./mlm_imixer_gcide.py']
vocab_size = 30522
tokenizer = 'bert_uncased'
model = dict(
    word_embeddings=dict(source='bert_uncased', freeze=True),
    hf_config=dict(embedding_size=384, mlp_ratio=(0.5, 4.0), token_mixer='implicit'))
max_iters = 3000       # 3,000 x 2,048 tokens = 6.1 million training tokens
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=500)
default_hooks = dict(checkpoint=dict(interval=500))
