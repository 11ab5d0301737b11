# The explicit twin: the same pyramid with the plain token-mixing MLP.
_base_ = ['./retinanet_imixer-pyramid-t_fpn_600i_digits.py']
model = dict(backbone=dict(token_mixer='mlp'))
