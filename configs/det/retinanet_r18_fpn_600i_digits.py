# Baseline: RetinaNet + FPN + mmdet's ResNet-18 (from scratch, BatchNorm trained), same data and schedule.
_base_ = ['./retinanet_imixer-pyramid-t_fpn_600i_digits.py']
model = dict(backbone=dict(_delete_=True, type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3),
                           frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                           style='pytorch', init_cfg=None))
