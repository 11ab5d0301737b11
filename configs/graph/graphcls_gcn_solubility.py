# GCN with global mean pooling as in PyG benchmark/kernel (3 GCNConv layers of width 64), same folds and
# schedule as graphcls_hopimixer_solubility.py.
_base_ = ['./_base_/graphcls.py']
model = dict(type='GraphClassifier',
             model=dict(type='GCNPool', in_channels=35, num_classes=3, num_layers=3, hidden=64, dropout=0.5))
