# The explicit twin of link_hopimixer_football.py: the plain MLP token mixer, nothing else changed.
_base_ = ['./link_hopimixer_football.py']
model = dict(encoder=dict(token_mixer='mlp'))
