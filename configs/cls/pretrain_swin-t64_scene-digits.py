# The transformer anchor's pretraining: mmdet's own SwinTransformer sized near ResNet-18 (embed_dims 64,
# depths 2, 2, 4, 2, 10.7 M parameters without a head), windows of 7, from scratch, same data and budget as
# the pyramid (configs/cls/pretrain_imixer-pyramid-t_scene-digits.py).
_base_ = ['./pretrain_imixer-pyramid-t_scene-digits.py']
model = dict(backbone=dict(_delete_=True, type='mmdet.SwinTransformer', pretrain_img_size=56, embed_dims=64,
                           depths=(2, 2, 4, 2), num_heads=(2, 4, 8, 16), window_size=7, drop_path_rate=0.1,
                           out_indices=(3,)))
