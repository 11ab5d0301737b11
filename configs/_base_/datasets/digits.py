# scikit-learn digits, 8x8, built in (no download).
_base_ = []
dataset_type = 'DigitsDataset'
img_size = 8
train_dataloader = dict(
    batch_size=64, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='train', img_size=img_size))
val_dataloader = dict(
    batch_size=256, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='val', img_size=img_size))
test_dataloader = dict(
    batch_size=256, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='test', img_size=img_size))
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator
