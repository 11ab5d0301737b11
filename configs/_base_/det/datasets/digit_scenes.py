# Digit scenes (COCO format) generated from scikit-learn's load_digits on first use: 1,000 train / 200 val
# images of 112x112 with 2-5 digits each. data_root=None -> $IMIXER_DATA/digit_scenes or data/digit_scenes.
# No flips: a mirrored digit is not the same digit.
dataset_type = 'imixer.DigitScenesDataset'
data_root = None
source = 'digits'
img_scale = (112, 112)
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    # 'instances' lets CocoMetric build the ground truth itself (no ann_file path needed in the metric)
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'instances')),
]
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, source=source, data_root=data_root,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='img_dir/train/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=train_pipeline,
                 backend_args=backend_args))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, source=source, data_root=data_root,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='img_dir/val/'),
                 test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader
# mmdet's CocoMetric; ann_file=None builds the COCO ground truth from the dataset (set ann_file=... to use a file)
val_evaluator = dict(type='CocoMetric', ann_file=None, metric='bbox', format_only=False, backend_args=backend_args)
test_evaluator = val_evaluator
