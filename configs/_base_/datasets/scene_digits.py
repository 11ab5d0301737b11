# Single digits drawn like the digit scenes (random scale 14-36 px, colour and noisy canvas), RGB 56x56,
# 5,000 train / 1,000 val, generated on first use: the classification pretraining data of the dense
# backbones. Train images paste only the source digits of the training scenes.
_base_ = []
dataset_type = 'SceneDigitsDataset'
scene_digits = dict(type=dataset_type, source='digits', num_train=5000, num_val=1000, img_size=56)
train_dataloader = dict(
    batch_size=32, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**scene_digits, split='train'))
val_dataloader = dict(
    batch_size=128, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**scene_digits, split='val'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator
