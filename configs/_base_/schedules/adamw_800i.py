# 800 iterations of AdamW (lr 2e-3, weight decay 1e-4, gradients clipped at norm 1), 50 warm-up iterations,
# cosine decay to 2e-5, validated at the end: the masked-reconstruction anomaly recipe.
max_iters = 800
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min=2e-5),
]
schedule_length = dict(max_iters=max_iters)  # the run the boundaries above are written for
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
