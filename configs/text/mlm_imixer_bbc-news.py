# Self-pretraining (Amos et al., "Never Train from Scratch", ICLR 2024): the masked LM of mlm_imixer_gcide.py
# on BBC News's own *training* articles only (split 90 / 5 / 5 by article for the LM's own validation and test;
# the classifier's validation and test articles are never seen), with an 8,000-piece WordPiece vocabulary
# trained on them. Its last checkpoint (iter_300.pth) starts imixer_bbc-news_mlm-init.py.
_base_ = ['./mlm_imixer_gcide.py']
source = 'bbc_news'
max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=100)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=100))
