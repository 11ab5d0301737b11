# The explicit twin of link_hopimixer_polblogs.py: the plain MLP token mixer, nothing else changed.
_base_ = ['./link_hopimixer_polblogs.py']
model = dict(encoder=dict(token_mixer='mlp'))
