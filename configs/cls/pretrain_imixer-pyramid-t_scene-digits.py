# Classification pretraining of the dense backbones, one budget for all: the iMixer pyramid (tiny) exactly as
# configs/det and configs/seg build it, its last feature map average-pooled into a linear head, on single
# scene-style digits (configs/_base_/datasets/scene_digits.py), 600 iterations at batch 32 (AdamW, lr 1e-3).
#     python tools/train.py configs/cls/pretrain_imixer-pyramid-t_scene-digits.py
# The checkpoint initialises detection / segmentation (the *-clspre configs of configs/det and configs/seg;
# the grids configs/benchmarks/dense_{pretrain,det,seg}.py run both). Other designs: model.backbone.arch=tiny-v3
# (LayerNorm), tiny-v2 (LayerNorm, full window matrices), tiny-v1 (the first design). The twin, ResNet-18 and
# Swin: pretrain_mlpmixer-pyramid-t_scene-digits.py, pretrain_r18_scene-digits.py, pretrain_swin-t64_scene-digits.py.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/scene_digits.py', '../_base_/schedules/adamw_600i.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.classification', 'mmdet.models'],
                      allow_failed_imports=False)
# the schedule of the dense configs (adamw_600i: 100 warm-up iterations, cosine), validated at the end
train_cfg = dict(val_interval=600)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=600, save_best=None, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='IMixerPyramid', arch='tiny', token_mixer='implicit', drop_path_rate=0.1, out_indices=(3,)),
    head=dict(in_channels=512, num_classes=10))
