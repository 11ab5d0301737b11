# The explicit twin: the same pyramid with the plain token-mixing MLP (token_mixer='mlp').
_base_ = ['./upernet_imixer-pyramid-t_600i_digits.py']
model = dict(backbone=dict(_delete_=True, type='imixer.IMixerPyramid', arch='tiny', token_mixer='mlp', window_size=7,
                           drop_path_rate=0.1, out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_eval=False,
                           init_cfg=None))
