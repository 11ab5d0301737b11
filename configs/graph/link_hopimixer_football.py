# Link prediction with the hop-token iMixer encoder (K = 3 hops of 17 structural features computed from the
# training edges, 2 Mixer blocks of width 64, the project's default implicit token mixer, 64-d node
# embeddings) and an MLP decoder on z_u * z_v, on college football (115 nodes, 613 edges).
#   python tools/prepare_data.py football
#   python tools/train.py configs/graph/link_hopimixer_football.py
_base_ = ['./_base_/link.py']
model = dict(
    type='LinkPredictor', input='hop_tokens',
    encoder=dict(type='HopMixer', in_channels=17, num_classes=64, num_hops=3, embed_dim=64, num_blocks=2,
                 token_mixer='implicit', readout='mean', dropout=0.0),
    decoder=dict(in_channels=64, kind='hadamard', hidden=64))
