# AdamW with linear warm-up and cosine decay, epoch-based (the Mixer / iMixer recipe, shortened). A config
# that sets another train_cfg.max_epochs gets these boundaries scaled to its run (schedule_length).
max_epochs = 30
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=2, end=max_epochs, eta_min=1e-5,
         convert_to_iter_based=True),
]
schedule_length = dict(max_epochs=max_epochs)  # the run the boundaries above are written for
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
