# The explicit twin of graphcls_hopimixer_solubility.py: the plain MLP token mixer, nothing else changed.
_base_ = ['./graphcls_hopimixer_solubility.py']
model = dict(model=dict(token_mixer='mlp'))
