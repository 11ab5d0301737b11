# GCN (PyG GCNConv, two layers, 64 hidden, dropout 0.5, lr 1e-2: PyG's citation-benchmark setting) on
# karate club, full graph per step (NodeDataset(mode='graph')), same split, schedule, early stopping
# and checkpointing as hopimixer_full_karate.py:
#   python tools/train.py configs/graph/gcn_full_karate.py
_base_ = ['./_base_/full_graph_karate.py']
mode = 'graph'
train_dataloader = dict(dataset=dict(mode=mode))
val_dataloader = dict(dataset=dict(mode=mode))
test_dataloader = dict(dataset=dict(mode=mode))
model = dict(type='GraphNodeClassifier',
             model=dict(type='GCN', in_channels=34, num_classes=4, hidden=64, dropout=0.5))
optim_wrapper = dict(optimizer=dict(lr=1e-2))
