# graphcls_gin_solubility.py on B3DB (blood-brain-barrier permeability, 7,805 molecules, BBB+ / BBB-).
#   python tools/prepare_data.py b3db
_base_ = ['./graphcls_gin_solubility.py']
_data = dict(graphs='b3db')
train_dataloader = dict(dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
model = dict(model=dict(num_classes=2))
