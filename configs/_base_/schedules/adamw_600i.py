# 600 iterations of AdamW (lr 1e-3, 100 warm-up iterations, cosine decay), validation every 300:
# about 5 epochs of the 1,000 digit scenes at batch 8. Iteration-based, so every backbone sees the same
# data. Shared by the detection and segmentation configs (scope-independent mmengine components).
# A config that sets another train_cfg.max_iters gets these boundaries scaled to its run (schedule_length).
max_iters = 600
val_interval = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=10.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
schedule_length = dict(max_iters=max_iters)  # the run the boundaries above are written for
auto_scale_lr = dict(enable=False, base_batch_size=8)
