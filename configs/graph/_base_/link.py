# Link prediction, full-batch as PyG's examples/link_pred.py: RandomLinkSplit (5 % validation, 10 % test edges,
# as many sampled non-edges; split_seed fixes it), fresh negatives every epoch, Adam lr 1e-2, 100 epochs,
# validation every epoch; the epoch of the best validation ROC-AUC is checkpointed and tested.
_base_ = ['../../_base_/default_runtime.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.graph', 'tasks.graph.links'],
                      allow_failed_imports=False)
max_epochs = 100
_data = dict(type='LinkDataset', graph='football', input='hop_tokens', split_seed=0, val_ratio=0.05,
             test_ratio=0.1, directed=False, num_hops=3, features='structural',
             structural=dict(spectral_dim=16, degree=True))
_loader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
               collate_fn=dict(type='default_collate'))
train_dataloader = dict(_loader, dataset=dict(_data, split='train'))
val_dataloader = dict(_loader, dataset=dict(_data, split='val'))
test_dataloader = dict(_loader, dataset=dict(_data, split='test'))
val_evaluator = dict(type='LinkMetric', ks=(10, 20, 50))
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-2))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1, save_best='link/auc',
                    rule='greater'))
log_processor = dict(by_epoch=True, window_size=10)
