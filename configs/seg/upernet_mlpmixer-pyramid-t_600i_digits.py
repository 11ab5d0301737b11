# The explicit twin: the same pyramid with the plain token-mixing MLP.
_base_ = ['./upernet_imixer-pyramid-t_600i_digits.py']
model = dict(backbone=dict(token_mixer='mlp'))
