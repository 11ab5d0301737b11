# Digit-scene masks (mmseg img_dir/ann_dir layout): 11 classes, background + the digits 0-9, 112x112 images,
# 1,000 train / 200 val, generated from scikit-learn's load_digits on first use (data/digit_scenes).
# No flips: a mirrored digit is not the same digit.
dataset_type = 'imixer.DigitScenesSegDataset'
data_root = None
source = 'digits'
img_scale = (112, 112)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, source=source, data_root=data_root,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, source=source, data_root=data_root,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
# mIoU (mmseg) and, because the digit strokes are ~5 % of the pixels, the binary foreground IoU and the
# digit accuracy on stroke pixels (imixer.ForegroundIoUMetric: where the digits are vs. which digit)
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='imixer.ForegroundIoUMetric')]
test_evaluator = val_evaluator
