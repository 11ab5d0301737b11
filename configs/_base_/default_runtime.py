# Runtime shared by imixer's own configs (classification, anomaly, text, graph).
default_scope = 'imixer'
custom_imports = dict(imports=['backbones', 'tasks.common'], allow_failed_imports=False)
# tasks/common/runner.py: split checks, schedules that follow the run, the test after training
runner_type = 'imixer.IMixerRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # NaN / inf in a batch, the loss or the gradients: stop naming the iteration ('skip': drop the batch)
    nonfinite=dict(type='NonFiniteHook', action='raise'),
)
custom_hooks = [dict(type='SolverStatsHook')]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=True, window_size=20)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
