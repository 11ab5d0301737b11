# link_adamicadar_football.py on polblogs, directed (largest weakly connected component, 1,222 nodes; a -> b and
# b -> a are different links; directed hop tokens, in- / out-degree features, asymmetric decoder).
#   python tools/prepare_data.py polblogs
_base_ = ['./link_adamicadar_football.py']
_data = dict(graph='polblogs', directed=True, largest_component=True)
train_dataloader = dict(dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
