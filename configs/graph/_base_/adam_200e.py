# Adam as in GCN / PyG's citation benchmark, constant learning rate, 200 epochs, validation every epoch.
max_epochs = 200
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-3, weight_decay=5e-4))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
