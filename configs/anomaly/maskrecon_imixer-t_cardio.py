# Masked-feature reconstruction with a tiny iMixer over the 21 feature tokens of ODDS cardio, trained by
# the Runner on the unlabelled, contaminated 60 % training split (seed 0) and evaluated with ROC-AUC / AP
# on the 40 % test split: the same model the suite's IMixerTabularDetector trains in-process.
#   python tools/prepare_data.py odds_cardio
#   python tools/train.py configs/anomaly/maskrecon_imixer-t_cardio.py
#   python tools/test.py configs/anomaly/maskrecon_imixer-t_cardio.py work_dirs/maskrecon_imixer-t_cardio/iter_800.pth
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adamw_800i.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.anomaly'], allow_failed_imports=False)
dataset = 'cardio'
num_features = 21
model = dict(
    type='MaskedTokenIMixer', num_tokens=num_features, token_dim=1, embed_dim=32, num_blocks=2,
    token_mixer='implicit', mask_ratio=0.25, score_repeats=4)
split = dict(dataset=dataset, seed=0, test_size=0.4, standardize=True)
train_dataloader = dict(
    batch_size=128, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='AnomalySplitDataset', split='train', max_train_samples=10000, **split))
# The test split is only looked at once, after training (no model selection on labels).
val_dataloader = dict(
    batch_size=512, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='AnomalySplitDataset', split='test', **split))
test_dataloader = val_dataloader
val_evaluator = dict(type='AnomalyMetric')
test_evaluator = val_evaluator
# the schedule (800 iterations, AdamW): configs/_base_/schedules/adamw_800i.py
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval={{_base_.max_iters}}, save_best=None),
    logger=dict(type='LoggerHook', interval=100))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='SolverStatsHook'), dict(type='AnomalyCalibrationHook')]
