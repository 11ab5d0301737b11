# The explicit twin of mlm_imixer_gcide.py: the same masked LM with the plain token-mixing MLP.
_base_ = ['./mlm_imixer_gcide.py']
model = dict(hf_config=dict(token_mixer='mlp'))
