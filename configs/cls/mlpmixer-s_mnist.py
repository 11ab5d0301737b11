# The explicit twin of imixer-s_mnist.py: the same Mixer with the plain token-mixing MLP.
_base_ = ['./imixer-s_mnist.py']
model = dict(backbone=dict(token_mixer='mlp'))
