# Task-adaptive pretraining (Gururangan et al., "Don't Stop Pretraining", ACL 2020): the GCIDE masked LM of
# the default text recipe (mlm_imixer_gcide_minilm.py, MiniLM's fixed table) trained on further on one
# classification set's own *training* texts (split 90 / 5 / 5 by text for the LM's own validation and test;
# the classifier's validation and test texts are never seen), 300 iterations at half the learning rate.
# BBC News at 256 tokens from the 256-token LM as here; a sentence set at 64 tokens from the 64-token LM:
#     --cfg-options source=tweets max_length=64 train_dataloader.batch_size=32 \
#         model.init_cfg.checkpoint=work_dirs/mlm_imixer_gcide_minilm/best_lm_perplexity_iter_3000.pth
# (configs/benchmarks/text_tapt_minilm_mlm.py runs the five sets). Its best checkpoint starts
# imixer_bbc-news_minilm-init.py / imixer_sentences_minilm-init.py (model.init_cfg.checkpoint=).
_base_ = ['./mlm_imixer_gcide_minilm.py']
source = 'bbc_news'
max_length = 256
train_dataloader = dict(batch_size=8)
model = dict(init_cfg=dict(type='Pretrained',
                           checkpoint='work_dirs/mlm_imixer_gcide_minilm_256/best_lm_perplexity_iter_3000.pth'))
max_iters = 300
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
