# The explicit twin (plain-MLP token mixer) of hopimixer_minibatch_polblogs.py.
_base_ = ['./hopimixer_minibatch_polblogs.py']
model = dict(model=dict(_delete_=True, type='HopMixer', in_channels=17, num_classes=2, num_hops=3, embed_dim=64,
                        num_blocks=2, token_mixer='mlp', readout='mean', dropout=0.5))
