# Zachary's karate club (built into PyG; 34 nodes, 4 classes, one-hot features), node mini-batches of
# precomputed hop tokens. A 50/25/25 stratified split per split_seed (saved by SaveSplitHook).
graph = 'karate'
num_hops = 3
split_seed = 0
split_ratios = (0.5, 0.25, 0.25)
mode = 'minibatch'
batch_size = 16
_data = dict(type='NodeDataset', graph=graph, num_hops=num_hops, split_seed=split_seed,
             split_ratios=split_ratios)
train_dataloader = dict(
    batch_size=batch_size, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(_data, split='train', mode=mode))
val_dataloader = dict(
    batch_size=1024, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(_data, split='val', mode=mode))
test_dataloader = dict(
    batch_size=1024, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(_data, split='test', mode=mode))
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator
