# EncoderDecoder + UPerHead with the iMixer pyramid (tiny) from scratch; a 64-channel head for small images.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(type='SegDataPreProcessor', mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0],
                         bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=16)  # any size works; 112: none
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    # arch 'tiny' (backbones/pyramid.py; full window matrices: arch='tiny-v2'; the first design: arch='tiny-v1')
    backbone=dict(type='imixer.IMixerPyramid', arch='tiny', token_mixer='implicit',
                  drop_path_rate=0.1, out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_eval=False,
                  init_cfg=None),  # implicit token mixer: the authors' recipe (h_ratio 2, n_iter 2)
    decode_head=dict(type='UPerHead', in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3],
                     pool_scales=(1, 2, 3, 6), channels=64, dropout_ratio=0.1, num_classes=11, norm_cfg=norm_cfg,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
