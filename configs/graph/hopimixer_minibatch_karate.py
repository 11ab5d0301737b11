# The hop-token iMixer on karate club, node mini-batches (the graph task's default config):
#   python tools/train.py configs/graph/hopimixer_minibatch_karate.py
_base_ = ['../_base_/default_runtime.py', './_base_/node_karate.py', './_base_/adam_200e.py',
          './_base_/hopmixer.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.graph'], allow_failed_imports=False)
custom_hooks = [dict(type='SolverStatsHook'), dict(type='SaveSplitHook')]
max_epochs = 100
train_cfg = dict(max_epochs=max_epochs)
# checkpoints: the best validation accuracy and the last epoch
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1,
                    save_best='cls/accuracy', rule='greater'))
log_processor = dict(by_epoch=True, window_size=10)
