# iMixer (tiny) on scikit-learn digits: 8x8 images, 2x2 patches -> 16 tokens. Built in, trains in ~1 min on CPU.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/digits.py', '../_base_/schedules/adamw_epochs.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.classification'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='IMixer', num_classes=10, img_size=8, in_chans=1, patch_size=2,
                  embed_dim=64, num_blocks=4))  # implicit token mixer: the authors' recipe
