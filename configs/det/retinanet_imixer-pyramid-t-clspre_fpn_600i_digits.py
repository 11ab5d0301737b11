# RetinaNet + iMixer-pyramid-T initialised from the classification pretraining
# (configs/det/pretrain_imixer-pyramid-t_digits-cls.py). Another checkpoint:
#     --cfg-options model.backbone.init_cfg.checkpoint=PATH
# The log lists the missing / unexpected keys (the classifier's head and head_norm are unexpected).
_base_ = ['./retinanet_imixer-pyramid-t_fpn_600i_digits.py']
pretrained = 'work_dirs/pretrain_imixer-pyramid-t_digits-cls/epoch_10.pth'
model = dict(backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
