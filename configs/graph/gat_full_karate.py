# GAT (PyG GATConv, two layers, 8 heads x 8, dropout 0.6, lr 5e-3: PyG's citation-benchmark setting) on
# karate club, full graph per step, as gcn_full_karate.py:
#   python tools/train.py configs/graph/gat_full_karate.py
_base_ = ['./gcn_full_karate.py']
model = dict(model=dict(_delete_=True, type='GAT', in_channels=34, num_classes=4, hidden=8, heads=8, dropout=0.6))
optim_wrapper = dict(optimizer=dict(lr=5e-3))
