# The explicit twin of maskrecon_imixer-t_cardio.py: the same model with the plain-MLP token mixer.
_base_ = ['./maskrecon_imixer-t_cardio.py']
model = dict(token_mixer='mlp')
