# Adamic-Adar (no parameters, nothing to train) on the same splits as link_hopimixer_football.py: evaluated by
# configs/benchmarks/graph_links.py with the Runner's test loop.
_base_ = ['./_base_/link.py']
_data = dict(input='edges')
train_dataloader = dict(dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
model = dict(type='LinkPredictor', input='edges', encoder=dict(type='AdamicAdar'))
