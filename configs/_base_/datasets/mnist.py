# MNIST 28x28 (python tools/prepare_data.py mnist).
dataset_type = 'MNISTDataset'
img_size = 28
train_dataloader = dict(
    batch_size=128, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='train'))
val_dataloader = dict(
    batch_size=512, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='val'))
test_dataloader = dict(
    batch_size=512, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='test'))
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator
