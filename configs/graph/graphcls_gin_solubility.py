# GIN-0 as in PyG benchmark/kernel (3 GINConv layers of width 64, global mean pooling, Linear-ReLU-Dropout
# 0.5-Linear), same folds and schedule as graphcls_hopimixer_solubility.py. The kernel benchmark searches
# layers 1..5 and width 16..128; here one setting (3 x 64) is used for every model, to keep the runs cheap.
_base_ = ['./_base_/graphcls.py']
model = dict(type='GraphClassifier',
             model=dict(type='GIN', in_channels=35, num_classes=3, num_layers=3, hidden=64, dropout=0.5))
