# The explicit twin of imixer-t_digits.py: the same Mixer with the plain token-mixing MLP.
_base_ = ['./imixer-t_digits.py']
model = dict(backbone=dict(_delete_=True, type='MLPMixer', num_classes=10, img_size=8, in_chans=1, patch_size=2,
                           embed_dim=64, num_blocks=4))
