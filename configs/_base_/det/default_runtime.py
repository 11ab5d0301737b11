# Runtime of imixer's mmdet configs (mmdet's default_runtime.py plus imixer's imports and solver statistics).
default_scope = 'mmdet'
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.detection'], allow_failed_imports=False)
# tasks/common/runner.py: split checks, schedules that follow the run, the test after training
runner_type = 'imixer.IMixerRunner'
# --cfg-options coco_folder=PATH trains and evaluates on your own COCO folder (tasks/detection/coco_folder.py)
config_resolvers = ['resolve_coco_folder']
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # the schedules are iteration-based: a checkpoint at every validation (val_interval) and at the end
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # NaN / inf in a batch, the loss or the gradients: stop naming the iteration ('skip': drop the batch)
    nonfinite=dict(type='imixer.NonFiniteHook', action='raise'),
    # tools/test.py CONFIG CKPT --show-dir DIR saves the predictions drawn on the images
    visualization=dict(type='DetVisualizationHook'))
# logs the implicit layers' iterations / residuals next to the losses (nothing for ResNet / 'mlp' twins)
custom_hooks = [dict(type='imixer.SolverStatsHook')]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
