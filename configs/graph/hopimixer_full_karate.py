# The hop-token iMixer on karate club, full graph: one batch = every training node
# (NodeDataset(mode='full'), batch_size=1), 200 epochs at most with early stopping, best-validation
# checkpoint; the setting configs/benchmarks/graph_nodes.py compares with GCN and GAT.
#   python tools/train.py configs/graph/hopimixer_full_karate.py
_base_ = ['./_base_/full_graph_karate.py', './_base_/hopmixer.py']
mode = 'full'
train_dataloader = dict(dataset=dict(mode=mode))
val_dataloader = dict(dataset=dict(mode=mode))
test_dataloader = dict(dataset=dict(mode=mode))
custom_hooks = [dict(type='SolverStatsHook'), dict(type='SaveSplitHook'), {{_base_.early_stopping}}]
