# The explicit twin of imixer-s_mnist.py.
_base_ = ['./imixer-s_mnist.py']
model = dict(backbone=dict(_delete_=True, type='MLPMixer', num_classes=10, img_size=28, in_chans=1, patch_size=4,
                           embed_dim=128, num_blocks=4))
