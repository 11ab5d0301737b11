# iMixer (small) on MNIST: 28x28, 4x4 patches -> 49 tokens (python tools/prepare_data.py mnist).
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/mnist.py', '../_base_/schedules/adamw_epochs.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.classification'], allow_failed_imports=False)
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='IMixer', num_classes=10, img_size=28, in_chans=1, patch_size=4,
                  embed_dim=128, num_blocks=4))  # implicit token mixer: the authors' recipe
