# Graph classification, PyG benchmark/kernel protocol: 10-fold stratified cross-validation (test = part k,
# validation = part k-1, train = the rest), Adam lr 1e-2 halved every 50 epochs, batch 128, 100 epochs; the
# epoch of the lowest validation cross-entropy (cls/nll) is checkpointed and tested, as the kernel benchmark
# reports the test accuracy at the epoch of minimal validation loss. The fold is `fold` (0..9) on every
# split: --cfg-options train_dataloader.dataset.fold=3 val_dataloader.dataset.fold=3 test_dataloader.dataset.fold=3
_base_ = ['../../_base_/default_runtime.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.graph', 'tasks.graph.graph_data',
                                'tasks.graph.graph_level'], allow_failed_imports=False)
graphs = 'solubility'
fold = 0
batch_size = 128
max_epochs = 100
_data = dict(type='GraphSetDataset', graphs=graphs, fold=fold, num_folds=10, fold_seed=12345)
_loader = dict(num_workers=0, collate_fn=dict(type='imixer.pyg_collate'))
train_dataloader = dict(_loader, batch_size=batch_size, sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(_data, split='train'))
val_dataloader = dict(_loader, batch_size=512, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(_data, split='val'))
test_dataloader = dict(_loader, batch_size=512, sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(_data, split='test'))
# accuracy, macro-F1 and the cross-entropy per graph (NodeClsMetric scores one result per item: here a graph)
val_evaluator = dict(type='NodeClsMetric')
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-2))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[50], gamma=0.5)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1, save_best='cls/nll', rule='less'))
log_processor = dict(by_epoch=True, window_size=10)
