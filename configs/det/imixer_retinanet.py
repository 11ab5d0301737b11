# The entry point: RetinaNet + FPN with the iMixer pyramid on the built-in digit scenes.
#     python tools/train.py configs/det/imixer_retinanet.py
# generates the scenes on first use (data/digit_scenes), trains 600 iterations, prints COCO bbox mAP.
# Your own COCO data: see docs/detection.md (override data_root, ann_file, metainfo.classes, num_classes).
_base_ = ['./retinanet_imixer-pyramid-t_fpn_600i_digits.py']
