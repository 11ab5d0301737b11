# The hop-token iMixer on college football 2000 (115 nodes, 12 conferences), 30/20/50 stratified split,
# structural features (16 Laplacian eigenvectors + log-degree).
#   python tools/prepare_data.py football
#   python tools/train.py configs/graph/hopimixer_minibatch_football.py
_base_ = ['./hopimixer_minibatch_karate.py']
_data = dict(graph='football', features='structural', structural=dict(spectral_dim=16, degree=True),
             split_ratios=(0.3, 0.2, 0.5))
train_dataloader = dict(batch_size=16, dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
model = dict(model=dict(in_channels=17, num_classes=12))
