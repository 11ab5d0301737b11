# Baseline: UPerNet with mmseg's ResNet-18 (plain stem, as mmdet's ResNet-18 of configs/det, so one
# classification pretraining, configs/cls/pretrain_r18_scene-digits.py, serves both), same data, head and schedule.
_base_ = ['./upernet_imixer-pyramid-t_600i_digits.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(backbone=dict(_delete_=True, type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                           dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2), norm_cfg=norm_cfg, norm_eval=False,
                           style='pytorch', init_cfg=None))
