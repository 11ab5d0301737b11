# The iMixer graph classifier on pooled hop tokens (K = 3 hops of a 64-wide node encoder, mean / max / sum
# readout per hop, 2 Mixer blocks of width 64 over the 4 hop tokens, the project's default implicit token
# mixer) on Huuskonen's aqueous-solubility classes (1,282 molecules, 3 classes, RDKit atom features), fold 0
# of 10. Protocol: configs/graph/_base_/graphcls.py.
#   python tools/prepare_data.py solubility
#   python tools/train.py configs/graph/graphcls_hopimixer_solubility.py
_base_ = ['./_base_/graphcls.py']
model = dict(
    type='GraphClassifier',
    model=dict(type='GraphHopMixer', in_channels=35, num_classes=3, num_hops=3, node_dim=64,
               pools=('mean', 'max', 'sum'), embed_dim=64, num_blocks=2, token_mixer='implicit', dropout=0.5))
