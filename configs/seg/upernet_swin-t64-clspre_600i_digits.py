# UPerNet + mmseg's SwinTransformer (the transformer anchor, embed_dims 64, depths 2, 2, 4, 2) initialised
# from its classification pretraining on scene-style digits (configs/cls/pretrain_swin-t64_scene-digits.py,
# run first; mmdet's and mmseg's Swin share parameter names). Another checkpoint:
#     --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./upernet_imixer-pyramid-t_600i_digits.py']
pretrained = 'work_dirs/pretrain_swin-t64_scene-digits/iter_600.pth'
model = dict(backbone=dict(_delete_=True, type='SwinTransformer', pretrain_img_size=56, embed_dims=64,
                           depths=(2, 2, 4, 2), num_heads=(2, 4, 8, 16), window_size=7, drop_path_rate=0.1,
                           out_indices=(0, 1, 2, 3),
                           init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
