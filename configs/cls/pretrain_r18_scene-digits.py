# ResNet-18's pretraining (the ResNet of configs/det and configs/seg: mmdet / mmseg ResNet, depth 18, plain
# stem; the two share their parameter names), same data and budget as the pyramids.
_base_ = ['./pretrain_imixer-pyramid-t_scene-digits.py']
model = dict(backbone=dict(_delete_=True, type='mmdet.ResNet', depth=18, num_stages=4, out_indices=(3,),
                           frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                           style='pytorch'))
