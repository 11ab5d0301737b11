# Runtime of imixer's mmseg configs (mmseg's default_runtime.py plus imixer's imports and solver statistics).
default_scope = 'mmseg'
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.segmentation'], allow_failed_imports=False)
# tasks/common/runner.py: split checks, schedules that follow the run, the test after training
runner_type = 'imixer.IMixerRunner'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # NaN / inf in a batch, the loss or the gradients: stop naming the iteration ('skip': drop the batch)
    nonfinite=dict(type='imixer.NonFiniteHook', action='raise'),
    # mmseg's SegVisualizationHook that also takes tools/test.py's --show-dir (test_out_dir)
    visualization=dict(type='imixer.SegVisualizationHook'))
custom_hooks = [dict(type='imixer.SolverStatsHook')]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False, window_size=20)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
