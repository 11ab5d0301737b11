# Full-batch node classification as a Runner loop over a one-graph dataset (batch_size=1: one iteration
# per epoch), validated every epoch. As PyG's citation benchmark, the model is selected and stopped on the
# validation cross-entropy (cls/nll of NodeClsMetric; accuracy ties too often on small validation splits):
# the best one is checkpointed (best_cls_nll_epoch_*.pth, what the test after training uses) and
# training stops after 50 epochs without a lower one (mmengine's EarlyStoppingHook). The child sets the
# dataset mode: 'full' (hop tokens) or 'graph' (GCN, GAT).
_base_ = ['../../_base_/default_runtime.py', './node_karate.py', './adam_200e.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.graph'], allow_failed_imports=False)
train_dataloader = dict(batch_size=1)
val_dataloader = dict(batch_size=1)
test_dataloader = dict(batch_size=1)
early_stopping = dict(type='EarlyStoppingHook', monitor='cls/nll', rule='less', min_delta=0.0, patience=50)
custom_hooks = [dict(type='SaveSplitHook'), early_stopping]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval={{_base_.max_epochs}}, max_keep_ckpts=1,
                    save_best='cls/nll', rule='less'))
log_processor = dict(by_epoch=True, window_size=10)
