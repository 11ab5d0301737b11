# The explicit twin (plain-MLP token mixer) of hopimixer_full_karate.py.
_base_ = ['./hopimixer_full_karate.py']
model = dict(model=dict(token_mixer='mlp'))
