# RetinaNet + FPN + iMixer-pyramid-T (implicit token mixer) on the built-in digit scenes, 600 iterations.
_base_ = ['../_base_/det/models/retinanet_imixer-pyramid-t_fpn.py', '../_base_/det/datasets/digit_scenes.py',
          '../_base_/schedules/adamw_600i.py', '../_base_/det/default_runtime.py']
