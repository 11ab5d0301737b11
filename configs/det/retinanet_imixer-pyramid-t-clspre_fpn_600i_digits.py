# RetinaNet + iMixer-pyramid-T initialised from the classification pretraining on scene-style digits
# (configs/cls/pretrain_imixer-pyramid-t_scene-digits.py, run first). Another checkpoint:
#     --cfg-options model.backbone.init_cfg.checkpoint=PATH
# The log lists the keys the checkpoint lacks (the LayerNorms of the outputs the classifier did not use).
_base_ = ['./retinanet_imixer-pyramid-t_fpn_600i_digits.py']
pretrained = 'work_dirs/pretrain_imixer-pyramid-t_scene-digits/iter_600.pth'
model = dict(backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
