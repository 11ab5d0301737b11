# The hop-token iMixer node classifier (K = 3 hops, 64 wide, 2 blocks, mean readout). The token mixer
# is the project's default, 'implicit' with the authors' recipe (h_ratio 2, n_iter 2, coeff 0.9); the
# explicit twin changes only token_mixer='mlp'.
model = dict(
    type='NodeClassifier',
    model=dict(type='HopMixer', in_channels=34, num_classes=4, num_hops=3, embed_dim=64, num_blocks=2,
               token_mixer='implicit', readout='mean', dropout=0.5, directed=False))
