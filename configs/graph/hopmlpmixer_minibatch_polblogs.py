# The explicit twin (plain-MLP token mixer) of hopimixer_minibatch_polblogs.py.
_base_ = ['./hopimixer_minibatch_polblogs.py']
model = dict(model=dict(token_mixer='mlp'))
