# UPerNet (mmseg EncoderDecoder + UPerHead) with the iMixer pyramid (tiny) on the digit-scene masks.
#     python tools/train.py configs/seg/upernet_imixer-pyramid-t_600i_digits.py     (prints mIoU)
_base_ = ['../_base_/seg/models/upernet_imixer-pyramid-t.py', '../_base_/seg/datasets/digit_scenes.py',
          '../_base_/schedules/adamw_600i.py', '../_base_/seg/default_runtime.py']
# Digit strokes are ~5 % of the pixels: without class weights every backbone trains to "background
# everywhere". ClassBalanceHook sets the loss's class_weight from the training maps' pixel shares (ENet rule).
custom_hooks = [dict(type='imixer.SolverStatsHook'), dict(type='imixer.ClassBalanceHook', rule='enet')]
