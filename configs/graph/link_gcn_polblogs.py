# link_gcn_football.py on polblogs, directed (largest weakly connected component, 1,222 nodes; a -> b and
# b -> a are different links; directed hop tokens, in- / out-degree features, asymmetric decoder).
#   python tools/prepare_data.py polblogs
_base_ = ['./link_gcn_football.py']
_data = dict(graph='polblogs', directed=True, largest_component=True)
train_dataloader = dict(dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
model = dict(encoder=dict(in_channels=18), decoder=dict(kind='concat'))
