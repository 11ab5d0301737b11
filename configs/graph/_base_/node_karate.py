# Zachary's karate club (built into PyG; 34 nodes, 4 classes, one-hot features), node mini-batches of
# precomputed hop tokens. A 50/25/25 stratified split per split_seed (saved by SaveSplitHook).
# directed=True keeps edge direction (in- / out-neighbour hop tokens: the HopMixer needs directed=True too).
graph = 'karate'
num_hops = 3
split_seed = 0
split_ratios = (0.5, 0.25, 0.25)
mode = 'minibatch'
batch_size = 16
_data = dict(type='NodeDataset', graph=graph, num_hops=num_hops, split_seed=split_seed,
             split_ratios=split_ratios, directed=False, features='auto',
             structural=dict(spectral_dim=16, degree=True))
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
# accuracy, macro-F1 and cross-entropy over every node of the split (in every mode)
val_evaluator = dict(type='NodeClsMetric')
test_evaluator = val_evaluator
