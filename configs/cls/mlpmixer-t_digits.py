# The explicit twin of imixer-t_digits.py: the same Mixer with the plain token-mixing MLP.
_base_ = ['./imixer-t_digits.py']
model = dict(backbone=dict(token_mixer='mlp'))
