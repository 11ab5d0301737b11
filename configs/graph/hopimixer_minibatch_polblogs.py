# The hop-token iMixer on polblogs (largest connected component, 1,222 nodes, 2 classes; the usual
# protocol), 10/10/80 stratified split, structural features (16 Laplacian eigenvectors + log-degree).
#   python tools/prepare_data.py polblogs
#   python tools/train.py configs/graph/hopimixer_minibatch_polblogs.py
_base_ = ['./hopimixer_minibatch_karate.py']
_data = dict(graph='polblogs', largest_component=True, features='structural',
             structural=dict(spectral_dim=16, degree=True), split_ratios=(0.1, 0.1, 0.8))
train_dataloader = dict(batch_size=64, dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
model = dict(model=dict(in_channels=17, num_classes=2))
