# iMixer (small) on MNIST: 28x28, 4x4 patches -> 49 tokens (python tools/prepare_data.py mnist).
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/mnist.py', '../_base_/schedules/adamw_10e.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.classification'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='IMixer', num_classes=10, img_size=28, in_chans=1, patch_size=4,
                  embed_dim=128, num_blocks=4))  # implicit token mixer: the authors' recipe
