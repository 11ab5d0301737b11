# Full-graph mode: one batch = every training node (NodeDataset(mode='full'), batch_size=1).
_base_ = ['./hopimixer_minibatch_karate.py']
mode = 'full'
train_dataloader = dict(batch_size=1, dataset=dict(mode=mode))
val_dataloader = dict(batch_size=1, dataset=dict(mode=mode))
test_dataloader = dict(batch_size=1, dataset=dict(mode=mode))
