# Baseline: UPerNet with mmseg's ResNetV1c-18 (from scratch), same data, head and schedule.
_base_ = ['./upernet_imixer-pyramid-t_600i_digits.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(backbone=dict(_delete_=True, type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                           dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2), norm_cfg=norm_cfg, norm_eval=False,
                           style='pytorch', contract_dilation=True, init_cfg=None))
