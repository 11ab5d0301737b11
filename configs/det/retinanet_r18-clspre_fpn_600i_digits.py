# RetinaNet + ResNet-18 initialised from its classification pretraining on scene-style digits
# (configs/cls/pretrain_r18_scene-digits.py, run first); the baseline of the -clspre iMixer config.
# Another checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./retinanet_r18_fpn_600i_digits.py']
pretrained = 'work_dirs/pretrain_r18_scene-digits/iter_600.pth'
model = dict(backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
