# GCN encoder (two GCNConv layers 128 -> 64, as PyG's examples/link_pred.py) with the same decoder, features,
# splits and schedule as link_hopimixer_football.py.
_base_ = ['./_base_/link.py']
_data = dict(input='graph')
train_dataloader = dict(dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
model = dict(type='LinkPredictor', input='graph',
             encoder=dict(type='GCN', in_channels=17, num_classes=64, hidden=128, dropout=0.0),
             decoder=dict(in_channels=64, kind='hadamard', hidden=64))
