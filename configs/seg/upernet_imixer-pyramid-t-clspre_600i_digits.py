# UPerNet + iMixer-pyramid-T initialised from the classification pretraining on scene-style digits
# (configs/cls/pretrain_imixer-pyramid-t_scene-digits.py, run first). Another checkpoint (e.g. the twin's,
# with model.backbone.token_mixer=mlp): --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./upernet_imixer-pyramid-t_600i_digits.py']
pretrained = 'work_dirs/pretrain_imixer-pyramid-t_scene-digits/iter_600.pth'
model = dict(backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
