# The explicit twin's pretraining: the same pyramid with the plain token-mixing MLP, same data and budget.
_base_ = ['./pretrain_imixer-pyramid-t_scene-digits.py']
model = dict(backbone=dict(token_mixer='mlp'))
