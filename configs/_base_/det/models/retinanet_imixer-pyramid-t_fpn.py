# RetinaNet + FPN with the iMixer pyramid (tiny) from scratch; sized for small images (digits are 10-40 px):
# P3-P7 at strides 8-128, anchors from 16 px (octave_base_scale=2), a 128-channel FPN / head with 2 convs.
model = dict(
    type='RetinaNet',
    # images scaled to [0, 1] (as in the classification pretraining of the backbone); the backbone takes any
    # size (windows are padded and masked inside), batches are padded to a multiple of 16 (112 px: none)
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0],
                           bgr_to_rgb=True, pad_size_divisor=16),
    # arch 'tiny': convolutional stem and downsampling, depthwise conv in the channel MLP, windows (7, 7, 4, 2),
    # local relative-offset token mixing (backbones/pyramid.py); full window matrices: arch='tiny-v2'; the first
    # design: arch='tiny-v1'
    backbone=dict(type='imixer.IMixerPyramid', arch='tiny', token_mixer='implicit', drop_path_rate=0.1,
                  out_indices=(1, 2, 3), frozen_stages=-1, norm_eval=False,
                  init_cfg=None),  # implicit token mixer: the authors' recipe (h_ratio 2, n_iter 2)
    neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=128, start_level=0,
              add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(
        type='RetinaHead', num_classes=10, in_channels=128, stacked_convs=2, feat_channels=128,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=2, scales_per_octave=3,
                              ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        # mmdet's FocalLoss in float32 (mmcv's CUDA kernel has no bfloat16): --amp works on CPU and CUDA
        loss_cls=dict(type='imixer.FP32FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=100))
