# Classification pretraining of the iMixer pyramid (tiny) on scikit-learn digits upsampled to 32x32
# (grey, 1 channel), with the classification runner of configs/cls:
#     python tools/train.py configs/det/pretrain_imixer-pyramid-t_digits-cls.py
# The checkpoint loads into detection / segmentation with prefix='backbone.' (the 1-channel stem is adapted
# to 3 channels); see retinanet_imixer-pyramid-t-clspre_fpn_600i_digits.py.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/digits.py', '../_base_/schedules/adamw_epochs.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.classification'], allow_failed_imports=False)
img_size = 32
train_dataloader = dict(dataset=dict(img_size=img_size))
val_dataloader = dict(dataset=dict(img_size=img_size))
test_dataloader = dict(dataset=dict(img_size=img_size))
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='IMixerPyramid', arch='tiny', in_channels=1, num_classes=10, drop_path_rate=0.1))
